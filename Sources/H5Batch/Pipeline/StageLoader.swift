/// Turns stage configurations into stages, reading weights through `WeightFiles`.
///
/// Weight files are opened once each however many stages use them. Runs on the I/O lane.
final class StageLoader {
    private let weights = WeightFiles()

    func load(_ configs: [StageConfig]) throws -> [any Stage] {
        try configs.enumerated().map { index, config in
            do {
                return try config.spec.makeStage(weights)
            } catch let error as H5BatchError {
                throw H5BatchError(error.kind, "stage \(index + 1) (\(config.name)): \(error.message)")
            }
        }
    }
}

func shapeText(_ shape: [Int]) -> String {
    "[" + shape.map(String.init).joined(separator: ", ") + "]"
}
