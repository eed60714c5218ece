import Foundation
import Testing

/// `fedshare provision` with an `[analysts]` table, and the commands that need a party's kit
/// refusing an analyst's (issue 14).
@Suite("End to end: analyst kits")
struct AnalystKitTests {
    @Test("provision issues analyst-NAME/ kits, and fedshare party refuses one with a clear line")
    func partyRefusesAnAnalystKit() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-e2e-analysts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let example = packageRoot.appendingPathComponent("Examples/three-worlds")
        for file in ["anchors.csv", "world-1.csv"] {
            try FileManager.default.copyItem(at: example.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        var text = try String(contentsOf: example.appendingPathComponent("manifest.toml"), encoding: .utf8)
        // Secure aggregation: no threshold key to deal, so provisioning is quick.
        text = text.replacingOccurrences(of: "mode = \"paillier\"", with: "mode = \"secagg\"")
        text += "\n[analysts]\nnames = [\"alice\", \"bob\"]\nepsilon_cap = 2.0\n"
        let manifest = folder.appendingPathComponent("manifest.toml")
        try Data(text.utf8).write(to: manifest)
        let kits = folder.appendingPathComponent("kits")

        let provision = try await runFedshare(["provision", "--manifest", manifest.path, "--out", kits.path], in: folder, name: "provision")
        #expect(provision.status == 0, "\(provision.stderr)")
        #expect(provision.stdout.contains("analyst-alice") && provision.stdout.contains("analyst-bob"), "\(provision.stdout)")
        #expect(provision.stdout.contains("(aggregator/, party-N/, analyst-NAME/)"), "\(provision.stdout)")
        let alice = kits.appendingPathComponent("analyst-alice")
        #expect(FileManager.default.fileExists(atPath: alice.appendingPathComponent("cert.pem").path))

        let party = try await runFedshare(
            ["party", "--kit", alice.path, "--id", "1", "--data", folder.appendingPathComponent("world-1.csv").path, "--retry-for", "0"],
            in: folder, name: "party")
        #expect(party.status != 0)
        #expect(party.stderr.contains("\(alice.path): this is analyst alice's kit; a party needs its own party-N/ kit"), "\(party.stderr)")
        let aggregator = try await runFedshare(["aggregator", "--kit", alice.path], in: folder, name: "aggregator")
        #expect(aggregator.status != 0)
        #expect(aggregator.stderr.contains("this is analyst alice's kit; the aggregator needs aggregator/"), "\(aggregator.stderr)")
    }
}
