import CKernels

/// Per-feature statistics of the rows one stage produced: counts of zeros, negatives and
/// non-finite values, the finite values' minimum, maximum, mean and variance.
///
/// Mean and variance are kept as (count, mean, M2), the sum of squared deviations from the
/// mean, which merges exactly as Chan et al. describe: a block's partial result combines with
/// any other's, so batches can be counted on any worker. A run merges its batches in row
/// order, so the figures do not depend on the number of workers. Blocks are summed in double
/// around a shift (the block's first finite value per feature), so a large mean does not
/// cancel the variance away.
public struct FeatureStatistics: Sendable, Equatable, Codable {
    /// Rows counted.
    public private(set) var rows = 0
    /// Per feature: values exactly 0 (either sign).
    public private(set) var zeros: [Int]
    /// Per feature: values below 0 (−∞ included).
    public private(set) var negatives: [Int]
    /// Per feature: NaN and ±∞ values, which the minimum, maximum, mean and variance leave out.
    public private(set) var nonFinite: [Int]
    /// Per feature: the smallest finite value (+∞ while there is none).
    public private(set) var minimum: [Float]
    /// Per feature: the largest finite value (−∞ while there is none).
    public private(set) var maximum: [Float]
    /// Per feature: the mean of the finite values (0 while there is none).
    public private(set) var mean: [Double]
    /// Per feature: the sum of squared deviations of the finite values from their mean.
    public private(set) var m2: [Double]

    /// Statistics of no rows, `width` features wide.
    public init(width: Int) {
        zeros = [Int](repeating: 0, count: width)
        negatives = zeros
        nonFinite = zeros
        minimum = [Float](repeating: .infinity, count: width)
        maximum = [Float](repeating: -.infinity, count: width)
        mean = [Double](repeating: 0, count: width)
        m2 = mean
    }

    /// Features per row.
    public var width: Int { zeros.count }
    /// Per feature: the finite values counted.
    public var finite: [Int] { nonFinite.map { rows - $0 } }
    /// Per feature: the population variance of the finite values (NaN while there is none).
    public var variance: [Double] { zip(m2, finite).map { $1 > 0 ? $0 / Double($1) : .nan } }
    /// Zeros among all values counted, 0…1.
    public var sparsity: Double {
        rows * width > 0 ? Double(zeros.reduce(0, +)) / Double(rows * width) : 0
    }
    /// Features that were exactly 0 in every row counted ("dead units"); none before any row.
    public var deadUnits: [Int] { rows > 0 ? zeros.indices.filter { zeros[$0] == rows } : [] }

    /// Counts `rows` rows of `width` values at `values`, in blocks of at most `blockRows` rows
    /// merged in order.
    public mutating func add(_ values: UnsafePointer<Float>, rows count: Int) {
        var first = 0
        while first < count {
            let rows = Swift.min(Self.blockRows, count - first)
            var block = FeatureStatistics(width: width)
            // Deviations from the running mean (or, at first, the first row) keep the float32
            // block sums small and accurate.
            block.count(values + first * width, rows: rows, shift: self.rows > 0 ? mean : nil)
            merge(block)
            first += rows
        }
    }

    /// Rows per block: float32 sums over this many values stay within a few 10⁻⁶ of their
    /// exact value; the blocks merge in double.
    static let blockRows = 256

    /// Merges `other` (counted over other rows) in: afterwards these are the statistics of both.
    public mutating func merge(_ other: FeatureStatistics) {
        precondition(other.width == width, "FeatureStatistics: merging \(other.width) features into \(width)")
        guard other.rows > 0 else { return }
        guard rows > 0 else { self = other; return }
        let finiteA = finite, finiteB = other.finite
        for f in 0..<width {
            zeros[f] += other.zeros[f]
            negatives[f] += other.negatives[f]
            nonFinite[f] += other.nonFinite[f]
            minimum[f] = Swift.min(minimum[f], other.minimum[f])
            maximum[f] = Swift.max(maximum[f], other.maximum[f])
            let a = Double(finiteA[f]), b = Double(finiteB[f])
            guard b > 0 else { continue }
            guard a > 0 else { mean[f] = other.mean[f]; m2[f] = other.m2[f]; continue }
            let n = a + b, delta = other.mean[f] - mean[f]
            mean[f] += delta * b / n
            m2[f] += other.m2[f] + delta * delta * a * b / n
        }
        rows += other.rows
    }

