import ArgumentParser
import Attention
import Foundation
import Primitives

#if canImport(Glibc)
import Glibc
#endif

/// `fedshare bench attention`: local attention throughput on deterministic synthetic data.
struct BenchAttention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Measure local attention throughput on synthetic data.",
        discussion: """
            Generates R records (d uniform features in [-1, 1], a group each), an encoder W \
            (d × h) and M anchors (h each) from a fixed seed, all in memory, then times the \
            computation of the G × M attention matrix (chunked BLAS products, vectorised \
            softmax, per-group sums). Generation is not timed. Reports the best of --repeats runs.
            """)

    @Option(name: .long, help: "Records (R).") var records = 1_000_000
    @Option(name: .long, help: "Features per record (d).") var features = 64
    @Option(name: .long, help: "Embedding dimension (h).") var dim = 64
    @Option(name: .long, help: "Anchors (M).") var anchors = 256
    @Option(name: .long, help: "Groups (G).") var groups = 32
    @Option(name: .long, help: "Records per chunk.") var chunkSize = 8192
    @Option(name: .long, help: "Cores for the softmax (default: all).") var workers: Int?
    @Option(name: .long, help: "Timed runs; the best is reported.") var repeats = 3
    @Option(name: .long, help: "Seed of the synthetic data.") var seed: UInt64 = 1
    @OptionGroup var output: JSONOutputOptions

    func validate() throws {
        guard records >= 1, features >= 1, dim >= 1, anchors >= 1, groups >= 1, chunkSize >= 1, repeats >= 1 else {
            throw ValidationError("every size must be at least 1")
        }
        let size = records.multipliedReportingOverflow(by: features)
        guard !size.overflow, size.partialValue <= 1 << 31 else {
            throw ValidationError("records × features must be at most 2^31 (the data is held in memory)")
        }
    }

    func run() async throws {
        var random = SeededRandom(seed: seed)
        let anchorValues = (0..<(anchors * dim)).map { _ in Double.random(in: -1...1, using: &random) }
        let encoder = (0..<(features * dim)).map { _ in Double.random(in: -1...1, using: &random) }
        let model = try AttentionModel(
            anchorNames: (0..<anchors).map { "a\($0)" }, anchors: anchorValues,
            embeddingDimension: dim, encoder: encoder,
            groups: (0..<groups).map { "g\($0)" })
        let data = (0..<(records * features)).map { _ in Double.random(in: -1...1, using: &random) }
        let labels = (0..<records).map { _ in Int.random(in: 0..<groups, using: &random) }

        var times: [Double] = []
        var total = 0.0
        for _ in 0..<repeats {
            let accumulator = AttentionAccumulator(model: model, capacity: chunkSize, workers: workers)
            let start = DispatchTime.now().uptimeNanoseconds
            try accumulator.add(features: data, groups: labels)
            let result = accumulator.result()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            total = result.total
        }
        let best = times.min() ?? 0
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let report = Report(
            records: records, features: features, dim: dim, anchors: anchors, groups: groups,
            chunkSize: chunkSize, workers: workers ?? ProcessInfo.processInfo.activeProcessorCount,
            seconds: best, secondsAll: times, recordsPerSecond: Double(records) / best,
            peakRSSBytes: Int(usage.ru_maxrss) * 1024, total: total)
        if output.json {
            try printJSON(report)
        } else {
            print(
                String(
                    format: "attention: %d records, d=%d h=%d M=%d G=%d: %.3f s (best of %d), %.0f records/s, peak RSS %.0f MiB, total %.6f",
                    records, features, dim, anchors, groups, best, repeats, report.recordsPerSecond,
                    Double(report.peakRSSBytes) / 1_048_576, total))
        }
    }

    struct Report: Encodable {
        var benchmark = "attention"
        let records, features, dim, anchors, groups, chunkSize, workers: Int
        let seconds: Double
        let secondsAll: [Double]
        let recordsPerSecond: Double
        let peakRSSBytes: Int
        let total: Double
    }
}
