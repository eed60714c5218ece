import Catalog
import Federation
import Foundation
import Testing

/// The federated catalog through the CLI: `fedshare catalog import` per world, `fedshare party
/// --catalog` publishes on joining, `fedshare catalog query --kit` asks the running aggregator.
@Suite("End to end: the federated catalog", .serialized, .timeLimit(.minutes(5)))
struct CatalogEndToEndTests {
    @Test func partiesPublishOnJoiningAndQueryTheMergedDirectory() async throws {
        let federation = try await Federations.shared.federation("secagg")
        // Two rounds: after the first, the aggregator waits at the second's join, still serving
        // the queries; its join window outlasts the test on a loaded machine (the test kills it).
        let run = try await RoundRun(federation, name: "catalog", joinTimeout: 280, aggregatorArguments: ["--rounds", "2"])
        var passed = false
        defer { run.finish(removing: passed) }
        let examples = packageRoot.appendingPathComponent("Examples/three-worlds/catalog")
        let files = [1: "world-1.jsonl", 2: "world-2.csv", 3: "world-3.jsonl"].mapValues { examples.appendingPathComponent($0) }
        // The oracle: the three worlds in one local catalog, under the directory's world names.
        let oracle = try Catalog(path: run.folder.appendingPathComponent("oracle.sqlite").path, access: .create)
        for party in 1...3 {
            let catalog = run.folder.appendingPathComponent("world-\(party).sqlite")
            let imported = try await runFedshare(
                ["catalog", "import", "--catalog", catalog.path, files[party]!.path],
                in: run.folder, name: "import-\(party)")
            #expect(imported.status == 0, "\(imported.stderr)")
            try oracle.importEntries(try EntryFile.read(path: files[party]!.path), world: "party-\(party)")
            try run.startParty(party, ["--catalog", catalog.path])
        }
        for party in 1...3 {
            let process = try #require(run.parties[party])
            #expect(try await process.exitStatus() == 0, "party \(party): \(process.stderr)")
            let published = process.events.first { $0["event"] as? String == "catalog" }
            #expect((published?["detail"] as? String)?.hasSuffix("as world party-\(party)") == true, "party \(party): \(process.stdout)")
        }
        for (asker, filters) in [(1, [String]()), (3, ["--text", "concert"]), (2, ["--where", "kind=venue", "--limit", "0"])] {
            let answer = try await runFedshare(
                ["catalog", "query", "--kit", federation.kit(asker).path, "--aggregator", run.address, "--json"]
                    + filters, in: run.folder, name: "query-\(asker)")
            #expect(answer.status == 0, "party \(asker): \(answer.stderr)")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [[String: Any]])
            var query = CatalogQuery()
            if filters.first == "--text" { query.text = "concert" }
            if filters.first == "--where" { query = CatalogQuery(conditions: [.init(key: "kind", value: "venue")], limit: 0) }
            let expected = try oracle.search(query)
            #expect(rows.map { "\($0["world"]!)/\($0["id"]!)" } == expected.map { "\($0.world)/\($0.entry.id)" }, "party \(asker)")
            if filters.isEmpty { #expect(Set(rows.compactMap { $0["world"] as? String }) == ["party-1", "party-2", "party-3"]) }
        }
        // The aggregator's own kit is a federation certificate, but not a party's.
        let intruder = try await runFedshare(
            ["catalog", "query", "--kit", federation.aggregatorKit.path, "--aggregator", run.address],
            in: run.folder, name: "query-aggregator")
        #expect(intruder.status != 0)
        #expect(intruder.stderr.contains("only parties may query"), "\(intruder.stderr)")
        passed = true
    }
}
