import Foundation
import Primitives

/// One party's local attention matrix A_p from its data file (Papers/design.md §1): the only place
/// where raw records are read.
public enum LocalAttention {
    /// How to read the data.
    public struct Options: Sendable {
        /// Count and report bad rows instead of stopping at the first.
        public var skipBadRows = false
        /// Records per chunk (memory ≈ 2 × chunk × (d + M) × 8 bytes, plus a 1 MiB read buffer:
        /// one chunk is read while the other is computed).
        public var chunkSize = 8192
        /// For `.npy` data: the CSV/TSV with the group (and user) column; by default the data
        /// path with `.npy` replaced by `.groups.csv`.
        public var sideFile: URL?
        /// Cores for the softmax; by default all.
        public var workers: Int?
        /// How many bad-row messages the report keeps.
        public var badRowExamples = 5
        /// The catalog items whose records count (by the settings' item column); `nil`: every
        /// record. A scoped computation bounds each user's matching records only.
        public var scope: Set<String>?

        public init(skipBadRows: Bool = false, chunkSize: Int = 8192, sideFile: URL? = nil, workers: Int? = nil) {
            self.skipBadRows = skipBadRows
            self.chunkSize = chunkSize
            self.sideFile = sideFile
            self.workers = workers
        }
    }

    /// The data formats, chosen by file extension.
    public enum DataFormat: Sendable {
        /// `.csv`, `.txt` (comma) or `.tsv`, `.tab` (tab), with a header row.
        case delimited
        /// `.jsonl`, `.ndjson`: one flat JSON object per line.
        case jsonLines
        /// `.npy` with a side file of labels.
        case numpy

        public init(url: URL) throws {
            switch url.pathExtension.lowercased() {
            case "csv", "tsv", "tab", "txt": self = .delimited
            case "jsonl", "ndjson": self = .jsonLines
            case "npy": self = .numpy
            default:
                throw AttentionError.malformedFile(
                    file: url.lastPathComponent,
                    problem: "unknown data format (expected .csv, .tsv, .jsonl, .ndjson or .npy)")
            }
        }
    }

    /// The side file used for `.npy` data at `dataURL`.
    public static func defaultSideFile(for dataURL: URL) -> URL {
        dataURL.deletingPathExtension().appendingPathExtension("groups.csv")
    }

    /// `dataURL` for records read from standard input: CSV with a header (Papers/attention.md).
    /// The input can be read only once, so a manifest's `max_records_per_user` keeps each user's
    /// first records there: a safety net for a producer that bounded them already (the Spark job,
    /// Integrations/spark), counted in `recordsDroppedByUserBound`, never the sampling itself.
    public static let standardInput = URL(fileURLWithPath: "/dev/stdin")

    /// Computes A_p and the group counts, with user sampling (if the settings bound records per
    /// user) driven by the system CSPRNG.
    public static func compute(
        settings: AttentionSettings, model: AttentionModel, dataURL: URL,
        options: Options = Options()
    ) throws -> AttentionResult {
        try sums(settings: settings, model: model, dataURL: dataURL, options: options).result
    }

    /// Computes A_p and the group counts as exact sums, with user sampling driven by the CSPRNG.
    public static func sums(
        settings: AttentionSettings, model: AttentionModel, dataURL: URL,
        options: Options = Options()
    ) throws -> AttentionSums {
        var random = SecureRandom()
        return try sums(settings: settings, model: model, dataURL: dataURL, options: options, using: &random)
    }

    /// Computes A_p and the group counts.
    public static func compute(
        settings: AttentionSettings, model: AttentionModel, dataURL: URL, options: Options,
        using rng: inout some RandomNumberGenerator
    ) throws -> AttentionResult {
        try sums(settings: settings, model: model, dataURL: dataURL, options: options, using: &rng).result
    }

