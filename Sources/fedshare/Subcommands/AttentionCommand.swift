import ArgumentParser
import Attention
import Foundation
import Manifest

/// `fedshare attention`: one party's local attention matrix A_p, in the clear.
struct AttentionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Compute one party's local attention matrix from its data.",
        discussion: """
            Reads the party's records (CSV/TSV with a header, JSON Lines, or .npy features with a \
            side file of groups; --data - reads CSV with a header from standard input), computes \
            each record's attention over the manifest's anchors and sums it per group, exactly \
            (on the grid 2^-52, so the result does not depend on chunking, cores or record \
            order). Writes a labelled CSV: a header row 'group,<anchor names>' and one row per \
            group. --partial-out writes the exact sums as a partial result file (JSON, bound to \
            the manifest's hash; '-' for standard output), which `fedshare party --precomputed` \
            takes part with; --merge adds partial results up exactly (a Spark job's partitions, \
            Integrations/spark) and writes the same outputs. The result is NOT private: it is \
            the party's own input to a round.

            From standard input the records are read once, so max_records_per_user keeps each \
            user's first records: a safety net for a producer that bounded them already (the \
            Spark job samples uniformly across the whole dataset), recorded as boundApplied = \
            "job" in the partial result. From a file, a uniformly random subset of each user's \
            records is kept (boundApplied = "fedshare").
            """)

    @Option(name: .long, help: "The federation manifest (TOML).")
    var manifest: String

    @Option(name: .long, help: "The party's data file (.csv, .tsv, .jsonl, .ndjson or .npy), or - for CSV with a header on standard input.")
    var data: String?

    @Option(name: .long, parsing: .upToNextOption, help: "Partial result files to add up (instead of --data).")
    var merge: [String] = []

    @Option(name: .long, help: "With --merge: the distinct users of all the files, counted by their producer (recorded in --partial-out).")
    var users: Int?

    @Option(name: .long, help: "For .npy data: the CSV with the group (and user) column (default: <data>.groups.csv).")
    var groups: String?

    @Option(name: .long, help: "Where to write the attention matrix (CSV).")
    var out: String?

    @Option(name: .long, help: "Where to write the records per group (CSV: group,count).")
    var counts: String?

    @Option(name: .long, help: "Where to write the partial result (JSON; - for standard output).")
    var partialOut: String?

    @Flag(name: .long, help: "Skip bad rows (counted and reported) instead of stopping at the first.")
    var skipBadRows = false

    @Option(name: .long, help: "Records per chunk (memory is bounded by the chunk).")
    var chunkSize = 8192

    @Option(name: .long, help: "Cores for the softmax (default: all).")
    var workers: Int?

    @OptionGroup
    var output: JSONOutputOptions

    func validate() throws {
        guard chunkSize >= 1 && chunkSize <= 1 << 22 else { throw ValidationError("--chunk-size must be between 1 and 4194304") }
        guard (data == nil) != merge.isEmpty else { throw ValidationError("give --data or --merge (one of them)") }
        guard out != nil || counts != nil || partialOut != nil else { throw ValidationError("give --out, --counts or --partial-out") }
        if users != nil && merge.isEmpty { throw ValidationError("--users goes with --merge (from data, fedshare counts users itself)") }
        if let users, users < 0 { throw ValidationError("--users must be a non-negative integer") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be between 1 and 256") }
        if partialOut == "-" && output.json { throw ValidationError("--json and --partial-out - both write standard output") }
    }

    func run() async throws {
        let start = Date()
        let loaded = try FederationManifest.load(from: URL(fileURLWithPath: manifest))
        let partial: PartialAttention
        if let data {
            var options = LocalAttention.Options(skipBadRows: skipBadRows, chunkSize: chunkSize, workers: workers)
            options.sideFile = groups.map { URL(fileURLWithPath: $0) }
            let url = data == "-" ? LocalAttention.standardInput : URL(fileURLWithPath: data)
            let sums = try LocalAttention.sums(manifest: loaded, dataURL: url, options: options)
            partial = PartialAttention(manifest: loaded, sums: sums, boundApplied: data == "-" ? .job : .fedshare)
        } else {
            var parts: [(file: String, partial: PartialAttention)] = []
            for path in merge {
                let url = URL(fileURLWithPath: path)
                let part = try PartialAttention.read(from: url)
                try part.check(against: loaded, file: url.lastPathComponent)
                parts.append((url.lastPathComponent, part))
            }
            partial = try PartialAttention.merge(parts, users: users)
        }
        let result = partial.sums.result
        if let out { try writeAtomically(Data(result.labelled.csv().utf8), to: URL(fileURLWithPath: out)) }
        if let counts { try writeAtomically(Data(result.countsCSV().utf8), to: URL(fileURLWithPath: counts)) }
        if partialOut == "-" {
            FileHandle.standardOutput.write(partial.encoded())
        } else if let partialOut {
            try writeAtomically(partial.encoded(), to: URL(fileURLWithPath: partialOut))
        }
        let seconds = Date().timeIntervalSince(start)
        let report = partial.sums.report
        if report.badRowsSkipped > 0 {
            var message = "fedshare: skipped \(report.badRowsSkipped) bad row\(report.badRowsSkipped == 1 ? "" : "s")"
            if let first = report.badRowExamples.first { message += " (first: \(first))" }
            FileHandle.standardError.write(Data((message + "\n").utf8))
        }
        if data == "-" && partial.recordsDroppedByBound > 0 {
            FileHandle.standardError.write(
                Data(
                    ("fedshare: warning: \(partial.recordsDroppedByBound) records from standard input were over "
                        + "max_records_per_user and left out (the first records of each user were kept); bound records before piping them\n").utf8))
        }
        let written = out ?? counts ?? partialOut ?? ""
        if output.json {
            try printJSON(
                Summary(
                    manifest: manifest, data: data ?? merge.joined(separator: " "), out: out, counts: counts,
                    partialOut: partialOut, groups: result.groups, anchors: result.anchors,
                    recordsPerGroup: result.counts, total: result.total, users: partial.users,
                    report: report, seconds: seconds))
        } else if partialOut != "-" {
            let what =
                data == nil
                ? "\(merge.count) partial result\(merge.count == 1 ? "" : "s") with \(partial.records) records"
                : "\(report.recordsUsed) records"
                    + (report.recordsDroppedByUserBound > 0 ? " (\(report.recordsDroppedByUserBound) left out by max_records_per_user)" : "")
            print("\(written): \(result.groups.count) groups × \(result.anchors.count) anchors from \(what)" + String(format: " in %.2f s", seconds))
        }
    }

    struct Summary: Encodable {
        let manifest: String
        let data: String
        let out: String?
        let counts: String?
        let partialOut: String?
        let groups: [String]
        let anchors: [String]
        let recordsPerGroup: [Int]
        let total: Double
        let users: Int?
        let report: IngestionReport
        let seconds: Double
    }
}
