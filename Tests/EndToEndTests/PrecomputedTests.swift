import Federation
import Foundation
import Testing

/// A world taking part with a precomputed partial result (`fedshare attention --partial-out`,
/// or the Spark job's partial.json) instead of its data: issue 15.
@Suite("End to end: precomputed partial results", .serialized)
struct PrecomputedTests {
    /// With noise off, `simulate` releases the same bits whether party 2 computes from its data
    /// or takes part with its partial result file (three-worlds: no visitor is over the bound of
    /// 3, so computing from the data involves no random choice).
    @Test func aPrecomputedWorldReleasesWhatItsDataWould() async throws {
        let federation = try await Federations.shared.federation("secagg")
        let folder = try Self.caseFolder(federation, "precomputed-simulate")
        defer { try? FileManager.default.removeItem(at: folder) }
        let partial = folder.appendingPathComponent("world-2.json")
        let attention = try await runFedshare(
            [
                "attention", "--manifest", federation.manifest.path, "--data", federation.data[2]!.path,
                "--partial-out", partial.path,
            ], in: folder, name: "attention-partial")
        #expect(attention.status == 0, "\(attention.stderr)")

        var outputs: [URL] = []
        for (name, precomputed) in [("from-data", [String]()), ("precomputed", ["--precomputed", "2=\(partial.path)"])] {
            let out = folder.appendingPathComponent(name)
            var arguments = ["simulate", "--manifest", federation.manifest.path]
            for party in 1...3 { arguments += ["--data", federation.data[party]!.path] }
            arguments += precomputed + ["--no-noise", "--out", out.path, "--json"]
            let run = try await runFedshare(arguments, in: folder, name: "simulate-\(name)")
            #expect(run.status == 0, "\(name): \(run.stderr)")
            outputs.append(out)
        }
        for file in ["attention-raw.csv", "counts-raw.csv", "attention-clear.csv", "attention.csv"] {
            let fromData = try Data(contentsOf: outputs[0].appendingPathComponent(file))
            let precomputed = try Data(contentsOf: outputs[1].appendingPathComponent(file))
            #expect(fromData == precomputed, "\(file) differs between --data and --precomputed")
        }
    }

    /// `party --precomputed` and `simulate --precomputed` refuse a partial result that does not
    /// match the manifest: one line naming the file and the field, before any connection.
    @Test func aMismatchedPartialResultIsRefused() async throws {
        let federation = try await Federations.shared.federation("secagg")
        let folder = try Self.caseFolder(federation, "precomputed-refused")
        defer { try? FileManager.default.removeItem(at: folder) }
        let good = folder.appendingPathComponent("good.json")
        let made = try await runFedshare(
            [
                "attention", "--manifest", federation.manifest.path, "--data", federation.data[1]!.path,
                "--partial-out", good.path,
            ], in: folder, name: "attention-partial")
        #expect(made.status == 0, "\(made.stderr)")
        let text = try String(contentsOf: good, encoding: .utf8)
        let cases = [
            (
                "other-manifest.json", text.replacing(#/"manifestHash":"[0-9a-f]+"/#, with: "\"manifestHash\":\"\(String(repeating: "0", count: 64))\""),
                "manifestHash"
            ),
            ("other-bound.json", text.replacingOccurrences(of: "\"maxRecordsPerUser\":3", with: "\"maxRecordsPerUser\":5"), "maxRecordsPerUser"),
        ]
        for (name, content, field) in cases {
            #expect(content != text)
            let file = folder.appendingPathComponent(name)
            try Data(content.utf8).write(to: file)
            let party = try await runFedshare(
                [
                    "party", "--id", "1", "--kit", federation.kit(1).path, "--precomputed", file.path,
                    "--aggregator", "127.0.0.1:9", "--retry-for", "0",
                    "--ledger", folder.appendingPathComponent("ledger.sqlite").path,
                ],
                in: folder, name: "party-\(name)")
            let message = party.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(party.status != 0)
            #expect(message.contains(name) && message.contains("field '\(field)'") && message.split(separator: "\n").count == 1, "\(message)")
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("ledger.sqlite").path), "the refused party touched its ledger")
            var arguments = ["simulate", "--manifest", federation.manifest.path]
            for party in 1...3 { arguments += ["--data", federation.data[party]!.path] }
            let simulate = try await runFedshare(
                arguments + ["--precomputed", "1=\(file.path)", "--no-noise", "--out", folder.appendingPathComponent("out").path],
                in: folder, name: "simulate-\(name)")
            #expect(simulate.status != 0 && simulate.stderr.contains("field '\(field)'"), "\(simulate.stderr)")
        }
    }

    static func caseFolder(_ federation: ProvisionedFederation, _ name: String) throws -> URL {
        let folder = federation.folder.appendingPathComponent(name, isDirectory: true)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }
}
