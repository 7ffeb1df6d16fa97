import Foundation

/// Inline SVG charts for the bench report page: figures against batch rows on a log₂ axis, and
/// stacked bars of where the time went.
enum BenchChart {
    /// Width of every chart's viewBox; the page scales it to the column width.
    static let width = 960.0
    static let fontSize = 12.0

    /// One measured point: `x` in batch rows, `y` in the chart's unit, with an optional min–max range.
    struct Point {
        var x: Int
        var y: Double
        var low: Double?
        var high: Double?
        var tooltip: String
    }

    /// A polyline with markers, e.g. one worker count in mini-batch mode.
    struct Series {
        var label: String
        var color: String
        var marker: Int
        var points: [Point]
    }

    /// A horizontal dashed line, e.g. one full-dataset figure, with an optional min–max band.
    struct Reference {
        var label: String
        var value: Double
        var low: Double?
        var high: Double?
        var color: String
    }

    /// One stacked bar: phases as (name, seconds, share of the bar).
    struct PhaseBar {
        var label: String
        var phases: [(name: String, seconds: Double, share: Double)]
        var trailing: String
    }

    /// Colours that stay apart for colour-blind readers (Okabe–Ito, without the yellow).
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#333333", "#8C564B"]

    static func phaseColor(_ name: String) -> String {
        switch name {
        case "read": return "#0072B2"
        case "decode": return "#56B4E9"
        case "compute": return "#E69F00"
        case "encode": return "#CC79A7"
        case "write": return "#009E73"
        case "waiting": return "#BDBDBD"
        default:
            let others = ["#8C564B", "#7F7F7F", "#BCBD22", "#17BECF"]
            return others[Int(name.unicodeScalars.reduce(0) { $0 &+ $1.value } % UInt32(others.count))]
        }
    }

    // MARK: Line chart

