import Foundation

/// The groups of nodes exporters write for one PyTorch layer, recognised by what they compute:
///
/// - GELU, exact: `x · 0.5 · (1 + erf(x / √2))` (Div, Erf, Add, Mul, Mul in any order);
/// - GELU, tanh: `x · 0.5 · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`;
/// - SiLU: `x · sigmoid(x)`;
/// - Softplus with PyTorch's threshold: `where(x > t, x, softplus(x))`;
/// - LayerNorm at opset 13: `(x − mean(x)) / sqrt(mean((x − mean(x))²) + eps) · w + b`.
///
/// Each candidate end value after the chain's current value is written as an expression tree
/// over that value and constants (products and sums flattened, so operand order does not
/// matter), then compared with each form. Nothing outside a match may read its intermediate
/// values.
struct ONNXPatterns {
    let importer: ONNXImporter
    let current: String
    var graph: ONNXGraph { importer.graph }

    /// How many nodes after the current value's first reader are tried as a group's end; the
    /// longest form (the tanh GELU) spans 10.
    private static let reach = 16

    indirect enum Expression {
        case input
        case constant(String)
        case node(Int, [Expression])
    }

    struct Match {
        let layer: ONNXLayer
        let nodes: Set<Int>
        let output: String
    }

    func match() throws -> Match? {
        guard let first = (graph.consumers[current] ?? []).filter({ !importer.used.contains($0) }).min() else { return nil }
        // The longest match wins: LayerNorm without its weight and bias ends at the Div, before
        // the Mul and Add that apply them.
        for end in (first..<min(graph.nodes.count, first + Self.reach)).reversed() where !importer.used.contains(end) {
            let output = graph.nodes[end].output[0]
            var budget = Self.budget
            guard let tree = expression(output, depth: 0, budget: &budget), case .node = tree else { continue }
            guard let layer = try layer(for: tree) else { continue }
            let nodes = Self.nodes(of: tree)
            guard isSelfContained(nodes, end: end) else { continue }
            return Match(layer: layer, nodes: nodes, output: output)
        }
        return nil
    }

    // MARK: - Building expressions

    private static let operators: Set<String> = ["Add", "Sub", "Mul", "Div", "Pow", "Erf", "Tanh", "Sigmoid", "Sqrt",
                                                 "ReduceMean", "Greater", "Where", "Softplus"]

    /// The most tree nodes one candidate may expand to: a shared value is expanded once per
    /// use, so a crafted graph could otherwise grow the tree exponentially with its depth.
    private static let budget = 256

    private func expression(_ value: String, depth: Int, budget: inout Int) -> Expression? {
        if value == current { return .input }
        if graph.constants[value] != nil { return .constant(value) }
        budget -= 1
        guard budget > 0, depth < Self.reach, let index = graph.producer[value], !importer.used.contains(index),
              Self.operators.contains(graph.nodes[index].opType) else { return nil }
        var operands: [Expression] = []
        for input in graph.nodes[index].input where !input.isEmpty {
            guard let operand = expression(input, depth: depth + 1, budget: &budget) else { return nil }
            operands.append(operand)
        }
        return .node(index, operands)
    }

    private static func nodes(of tree: Expression) -> Set<Int> {
        guard case .node(let index, let operands) = tree else { return [] }
        return operands.reduce(into: [index]) { $0.formUnion(nodes(of: $1)) }
    }

    /// No node outside `nodes` reads a value made inside them, except the end's output.
    private func isSelfContained(_ nodes: Set<Int>, end: Int) -> Bool {
        for index in nodes where index != end {
            for value in graph.nodes[index].output where !value.isEmpty {
                if value == graph.output { return false }
                if !(graph.consumers[value] ?? []).allSatisfy(nodes.contains) { return false }
            }
        }
        return (graph.consumers[current] ?? []).allSatisfy { nodes.contains($0) || importer.used.contains($0) }
    }

    // MARK: - Reading expressions

    private func op(_ tree: Expression) -> String? {
        if case .node(let index, _) = tree { return graph.nodes[index].opType }
        return nil
    }

    private func operands(_ tree: Expression) -> [Expression] {
        if case .node(_, let operands) = tree { return operands }
        return []
    }

    private func isInput(_ tree: Expression) -> Bool {
        if case .input = tree { return true }
        return false
    }

    private func scalar(_ tree: Expression) throws -> Double? {
        guard case .constant(let name) = tree else { return nil }
        return try graph.scalar(name).map(Double.init)
    }

    /// A product of factors times a scalar coefficient: Mul flattened, a Div by a scalar and a
    /// Pow to a small integer unfolded.
    private func product(_ tree: Expression) throws -> (coefficient: Double, factors: [Expression]) {
        if let value = try scalar(tree) { return (value, []) }
        let parts = operands(tree)
        switch op(tree) {
        case "Mul" where parts.count == 2:
            let (a, b) = (try product(parts[0]), try product(parts[1]))
            return (a.coefficient * b.coefficient, a.factors + b.factors)
        case "Div" where parts.count == 2:
            if let divisor = try scalar(parts[1]), divisor != 0 {
                let a = try product(parts[0])
                return (a.coefficient / divisor, a.factors)
            }
        case "Pow" where parts.count == 2:
            if let exponent = try scalar(parts[1]), [2, 3].contains(exponent) {
                let a = try product(parts[0])
                return (pow(a.coefficient, exponent), Array(repeating: a.factors, count: Int(exponent)).flatMap { $0 })
            }
        default: break
        }
        return (1, [tree])
    }