    /// Computes A_p and the group counts as exact sums (`AttentionSums`).
    ///
    /// - Parameters:
    ///   - settings: how data columns map to features, group and user, and the per-user bound.
    ///   - model: the anchors, encoder, scale, bias and groups.
    ///   - rng: chooses which records of a user over `max_records_per_user` count; the
    ///     CSPRNG in production.
    /// - Throws: `AttentionError` naming the file, line and column of the first bad row (unless
    ///   `skipBadRows`), or the file at fault.
    /// - Complexity: one pass over the data (two with a per-user bound, except from standard
    ///   input); memory bounded by `options.chunkSize`, plus the per-user counts when bounding
    ///   or when the settings name a user column.
    public static func sums(
        settings: AttentionSettings, model: AttentionModel, dataURL: URL, options: Options,
        using rng: inout some RandomNumberGenerator
    ) throws -> AttentionSums {
        let layout = DataLayout(settings: settings, model: model, scope: options.scope)
        var report = IngestionReport()
        if options.scope != nil { report.recordsOutOfScope = 0 }
        let d = model.featureDimension
        let fromStandardInput = dataURL == standardInput
        let limit = settings.recordsPerUserBound

        var sampler: UserRecordSampler?
        if let limit, !fromStandardInput {
            let source = try openSource(dataURL: dataURL, layout: layout, options: options)
            var counts: [String: Int] = [:]
            var scratch = [Double](repeating: 0, count: d)
            var user = ""
            try scratch.withUnsafeMutableBufferPointer { buffer in
                while let outcome = try source.next(features: buffer.baseAddress!, user: &user) {
                    switch outcome {
                    case .record: counts[user, default: 0] += 1
                    case .bad(let error): if !options.skipBadRows { throw error }
                    case .outOfScope: break
                    }
                }
            }
            sampler = UserRecordSampler(counts: counts, limit: limit, using: &rng)
            report.usersOverBound = sampler?.usersOverLimit ?? 0
            report.users = counts.count
        }
        // Records per user where no sampler counted them: the first `limit` are kept.
        var kept: [String: Int]? = settings.userColumn != nil && sampler == nil ? [:] : nil

        // Two accumulators take turns: while one computes a full chunk on a background queue
        // (itself split across cores), the reader fills the other, so parsing and arithmetic
        // overlap. Memory: two chunks.
        let source = try openSource(dataURL: dataURL, layout: layout, options: options)
        let accumulators = [
            AttentionAccumulator(model: model, capacity: options.chunkSize, workers: options.workers),
            AttentionAccumulator(model: model, capacity: options.chunkSize, workers: options.workers),
        ]
        let pipeline = FlushPipeline()
        var current = 0
        var filled = 0
        var recordsBefore = 0
        var user = ""
        do {
            while let outcome = try source.next(features: accumulators[current].features + filled * d, user: &user) {
                switch outcome {
                case .bad(let error):
                    guard options.skipBadRows else { throw error }
                    report.badRowsSkipped += 1
                    if report.badRowExamples.count < options.badRowExamples { report.badRowExamples.append(error.description) }
                case .outOfScope:
                    report.recordsOutOfScope = (report.recordsOutOfScope ?? 0) + 1
                case .record(let group):
                    report.recordsRead += 1
                    if sampler != nil, !sampler!.admit(user) {
                        report.recordsDroppedByUserBound += 1
                        continue
                    }
                    if kept != nil {
                        let seen = kept![user, default: 0]
                        kept![user] = seen + 1
                        if let limit, seen >= limit {
                            report.recordsDroppedByUserBound += 1
                            if seen == limit { report.usersOverBound += 1 }
                            continue
                        }
                    }
                    accumulators[current].groups[filled] = group
                    filled += 1
                    if filled == accumulators[current].capacity {
                        pipeline.submit(accumulators[current], count: filled, recordBase: recordsBefore, slot: current)
                        recordsBefore += filled
                        current ^= 1
                        filled = 0
                        try pipeline.wait(slot: current)
                    }
                }
            }
        } catch {
            // Never leave a background flush writing into buffers about to be freed.
            try? pipeline.wait(slot: 0)
            try? pipeline.wait(slot: 1)
            throw error
        }
        try pipeline.wait(slot: 0)
        try pipeline.wait(slot: 1)
        try accumulators[current].flush(count: filled, recordBase: recordsBefore)
        var result = accumulators[0].exactSums()
        result.add(accumulators[1].exactSums())
        report.recordsUsed = accumulators[0].recordCount + accumulators[1].recordCount
        if let kept { report.users = kept.count }
        result.report = report
        return result
    }

    static func openSource(dataURL: URL, layout: DataLayout, options: Options) throws -> RecordSource {
        if dataURL == standardInput {
            return try DelimitedRecordSource(path: dataURL.path, displayName: "standard input", layout: layout)
        }
        let name = dataURL.lastPathComponent
        guard FileManager.default.fileExists(atPath: dataURL.path) else {
            throw AttentionError.unreadable(file: dataURL.path, reason: "no such file")
        }
        switch try DataFormat(url: dataURL) {
        case .delimited:
            return try DelimitedRecordSource(path: dataURL.path, displayName: name, layout: layout)
        case .jsonLines:
            return try JSONLinesRecordSource(path: dataURL.path, displayName: name, layout: layout)
        case .numpy:
            let side = options.sideFile ?? defaultSideFile(for: dataURL)
            guard FileManager.default.fileExists(atPath: side.path) else {
                throw AttentionError.unreadable(
                    file: side.path, reason: "no such file (the side file with the group column of \(name); pass it explicitly or create it)")
            }
            return try NumPyRecordSource(
                path: dataURL.path, displayName: name, sidePath: side.path,
                sideName: side.lastPathComponent, layout: layout)
        }
    }
}

/// Runs accumulator flushes on a background queue, one slot per accumulator.
private final class FlushPipeline: @unchecked Sendable {
    /// Carries a non-Sendable accumulator to the queue; the caller does not touch it until
    /// `wait(slot:)` returns.
    private struct Handoff: @unchecked Sendable { let accumulator: AttentionAccumulator }

    private let queue = DispatchQueue(label: "fedshare.attention.flush")
    private let slots = [DispatchGroup(), DispatchGroup()]
    private let lock = NSLock()
    private var errors: [Error?] = [nil, nil]

    func submit(_ accumulator: AttentionAccumulator, count: Int, recordBase: Int, slot: Int) {
        let handoff = Handoff(accumulator: accumulator)
        slots[slot].enter()
        queue.async {
            do {
                try handoff.accumulator.flush(count: count, recordBase: recordBase)
            } catch {
                self.lock.withLock { self.errors[slot] = error }
            }
            self.slots[slot].leave()
        }
    }

    /// Waits for the slot's flush, rethrowing its error.
    func wait(slot: Int) throws {
        slots[slot].wait()
        if let error = lock.withLock({ errors[slot] }) { throw error }
    }
}
