import ArgumentParser
import Attention
import Foundation

/// `fedshare attention`: one party's local attention matrix A_p, in the clear.
struct AttentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Compute one party's local attention matrix from its data.",
        discussion: """
            Reads the party's records (CSV/TSV with a header, JSON Lines, or .npy features with a \
            side file of groups), computes each record's attention over the manifest's anchors \
            and sums it per group. Writes a labelled CSV: a header row 'group,<anchor names>' and \
            one row per group. The result is NOT private: it is the party's own input to a round.
            """)

    @Option(name: .long, help: "The federation manifest (TOML).")
    var manifest: String

    @Option(name: .long, help: "The party's data file (.csv, .tsv, .jsonl, .ndjson or .npy).")
    var data: String

    @Option(name: .long, help: "For .npy data: the CSV with the group (and user) column (default: <data>.groups.csv).")
    var groups: String?

    @Option(name: .long, help: "Where to write the attention matrix (CSV).")
    var out: String

    @Option(name: .long, help: "Where to write the records per group (CSV: group,count).")
    var counts: String?

    @Flag(name: .long, help: "Skip bad rows (counted and reported) instead of stopping at the first.")
    var skipBadRows = false

    @Option(name: .long, help: "Records per chunk (memory is bounded by the chunk).")
    var chunkSize = 8192

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    func validate() throws {
        guard chunkSize >= 1 && chunkSize <= 1 << 22 else { throw ValidationError("--chunk-size must be between 1 and 4194304") }
    }

    func run() async throws {
        do {
            let start = Date()
            let loaded = try FederationManifest.load(from: URL(fileURLWithPath: manifest))
            var options = LocalAttention.Options(skipBadRows: skipBadRows, chunkSize: chunkSize)
            options.sideFile = groups.map { URL(fileURLWithPath: $0) }
            let result = try LocalAttention.compute(manifest: loaded, dataURL: URL(fileURLWithPath: data), options: options)
            try writeAtomically(Data(result.labelled.csv().utf8), to: URL(fileURLWithPath: out))
            if let counts { try writeAtomically(Data(result.countsCSV().utf8), to: URL(fileURLWithPath: counts)) }
            let seconds = Date().timeIntervalSince(start)
            let report = result.report
            if report.badRowsSkipped > 0 {
                var message = "fedshare: skipped \(report.badRowsSkipped) bad row\(report.badRowsSkipped == 1 ? "" : "s")"
                if let first = report.badRowExamples.first { message += " (first: \(first))" }
                FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            if json {
                try printJSON(Summary(manifest: manifest, data: data, out: out, counts: counts, groups: result.groups,
                                      anchors: result.anchors, recordsPerGroup: result.counts, total: result.total,
                                      report: report, seconds: seconds))
            } else {
                print("\(out): \(result.groups.count) groups × \(result.anchors.count) anchors from \(report.recordsUsed) records"
                      + (report.recordsDroppedByUserBound > 0 ? " (\(report.recordsDroppedByUserBound) left out by max_records_per_user)" : "")
                      + String(format: " in %.2f s", seconds))
            }
        } catch let error as AttentionError {
            throw CLIError(error.description)
        }
    }

    struct Summary: Encodable {
        let manifest: String
        let data: String
        let out: String
        let counts: String?
        let groups: [String]
        let anchors: [String]
        let recordsPerGroup: [Int]
        let total: Double
        let report: IngestionReport
        let seconds: Double
    }
}
