import ArgumentParser
import H5Batch

extension H5BatchCommand {
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every dataset in an HDF5 file: path, shape, type, chunks and filters."
        )

        @Argument(help: "HDF5 file.")
        var file: String

        func run() throws {
            let rows = try FileInspector.describe(file)
            print(file)
            if rows.isEmpty {
                print("  (no datasets)")
                return
            }
            let header = ["dataset", "shape", "dtype", "layout", "filters"]
            let table = [header] + rows.map { [$0.path, $0.shape, $0.dtype, $0.layout, $0.filters] }
            let widths = header.indices.map { column in table.map { $0[column].count }.max() ?? 0 }
            for line in table {
                let cells = line.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                print("  " + cells.joined(separator: "  ").trimmingTrailingSpaces())
            }
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

import Foundation
