import DifferentialPrivacy
import Federation
import FederationProtocol
import Foundation
import Manifest
import Primitives
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The federation as a service, in separate processes over loopback gRPC with mutual TLS: an
/// aggregator `--serve`, three parties `--serve` with their catalogs, analysts' requests with
/// `fedshare request`, and the budget per analyst.
@Suite("End to end: the federation as a service", .serialized, .timeLimit(.minutes(6)))
struct ServiceEndToEndTests {
    /// The example federation (Paillier, 2048-bit key) with analysts alice and bob, each capped
    /// between three and four releases, and a budget of ε = 10 for everyone else.
    static func provision(in folder: URL) async throws -> (manifest: URL, kits: URL, cap: Double) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let example = packageRoot.appendingPathComponent("Examples/three-worlds")
        for file in ["anchors.csv", "world-1.csv", "world-2.csv", "world-3.csv"] {
            try FileManager.default.copyItem(at: example.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        var text = try String(contentsOf: example.appendingPathComponent("manifest.toml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "key_bits = 3072", with: "key_bits = 2048")
        text = text.replacingOccurrences(of: "epsilon_budget = 4.0", with: "epsilon_budget = 10.0")
        #expect(text.contains("key_bits = 2048") && text.contains("epsilon_budget = 10.0"), "the example manifest changed shape")
        let manifest = folder.appendingPathComponent("manifest.toml")
        // The cap: between what three and four of this round's releases cost, by the ledger's accountant.
        try Data(text.utf8).write(to: manifest)
        let plan = try RoundPlan(manifest: try FederationManifest.load(from: manifest))
        let three = try PrivacyAccountant.spend(of: [MechanismEvent](repeating: plan.event, count: 3), delta: 1e-5, accountant: .best).epsilon
        let four = try PrivacyAccountant.spend(of: [MechanismEvent](repeating: plan.event, count: 4), delta: 1e-5, accountant: .best).epsilon
        #expect(three < four && four < 10)
        let cap = (three + four) / 2
        text += "\n[analysts]\nnames = [\"alice\", \"bob\"]\nepsilon_cap = \(cap)\n"
        try Data(text.utf8).write(to: manifest)
        let kits = folder.appendingPathComponent("kits")
        let provision = try await runFedshare(["provision", "--manifest", manifest.path, "--out", kits.path], in: folder, name: "provision", within: 300)
        guard provision.status == 0 else { throw HarnessError("fedshare provision failed: \(provision.stderr)") }
        return (manifest, kits, cap)
    }

    @Test func analystsRequestScopedRoundsFromServingParties() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-service-\(UUID().uuidString)")
        let (_, kits, _) = try await Self.provision(in: folder)
        var processes: [String: FedshareProcess] = [:]
        var passed = false
        defer {
            for process in processes.values { process.reap() }
            if passed { try? FileManager.default.removeItem(at: folder) }
        }
        let port = try freeLoopbackPort()
        let address = "127.0.0.1:\(port)"
        let federationLedger = folder.appendingPathComponent("federation-ledger.sqlite")
        processes["aggregator"] = try FedshareProcess(
            "aggregator",
            arguments: [
                "aggregator", "--kit", kits.appendingPathComponent("aggregator").path, "--listen", address, "--serve",
                "--out", folder.appendingPathComponent("rounds").path, "--ledger", federationLedger.path,
                "--join-timeout", "8", "--phase-timeout", "30",
            ], folder: folder)
        let deadline = Date().addingTimeInterval(60)
        while !loopbackPortAccepts(port) {
            guard Date() < deadline, processes["aggregator"]!.process.isRunning else {
                throw HarnessError("the aggregator never listened: \(processes["aggregator"]!.stderr.suffix(800))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Each world's catalog; world 3 answers only filters on kind (its own policy file).
        let catalogs = packageRoot.appendingPathComponent("Examples/three-worlds/catalog")
        for (party, file) in [1: "world-1.jsonl", 2: "world-2.csv", 3: "world-3.jsonl"] {
            let imported = try await runFedshare(
                ["catalog", "import", "--catalog", folder.appendingPathComponent("catalog-\(party).sqlite").path, catalogs.appendingPathComponent(file).path],
                in: folder, name: "import-\(party)")
            #expect(imported.status == 0, "\(imported.stderr)")
        }
        let policy = try folder.write("policy-3.toml", "[policy]\naccept_keys = [\"kind\"]\n")
        func ledger(_ party: Int) -> URL { folder.appendingPathComponent("ledger-\(party).sqlite") }
        func startParty(_ party: Int) throws {
            processes["party-\(party)"] = try FedshareProcess(
                "party-\(party)-\(UUID().uuidString.prefix(4))",
                arguments: [
                    "party", "--id", "\(party)", "--kit", kits.appendingPathComponent("party-\(party)").path,
                    "--data", folder.appendingPathComponent("world-\(party).csv").path, "--catalog",
                    folder.appendingPathComponent("catalog-\(party).sqlite").path, "--aggregator", address,
                    "--ledger", ledger(party).path, "--serve", "--json",
                ] + (party == 3 ? ["--policy", policy.path] : []), folder: folder)
        }
        for party in 1...3 { try startParty(party) }
        let status = try PartyConnection(
            kit: try FederationKit.load(from: kits.appendingPathComponent("aggregator")), aggregator: HostPort(host: "127.0.0.1", port: port),
            retry: RetryPolicy(giveUpAfter: .seconds(2)))
        func waitConnected(_ parties: Set<UInt32>) async throws {
            let until = Date().addingTimeInterval(60)
            while Set(try await status.status().connected) != parties {
                guard Date() < until else { throw HarnessError("parties \(parties) never all connected") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        try await waitConnected([1, 2, 3])

        func request(_ analyst: String, _ name: String, _ filters: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await waitConnected([1, 2, 3])
            return try await runFedshare(
                [
                    "request", "--kit", kits.appendingPathComponent(analyst).path, "--aggregator", address,
                    "--out", folder.appendingPathComponent(name).path,
                ] + filters, in: folder, name: name, within: 180)
        }
        func summary(_ name: String) throws -> RoundOutputs.Summary {
            try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: folder.appendingPathComponent("\(name)/result.json")))
        }
        func releases(_ url: URL) throws -> Int {
            let ledger = try PrivacyLedger(path: url.path, access: .readOnly)
            try ledger.verify()
            return try ledger.budget(dataset: "three-worlds").releases
        }

        // 1. Events in December, across the three worlds.
        let december = ["--where", "kind=event", "--from", "2025-12-01T00:00:00Z", "--to", "2025-12-31T23:59:59Z"]
        let first = try await request("analyst-alice", "december", december)
        #expect(first.status == 0, "\(first.stderr)")
        let decemberSummary = try summary("december")
        #expect(decemberSummary.partiesContributed == [1, 2, 3])
        #expect(decemberSummary.request?.analyst == "alice")
        #expect(decemberSummary.request?.where == ["kind=event"])
        #expect(decemberSummary.request?.from == "2025-12-01T00:00:00Z")
        #expect(decemberSummary.privacyCost.epsilon <= 1.0 && decemberSummary.privacyCost.accountant.isEmpty == false)

        // 2. Party 2 is killed and restarted between requests: it takes part in the next one.
        processes["party-2"]!.killHard()
        _ = try await processes["party-2"]!.exitStatus()
        try startParty(2)
        try await processes["party-2"]!.waitForPhase("join")
        let music = try await request("analyst-bob", "music", ["--text", "music"])
        #expect(music.status == 0, "\(music.stderr)")
        #expect(try summary("music").partiesContributed == [1, 2, 3])
        #expect(try summary("music").request?.analyst == "bob")

        // 3. No filter: every record, as a round has always covered.
        let all = try await request("analyst-alice", "all", [])
        #expect(all.status == 0, "\(all.stderr)")
        #expect(try summary("all").request?.where == nil)
        for url in [federationLedger] + (1...3).map(ledger) { #expect(try releases(url) == 3, "\(url.lastPathComponent)") }

        // 4. World 3's policy declines a filter on anchor: the round completes with the other two,
        //    the analyst is told why, and world 3 spends nothing.
        let anchored = try await request("analyst-alice", "anchored", ["--where", "anchor=music"])
        #expect(anchored.status == 0, "\(anchored.stderr)")
        #expect(try summary("anchored").partiesContributed == [1, 2])
        #expect(anchored.stdout.contains("left out: party 3"), "\(anchored.stdout)")
        #expect(anchored.stdout.contains("its policy does not answer filters on 'anchor'"), "\(anchored.stdout)")
        #expect(try releases(ledger(3)) == 3)
        #expect(try releases(ledger(1)) == 4 && releases(federationLedger) == 4)

        // 5. Alice's third release was her last under her cap: a fourth is refused before any
        //    party hears of it, naming the cap.
        func contributions() -> [Int] { (1...3).map { party in processes["party-\(party)"]!.phases.filter { $0 == "contribute" }.count } }
        let before = contributions()
        let beyond = try await request("analyst-alice", "beyond", december)
        #expect(beyond.status != 0)
        #expect(beyond.stderr.contains("analyst alice's cap of ε = "), "\(beyond.stderr)")
        #expect(beyond.stderr.split(separator: "\n").count == 1, "one line: \(beyond.stderr)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(contributions() == before, "a party heard of the refused request")
        #expect(try releases(federationLedger) == 4)

        // 6. A party's certificate cannot request a round: not through the CLI, nor on the wire.
        let asParty = try await request("party-1", "as-party", [])
        #expect(asParty.status != 0 && asParty.stderr.contains("a request needs an analyst's kit"), "\(asParty.stderr)")
        let partyKit = try FederationKit.load(from: kits.appendingPathComponent("party-1"))
        var forged = Wire.SignedRoundRequest()
        forged.request = try RoundRequest.new(manifestHash: partyKit.manifest.digest, analyst: "alice", scope: nil).serialized()
        forged.certificate = try partyKit.signer().certificate
        forged.signature = try partyKit.signer().sign(.roundRequest(requestDigest: Primitives.SHA256.hash(forged.request)))
        await #expect {
            _ = try await PartyConnection(kit: partyKit, aggregator: HostPort(host: "127.0.0.1", port: port), retry: .never)
                .request(Fedshare_V1_SignedRoundRequest(forged), timeout: .seconds(30))
        } throws: { "\($0)".contains("only analysts may request rounds; this certificate belongs to party 1") }

        // The federation ledger's spend per analyst.
        let byAnalyst = try await runFedshare(["budget", "--ledger", federationLedger.path, "--by-analyst", "--json"], in: folder, name: "by-analyst")
        #expect(byAnalyst.status == 0, "\(byAnalyst.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(byAnalyst.stdout.utf8)) as? [[String: Any]])
        #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0["analyst"] as! String, $0["releases"] as! Int) }) == ["alice": 3, "bob": 1])

        // SIGTERM ends every serving process cleanly.
        for name in ["party-1", "party-2", "party-3", "aggregator"] { kill(processes[name]!.pid, SIGTERM) }
        for name in ["party-1", "party-2", "party-3", "aggregator"] {
            #expect(try await processes[name]!.exitStatus(within: 30) == 0, "\(name): \(processes[name]!.stderr.suffix(600))")
        }
        #expect(processes["party-1"]!.stdout.contains("stopped; ledger settled"))
        passed = true
    }
}

extension URL {
    fileprivate func write(_ name: String, _ text: String) throws -> URL {
        let url = appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url
    }
}