    /// One pass over a block of fresh statistics: counts, extremes, and the shifted float32
    /// sums the mean and M2 come from (CKernels' `stats_count`: a vector of features at a time,
    /// each feature's sums row by row).
    private mutating func count(_ values: UnsafePointer<Float>, rows count: Int, shift around: [Double]?) {
        let width = self.width
        var shift = [Float](repeating: 0, count: width)
        for f in 0..<width {
            if let around, around[f].isFinite { shift[f] = Float(around[f]) } else if values[f].isFinite { shift[f] = values[f] }
        }
        var sum = [Float](repeating: 0, count: width), squares = sum
        var zeroCount = [Int32](repeating: 0, count: width), negativeCount = zeroCount, finiteCount = zeroCount
        zeroCount.withUnsafeMutableBufferPointer { zeros in
        negativeCount.withUnsafeMutableBufferPointer { negatives in
        finiteCount.withUnsafeMutableBufferPointer { finiteCount in
        minimum.withUnsafeMutableBufferPointer { minimum in
        maximum.withUnsafeMutableBufferPointer { maximum in
        sum.withUnsafeMutableBufferPointer { sum in
        squares.withUnsafeMutableBufferPointer { squares in
        shift.withUnsafeBufferPointer { shift in
            var out = ck_stats_out(zeros: zeros.baseAddress, negatives: negatives.baseAddress, finite: finiteCount.baseAddress,
                                   minimum: minimum.baseAddress, maximum: maximum.baseAddress, sum: sum.baseAddress,
                                   squares: squares.baseAddress)
            ck_stats_count(values, count, width, shift.baseAddress, &out)
        }}}}}}}}
        rows = count
        for f in 0..<width {
            zeros[f] = Int(zeroCount[f])
            negatives[f] = Int(negativeCount[f])
            nonFinite[f] = count - Int(finiteCount[f])
            let n = Double(finiteCount[f])
            guard n > 0 else { continue }
            let meanShifted = Double(sum[f]) / n
            mean[f] = Double(shift[f]) + meanShifted
            m2[f] = Swift.max(0, Double(squares[f]) - Double(sum[f]) * meanShifted)
        }
    }
}

extension FeatureStatistics {
    private enum CodingKeys: String, CodingKey {
        case rows, zeros, negatives, nonFinite, minimum, maximum, mean, m2
    }

    /// Extremes of a feature with no finite value are written as null: JSON has no infinity.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rows, forKey: .rows)
        try container.encode(zeros, forKey: .zeros)
        try container.encode(negatives, forKey: .negatives)
        try container.encode(nonFinite, forKey: .nonFinite)
        try container.encode(minimum.map { $0.isFinite ? $0 : nil }, forKey: .minimum)
        try container.encode(maximum.map { $0.isFinite ? $0 : nil }, forKey: .maximum)
        try container.encode(mean, forKey: .mean)
        try container.encode(m2, forKey: .m2)
    }

    /// Reads what `encode(to:)` wrote (null extremes back to ±∞).
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rows = try container.decode(Int.self, forKey: .rows)
        zeros = try container.decode([Int].self, forKey: .zeros)
        negatives = try container.decode([Int].self, forKey: .negatives)
        nonFinite = try container.decode([Int].self, forKey: .nonFinite)
        minimum = try container.decode([Float?].self, forKey: .minimum).map { $0 ?? .infinity }
        maximum = try container.decode([Float?].self, forKey: .maximum).map { $0 ?? -.infinity }
        mean = try container.decode([Double].self, forKey: .mean)
        m2 = try container.decode([Double].self, forKey: .m2)
        let width = zeros.count
        guard [negatives.count, nonFinite.count, minimum.count, maximum.count, mean.count, m2.count].allSatisfy({ $0 == width }) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "feature arrays of different lengths"))
        }
    }
}
