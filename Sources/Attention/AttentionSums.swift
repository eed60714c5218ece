/// A local attention matrix as exact integers: every record's probabilities rounded to the grid
/// 2^-52 and summed without rounding, so sums over any split of the records (chunks, cores,
/// processes, Spark partitions) add up to the same bits.
public struct AttentionSums: Sendable, Equatable {
    /// The grid: one unit is 2^-scaleBits.
    public static let scaleBits = 52

    /// Row labels, in the manifest's order.
    public var groups: [String]
    /// Column labels (anchor names).
    public var anchors: [String]
    /// G × M, row-major, in units of 2^-52.
    public var sums: [Int128]
    /// Records per group.
    public var counts: [Int]
    /// What reading the data found.
    public var report: IngestionReport

    public init(groups: [String], anchors: [String], sums: [Int128], counts: [Int], report: IngestionReport = IngestionReport()) {
        precondition(sums.count == groups.count * anchors.count && counts.count == groups.count, "shape mismatch")
        self.groups = groups
        self.anchors = anchors
        self.sums = sums
        self.counts = counts
        self.report = report
    }

    /// Adds another partial sum of the same shape, exactly.
    public mutating func add(_ other: AttentionSums) {
        precondition(other.groups == groups && other.anchors == anchors, "adding sums of different shapes")
        for k in sums.indices { sums[k] += other.sums[k] }
        for g in counts.indices { counts[g] += other.counts[g] }
    }

    /// The matrix in doubles: each cell's exact sum rounded once (to nearest), then scaled by
    /// 2^-52 (exact).
    public var result: AttentionResult {
        AttentionResult(groups: groups, anchors: anchors, matrix: sums.map { Double($0) * 0x1p-52 }, counts: counts, report: report)
    }
}