    /// A chart of `series` (and `references` as dashed lines labelled in the right margin) against
    /// batch rows on a log₂ axis, with a linear y axis from 0. `emptyNote` replaces the series when
    /// there are none.
    static func lineChart(title: String, yTitle: String, xTitle: String, series: [Series],
                          references: [Reference], referenceLegend: String, emptyNote: String) -> String {
        let series = series.map { s in
            var s = s
            s.points = s.points.filter { $0.y.isFinite && $0.x > 0 }.sorted { $0.x < $1.x }
            return s
        }.filter { !$0.points.isEmpty }
        let references = references.filter { $0.value.isFinite }

        // Y scale: linear from 0 to a nice value above everything drawn.
        var yValues: [Double] = []
        for reference in references { yValues += [reference.value, reference.high ?? 0] }
        for s in series { for p in s.points { yValues += [p.y, p.high ?? 0] } }
        let yScale = NiceScale(maxValue: yValues.filter(\.isFinite).max() ?? 0)
        let yLabels = yScale.ticks.map { ReportFormat.number($0, digits: yScale.decimals) }

        // Margins: room for the y tick labels on the left and the reference labels on the right.
        let left = max(64, 30 + (yLabels.map { textWidth($0) }.max() ?? 0) + 12)
        let maxReferenceLabel = 300.0
        let referenceWidths = references.map { min(textWidth($0.label), maxReferenceLabel) }
        let right = references.isEmpty ? 28 : max(28, (referenceWidths.max() ?? 0) + 24)
        let plotWidth = width - left - right

        var legend = series.map { LegendItem(label: $0.label, color: $0.color, marker: $0.marker, dashed: false) }
        if !references.isEmpty {
            legend.append(LegendItem(label: referenceLegend, color: "#555555", marker: nil, dashed: true))
        }
        let (legendSVG, legendHeight) = legendRows(legend, left: left, maxRight: width - 12, top: 8)
        let top = 8 + legendHeight + 14
        let plotHeight = 300.0
        let bottom = top + plotHeight
        let height = bottom + 56

        var svg = SVGText(title: title, height: height)
        svg += legendSVG

        func y(_ value: Double) -> Double { bottom - min(max(value, 0), yScale.top) / yScale.top * plotHeight }

        // Y gridlines and tick labels.
        for (value, label) in zip(yScale.ticks, yLabels) {
            let py = y(value)
            svg += element("line", ["x1": left, "x2": left + plotWidth, "y1": py, "y2": py, "stroke": "#e4e4e4"])
            svg += element("text", ["x": left - 8, "y": py, "dy": "0.35em", "text-anchor": "end", "fill": "#333"], label)
        }
        svg += element("text", ["transform": "translate(16 \(f(top + plotHeight / 2))) rotate(-90)",
                                 "text-anchor": "middle", "font-size": 13, "fill": "#222"], yTitle)

        // X scale: log₂ of batch rows, half an octave of padding each side.
        let xs = series.flatMap { $0.points.map { log2(Double($0.x)) } }
        let xLow = (xs.min() ?? 0) - 0.5, xHigh = (xs.max() ?? 0) + 0.5
        func x(_ rows: Int) -> Double { left + (log2(Double(rows)) - xLow) / (xHigh - xLow) * plotWidth }

        if !xs.isEmpty {
            let exponents = Array(max(0, Int(xLow.rounded(.up)))...max(0, Int(xHigh.rounded(.down)))).filter { $0 < 62 }
            let perOctave = plotWidth / (xHigh - xLow)
            let widest = exponents.map { textWidth(String(1 << $0)) }.max() ?? 0
            var every = 1
            while Double(every) * perOctave < widest + 14 { every += 1 }
            var labelled = exponents.filter { $0 % every == 0 }
            if labelled.isEmpty { labelled = exponents }
            for exponent in exponents {
                let px = x(1 << exponent)
                let major = labelled.contains(exponent)
                svg += element("line", ["x1": px, "x2": px, "y1": top, "y2": bottom, "stroke": major ? "#e4e4e4" : "#f2f2f2"])
                if major {
                    svg += element("line", ["x1": px, "x2": px, "y1": bottom, "y2": bottom + 5, "stroke": "#555"])
                    svg += element("text", ["x": px, "y": bottom + 19, "text-anchor": "middle", "fill": "#333"],
                                   String(1 << exponent))
                }
            }
        }
        svg += element("text", ["x": left + plotWidth / 2, "y": bottom + 44, "text-anchor": "middle", "font-size": 13,
                                "fill": "#222"], xTitle)

        // References: min–max band, dashed line, and a label in the right margin.
        let labelYs = spread(references.map { y($0.value) }, gap: fontSize + 3, low: top, high: bottom)
        for (index, reference) in references.enumerated() {
            let py = y(reference.value)
            svg += "<g>" + element("title", [:], reference.label)
            if let low = reference.low, let high = reference.high, y(low) - y(high) > 1 {
                svg += element("rect", ["x": left, "y": y(high), "width": plotWidth, "height": y(low) - y(high),
                                        "fill": reference.color, "fill-opacity": 0.1])
            }
            svg += element("line", ["x1": left, "x2": left + plotWidth, "y1": py, "y2": py, "stroke": reference.color,
                                    "stroke-width": 2, "stroke-dasharray": "7 5"])
            let ly = labelYs[index]
            if abs(ly - py) > 1 {
                svg += element("polyline", ["points": "\(f(left + plotWidth)),\(f(py)) \(f(left + plotWidth + 8)),\(f(ly))",
                                            "fill": "none", "stroke": reference.color])
            }
            svg += element("text", ["x": left + plotWidth + 10, "y": ly, "dy": "0.35em", "fill": readableOnWhite(reference.color),
                                    "font-weight": 600], truncate(reference.label, toWidth: maxReferenceLabel))
            svg += "</g>"
        }

        // Series: dodge each a few pixels sideways so equal batch sizes do not hide each other's bars.
        for (index, s) in series.enumerated() {
            let dodge = (Double(index) - Double(series.count - 1) / 2) * 4
            let coordinates = s.points.map { (x: x($0.x) + dodge, y: y($0.y)) }
            if coordinates.count > 1 {
                let points = coordinates.map { "\(f($0.x)),\(f($0.y))" }.joined(separator: " ")
                svg += element("polyline", ["points": points, "fill": "none", "stroke": s.color, "stroke-width": 2.2,
                                            "stroke-linejoin": "round"])
            }
            for (point, c) in zip(s.points, coordinates) {
                svg += "<g>" + element("title", [:], point.tooltip)
                if let low = point.low, let high = point.high, y(low) - y(high) > 2 {
                    let (y1, y2) = (y(high), y(low))
                    let path = "M\(f(c.x - 4)) \(f(y1))h8M\(f(c.x)) \(f(y1))V\(f(y2))M\(f(c.x - 4)) \(f(y2))h8"
                    svg += element("path", ["d": path, "stroke": s.color, "stroke-width": 1.4, "fill": "none"])
                }
                svg += marker(s.marker, x: c.x, y: c.y, color: s.color)
                svg += "</g>"
            }
        }

        if series.isEmpty {
            svg += element("text", ["x": left + plotWidth / 2, "y": top + plotHeight / 2, "text-anchor": "middle",
                                    "fill": "#666", "font-size": 13],
                           references.isEmpty ? "No measurements." : emptyNote)
        }

        // Axes last, so they sit on top of bands and gridlines.
        svg += element("path", ["d": "M\(f(left)) \(f(top))V\(f(bottom))H\(f(left + plotWidth))", "fill": "none",
                                "stroke": "#555"])
        return svg.close()
    }