    /// A sum of terms plus a scalar constant: Add flattened, a Sub of a scalar folded in.
    private func sum(_ tree: Expression) throws -> (constant: Double, terms: [Expression]) {
        if let value = try scalar(tree) { return (value, []) }
        let parts = operands(tree)
        switch op(tree) {
        case "Add" where parts.count == 2:
            let (a, b) = (try sum(parts[0]), try sum(parts[1]))
            return (a.constant + b.constant, a.terms + b.terms)
        case "Sub" where parts.count == 2:
            if let value = try scalar(parts[1]) {
                let a = try sum(parts[0])
                return (a.constant - value, a.terms)
            }
        default: break
        }
        return (0, [tree])
    }

    private static func near(_ value: Double, _ expected: Double) -> Bool {
        abs(value - expected) <= 1e-5 * abs(expected)
    }

    // MARK: - The forms

    private func layer(for tree: Expression) throws -> ONNXLayer? {
        if let layer = try geluOrSiLU(tree) { return layer }
        if let layer = try softplus(tree) { return layer }
        return try layerNorm(tree)
    }

    /// x · 0.5 · (1 + erf(x/√2)), x · 0.5 · (1 + tanh(…)), or x · sigmoid(x).
    private func geluOrSiLU(_ tree: Expression) throws -> ONNXLayer? {
        let (coefficient, factors) = try product(tree)
        guard factors.count == 2, let inputAt = factors.firstIndex(where: isInput) else { return nil }
        let other = factors[1 - inputAt]
        if Self.near(coefficient, 1), op(other) == "Sigmoid", isInput(operands(other)[0]) { return .silu }
        guard Self.near(coefficient, 0.5) else { return nil }
        let (one, terms) = try sum(other)
        guard Self.near(one, 1), terms.count == 1, let inner = operands(terms[0]).first else { return nil }
        switch op(terms[0]) {
        case "Erf":
            let argument = try product(inner)
            return Self.near(argument.coefficient, 1 / 2.0.squareRoot()) && argument.factors.count == 1 && isInput(argument.factors[0])
                ? .gelu(.none) : nil
        case "Tanh":
            let scaled = try product(inner)
            guard Self.near(scaled.coefficient, (2 / Double.pi).squareRoot()), scaled.factors.count == 1 else { return nil }
            let cubic = try sum(scaled.factors[0])
            guard cubic.constant == 0, cubic.terms.count == 2, let x = cubic.terms.firstIndex(where: isInput) else { return nil }
            let term = try product(cubic.terms[1 - x])
            return Self.near(term.coefficient, 0.044715) && term.factors.count == 3 && term.factors.allSatisfy(isInput)
                ? .gelu(.tanh) : nil
        default:
            return nil
        }
    }

    /// where(x > threshold, x, softplus(x)).
    private func softplus(_ tree: Expression) throws -> ONNXLayer? {
        guard op(tree) == "Where" else { return nil }
        let parts = operands(tree)
        guard parts.count == 3, op(parts[0]) == "Greater", isInput(parts[1]), op(parts[2]) == "Softplus",
              isInput(operands(parts[2])[0]) else { return nil }
        let comparison = operands(parts[0])
        guard comparison.count == 2, isInput(comparison[0]), let threshold = try scalar(comparison[1]) else { return nil }
        return .softplus(threshold: threshold)
    }

    /// ((x − mean(x)) / sqrt(mean((x − mean(x))²) + eps)) · w + b, w and b optional.
    private func layerNorm(_ tree: Expression) throws -> ONNXLayer? {
        var rest = tree
        var bias: String?, weight: String?
        if op(rest) == "Add", let (name, other) = try vectorOperand(rest) { (bias, rest) = (name, other) }
        if op(rest) == "Mul", let (name, other) = try vectorOperand(rest) { (weight, rest) = (name, other) }
        guard op(rest) == "Div", case let parts = operands(rest), parts.count == 2, isCentred(parts[0]) else { return nil }
        guard op(parts[1]) == "Sqrt", let radicand = operands(parts[1]).first else { return nil }
        let (eps, terms) = try sum(radicand)
        guard terms.count == 1, try isLastAxisMean(terms[0]), let squared = operands(terms[0]).first else { return nil }
        let (one, factors) = try product(squared)
        guard one == 1, factors.count == 2, factors.allSatisfy(isCentred) else { return nil }
        return .layerNorm(weight: weight, bias: bias, eps: eps)
    }

    /// The per-feature constant one operand of a binary node is (in either place), and the
    /// other operand.
    private func vectorOperand(_ tree: Expression) throws -> (name: String, other: Expression)? {
        let parts = operands(tree)
        guard parts.count == 2 else { return nil }
        for (constant, other) in [(parts[1], parts[0]), (parts[0], parts[1])] {
            if case .constant(let name) = constant, try scalar(constant) == nil { return (name, other) }
        }
        return nil
    }

    /// x − mean(x) over the last axis.
    private func isCentred(_ tree: Expression) -> Bool {
        guard op(tree) == "Sub", case let parts = operands(tree), parts.count == 2, isInput(parts[0]) else { return false }
        return (try? isLastAxisMean(parts[1])) == true && isInput(operands(parts[1])[0])
    }

    /// ReduceMean over the last axis, keeping it (axes as an attribute, or an input from opset 18).
    private func isLastAxisMean(_ tree: Expression) throws -> Bool {
        guard case .node(let index, let parts) = tree, op(tree) == "ReduceMean" else { return false }
        let node = graph.nodes[index]
        guard node.int("keepdims", default: 1) == 1 else { return false }
        var axes = node.attribute("axes")?.ints.map(Int.init)
        if parts.count == 2, case .constant(let name) = parts[1] { axes = try graph.values(of: name).map { Int($0) } }
        let last = graph.inputRank.map { $0 - 1 }
        return axes == [-1] || (last != nil && axes == [last!])
    }
}
