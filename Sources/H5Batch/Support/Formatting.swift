import Foundation

/// `1.5 GiB`, `12.0 MiB`, `512 B`.
public func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
}

/// `1,048,576`.
public func formatCount(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return value < 0 ? "-" + out : out
}

/// `50%`, `99.9%`: whole percents, one decimal below 100 so an unfinished run never shows 100%.
func percent(_ part: Int, of whole: Int) -> String {
    guard whole > 0 else { return "100%" }
    let value = Double(part) * 100 / Double(whole)
    if part < whole && value >= 99.5 { return String(format: "%.1f%%", min(value, 99.9)) }
    return "\(Int(value.rounded()))%"
}