    // MARK: Phase bars

    /// One stacked horizontal bar per entry of `bars`, each 100% wide, with a legend of the phases
    /// and `trailingTitle` over the text right of the bars.
    static func phaseChart(title: String, bars: [PhaseBar], trailingTitle: String, xTitle: String) -> String {
        var names: [String] = []
        for bar in bars { for phase in bar.phases where !names.contains(phase.name) { names.append(phase.name) } }
        let order = BenchReport.phaseNames + names.filter { !BenchReport.phaseNames.contains($0) }.sorted()
        names = order.filter(names.contains)

        let left = min(360, max(120, (bars.map { textWidth($0.label) }.max() ?? 0) + 16))
        let right = max(84, max(textWidth(trailingTitle), bars.map { textWidth($0.trailing) }.max() ?? 0) + 20)
        let plotWidth = width - left - right
        let legendItems = names.map { LegendItem(label: $0, color: phaseColor($0), marker: nil, dashed: false, swatch: true) }
        let (legendSVG, legendHeight) = legendRows(legendItems, left: left, maxRight: width - 12, top: 8)
        let top = 8 + legendHeight + 24
        let rowHeight = 26.0, barHeight = 18.0
        let bottom = top + Double(max(bars.count, 1)) * rowHeight
        let height = bottom + 52

        var svg = SVGText(title: title, height: height)
        svg += legendSVG
        svg += element("text", ["x": width - right + 10, "y": top - 8, "fill": "#555"], trailingTitle)

        for tick in stride(from: 0, through: 100, by: 25) {
            let px = left + Double(tick) / 100 * plotWidth
            svg += element("line", ["x1": px, "x2": px, "y1": top, "y2": bottom + 5, "stroke": tick == 0 ? "#555" : "#e4e4e4"])
            svg += element("text", ["x": px, "y": bottom + 19, "text-anchor": "middle", "fill": "#333"], "\(tick)%")
        }
        svg += element("text", ["x": left + plotWidth / 2, "y": bottom + 44, "text-anchor": "middle", "font-size": 13,
                                "fill": "#222"], xTitle)

        for (row, bar) in bars.enumerated() {
            let barTop = top + Double(row) * rowHeight + (rowHeight - barHeight) / 2
            let middle = barTop + barHeight / 2
            svg += element("text", ["x": left - 10, "y": middle, "dy": "0.35em", "text-anchor": "end", "fill": "#222"],
                           truncate(bar.label, toWidth: left - 16))
            svg += element("text", ["x": width - right + 10, "y": middle, "dy": "0.35em", "fill": "#333"], bar.trailing)
            if bar.phases.isEmpty {
                svg += element("rect", ["x": left, "y": barTop, "width": plotWidth, "height": barHeight, "fill": "#fafafa",
                                        "stroke": "#ccc", "stroke-dasharray": "3 3"])
                svg += element("text", ["x": left + 8, "y": middle, "dy": "0.35em", "fill": "#666"], "no phase times")
                continue
            }
            var offset = left
            for phase in bar.phases {
                let segment = phase.share * plotWidth
                let percent = "\(Int((phase.share * 100).rounded()))%"
                let color = phaseColor(phase.name)
                svg += "<g>" + element("title", [:], "\(bar.label): \(phase.name) \(ReportFormat.seconds(phase.seconds)) s (\(percent))")
                svg += element("rect", ["x": offset, "y": barTop, "width": segment, "height": barHeight, "fill": color])
                if segment >= textWidth(percent, size: 11) + 8 {
                    svg += element("text", ["x": offset + segment / 2, "y": middle, "dy": "0.35em", "text-anchor": "middle",
                                            "font-size": 11, "fill": textColor(on: color)], percent)
                }
                svg += "</g>"
                offset += segment
            }
        }
        return svg.close()
    }

    // MARK: Pieces

    struct LegendItem {
        var label: String
        var color: String
        var marker: Int?
        var dashed: Bool
        var swatch = false
    }

    /// Legend entries laid out left to right, wrapping; returns the SVG and the height it takes.
    static func legendRows(_ items: [LegendItem], left: Double, maxRight: Double, top: Double) -> (String, Double) {
        guard !items.isEmpty else { return ("", 0) }
        let rowHeight = 20.0
        var out = "", x = left, row = 0
        for item in items {
            let label = truncate(item.label, toWidth: maxRight - left - 40)
            let itemWidth = 34 + textWidth(label) + 22
            if x > left, x + itemWidth > maxRight {
                row += 1
                x = left
            }
            let cy = top + Double(row) * rowHeight + rowHeight / 2
            if item.swatch {
                out += element("rect", ["x": x + 8, "y": cy - 6, "width": 18, "height": 12, "fill": item.color])
            } else {
                out += element("line", ["x1": x, "x2": x + 28, "y1": cy, "y2": cy, "stroke": item.color,
                                        "stroke-width": 2.2, "stroke-dasharray": item.dashed ? "7 5" : "none"])
                if let shape = item.marker { out += marker(shape, x: x + 14, y: cy, color: item.color) }
            }
            out += element("text", ["x": x + 34, "y": cy, "dy": "0.35em", "fill": "#222"], label)
            x += itemWidth
        }
        return (out, Double(row + 1) * rowHeight)
    }

    /// A marker of one of five shapes centred on (x, y), outlined in white so overlaps stay visible.
    static func marker(_ shape: Int, x: Double, y: Double, color: String) -> String {
        let style: KeyValuePairs<String, any SVGValue> = ["fill": color, "stroke": "#fff", "stroke-width": 1.5]
        switch shape % 5 {
        case 0:
            return element("circle", ["cx": x, "cy": y, "r": 4.5], extra: style)
        case 1:
            return element("rect", ["x": x - 4, "y": y - 4, "width": 8, "height": 8], extra: style)
        case 2:
            return element("path", ["d": "M\(f(x)) \(f(y - 5.5))L\(f(x + 5)) \(f(y + 3.5))H\(f(x - 5))Z"], extra: style)
        case 3:
            return element("path", ["d": "M\(f(x)) \(f(y - 5.5))L\(f(x + 5)) \(f(y))L\(f(x)) \(f(y + 5.5))L\(f(x - 5)) \(f(y))Z"],
                           extra: style)
        default:
            return element("path", ["d": "M\(f(x)) \(f(y + 5.5))L\(f(x + 5)) \(f(y - 3.5))H\(f(x - 5))Z"], extra: style)
        }
    }

    /// `<name attributes…/>`, or with `text` as its escaped content.
    static func element(_ name: String, _ attributes: KeyValuePairs<String, any SVGValue>, _ text: String? = nil,
                        extra: KeyValuePairs<String, any SVGValue> = [:]) -> String {
        var out = "<" + name
        for (key, value) in attributes { out += " \(key)=\"\(ReportFormat.escape(value.svgText))\"" }
        for (key, value) in extra { out += " \(key)=\"\(ReportFormat.escape(value.svgText))\"" }
        guard let text else { return out + "/>" }
        return out + ">" + ReportFormat.escape(text) + "</\(name)>"
    }

    /// `positions` moved apart to at least `gap` from each other, kept within low…high where they fit.
    static func spread(_ positions: [Double], gap: Double, low: Double, high: Double) -> [Double] {
        let order = positions.indices.sorted { positions[$0] < positions[$1] }
        var placed = order.map { positions[$0] }
        for i in placed.indices {
            placed[i] = max(placed[i], i == 0 ? low : placed[i - 1] + gap)
        }
        for i in placed.indices.reversed() {
            placed[i] = min(placed[i], i == placed.count - 1 ? high : placed[i + 1] - gap)
        }
        var result = positions
        for (rank, index) in order.enumerated() { result[index] = placed[rank] }
        return result
    }

    /// A conservative estimate of the rendered width of `text` in a sans-serif font.
    static func textWidth(_ text: String, size: Double = fontSize) -> Double {
        text.reduce(0) { sum, character in
            let em: Double
            if "il.,:;'|! ()[]".contains(character) {
                em = 0.34
            } else if character.isNumber {
                em = 0.64
            } else if character.isUppercase || "mwMW–—".contains(character) {
                em = 0.8
            } else {
                em = 0.6
            }
            return sum + em * size
        }
    }

    /// `text` cut with an ellipsis to fit `width`.
    static func truncate(_ text: String, toWidth width: Double) -> String {
        guard textWidth(text) > width else { return text }
        var cut = text
        while !cut.isEmpty, textWidth(cut + "…") > width { cut.removeLast() }
        return cut + "…"
    }

    /// Black or white, whichever contrasts more with `hex` (`#RRGGBB`).
    static func textColor(on hex: String) -> String {
        guard let rgb = channels(hex) else { return "#000" }
        return luminance(rgb) > 0.179 ? "#000" : "#fff"
    }

    /// `hex` darkened as far as text in it needs to read on white (contrast 4.5:1, WCAG AA).
    static func readableOnWhite(_ hex: String) -> String {
        guard var rgb = channels(hex) else { return hex }
        while luminance(rgb) > 0.183 { rgb = rgb.map { $0 * 0.92 } }
        return "#" + rgb.map { String(format: "%02X", Int($0.rounded())) }.joined()
    }

    private static func channels(_ hex: String) -> [Double]? {
        guard hex.count == 7, hex.first == "#", let value = Int(hex.dropFirst(), radix: 16) else { return nil }
        return [(value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF].map(Double.init)
    }

    /// WCAG relative luminance of 0–255 sRGB channels.
    private static func luminance(_ rgb: [Double]) -> Double {
        let linear = rgb.map { channel -> Double in
            let c = channel / 255
            return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    }

    /// A coordinate with at most one decimal.
    static func f(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

/// A value of an SVG attribute: text as is, numbers as coordinates.
protocol SVGValue {
    var svgText: String { get }
}

extension String: SVGValue {
    var svgText: String { self }
}

extension Double: SVGValue {
    var svgText: String { BenchChart.f(self) }
}

extension Int: SVGValue {
    var svgText: String { String(self) }
}

/// Tick values from 0 to a "nice" top (steps of 1, 2, 2.5 or 5 × 10ⁿ) covering `maxValue`.
struct NiceScale {
    let ticks: [Double]
    let top: Double
    /// Decimals the tick labels need.
    let decimals: Int

    init(maxValue: Double, targetTicks: Int = 5) {
        let maxValue = maxValue.isFinite && maxValue > 0 ? maxValue : 1
        let raw = maxValue / Double(targetTicks)
        let magnitude = pow(10, log10(raw).rounded(.down))
        let normalized = raw / magnitude
        let tolerance = 1e-9
        let factor = normalized <= 1 + tolerance ? 1 : normalized <= 2 + tolerance ? 2
            : normalized <= 2.5 + tolerance ? 2.5 : normalized <= 5 + tolerance ? 5 : 10
        let step = factor * magnitude
        let count = max(1, Int((maxValue / step - 1e-9).rounded(.up)))
        ticks = (0...count).map { Double($0) * step }
        top = Double(count) * step
        let stepDecimals = max(0, -Int(log10(step).rounded(.down)))
        decimals = stepDecimals + (factor == 2.5 && step < 10 ? 1 : 0)
    }
}

/// An SVG element being assembled.
struct SVGText {
    private var text: String

    init(title: String, height: Double) {
        let size = "0 0 \(BenchChart.f(BenchChart.width)) \(BenchChart.f(height))"
        text = "<svg class=\"chart\" viewBox=\"\(size)\" width=\"\(BenchChart.f(BenchChart.width))\" "
            + "height=\"\(BenchChart.f(height))\" font-size=\"\(BenchChart.f(BenchChart.fontSize))\" role=\"img\" "
            + "aria-label=\"\(ReportFormat.escape(title))\">" + BenchChart.element("title", [:], title)
    }

    /// The finished element.
    func close() -> String { text + "</svg>" }

    static func += (svg: inout SVGText, fragment: String) { svg.text += fragment }
}
