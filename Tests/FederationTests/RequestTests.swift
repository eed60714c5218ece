import Attention
import Catalog
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest
import Paillier
import Primitives
import Testing

@testable import Federation

/// Analysts' requests: what the signature binds, what every party checks, and scoped rounds
/// (three-worlds, Paillier, in memory, no noise) against the clear sum over the matching records.
@Suite("Requests and scoped rounds")
struct RequestTests {
    static let example = threeWorlds

    /// A three-worlds federation in memory: each party's data, catalog and policy.
    struct World {
        let folder: TemporaryFolder
        let manifest: FederationManifest
        let pki: EphemeralFederationPKI
        let dealing: ThresholdDealer.Dealing
        let catalogs: [Int: String]
        let ledgers: [Int: PrivacyLedger]

        init() throws {
            folder = try TemporaryFolder()
            manifest = try FederationManifest.load(from: RequestTests.example.appendingPathComponent("manifest.toml"))
            pki = try EphemeralFederationPKI(federation: manifest.name, parties: [1, 2, 3])
            dealing = try TestKeys.shared.dealing(threshold: 2, parties: 3)
            var catalogs: [Int: String] = [:]
            var ledgers: [Int: PrivacyLedger] = [:]
            for (party, file) in [1: "world-1.jsonl", 2: "world-2.csv", 3: "world-3.jsonl"] {
                let path = folder.path("catalog-\(party).sqlite")
                try Catalog(path: path, access: .create).importEntries(
                    try EntryFile.read(path: RequestTests.example.appendingPathComponent("catalog/\(file)").path))
                catalogs[party] = path
                ledgers[party] = try PrivacyLedger(path: folder.path("ledger-\(party).sqlite"))
            }
            self.catalogs = catalogs
            self.ledgers = ledgers
        }

        func data(_ party: Int) -> URL { RequestTests.example.appendingPathComponent("world-\(party).csv") }

        func request(_ scope: CatalogQuery?, analyst: String = "alice") throws -> (verified: RoundRequest, signed: Wire.SignedRoundRequest) {
            let request = RoundRequest.new(manifestHash: manifest.digest, analyst: analyst, scope: scope)
            return (request, try request.signed(by: pki.analysts[analyst]!))
        }

        func federation(
            _ request: (verified: RoundRequest, signed: Wire.SignedRoundRequest)?, policies: [Int: RequestPolicy] = [:]
        ) throws -> InMemoryFederation {
            let parties = try (1...3).map { id in
                var party = InMemoryFederation.Party(
                    id: id, contribution: try LocalAttention.compute(manifest: manifest, dataURL: data(id)), ledger: ledgers[id]!,
                    keyShare: dealing.shares[id - 1])
                party.source = .data(manifest: manifest, dataURL: data(id), catalogPath: catalogs[id], policy: policies[id] ?? manifest.policy)
                return party
            }
            var federation = try InMemoryFederation(
                manifest: manifest, parties: parties, publicKey: dealing.publicKey,
                aggregatorLedger: try PrivacyLedger(path: folder.path("federation-\(UUID().uuidString).sqlite")), noNoise: true, pki: pki)
            federation.request = request
            return federation
        }

        /// `fedshare attention` over the records of `party` whose venue matches `scope` in its catalog.
        func clearSum(_ party: Int, _ scope: CatalogQuery) throws -> AttentionResult {
            let ids = Set(try Catalog(path: catalogs[party]!, access: .readOnly).search(scope).map(\.entry.id))
            let lines = try String(contentsOf: data(party), encoding: .utf8).split(separator: "\n")
            let kept = [lines[0]] + lines.dropFirst().filter { ids.contains(String($0.split(separator: ",").last!)) }
            let file = folder.url.appendingPathComponent("matching-\(party)-\(UUID().uuidString).csv")
            try Data((kept.joined(separator: "\n") + "\n").utf8).write(to: file)
            return try LocalAttention.compute(manifest: manifest, dataURL: file)
        }
    }

    static let scopes: [CatalogQuery] = {
        var december = CatalogQuery(conditions: [.init(key: "kind", value: "event")], limit: 0)
        december.from = try! Instant(rfc3339: "2025-12-01T00:00:00Z")
        december.to = try! Instant(rfc3339: "2025-12-31T23:59:59Z")
        var near = CatalogQuery(limit: 0)
        near.near = .init(center: .init(x: 0, y: 0), radius: 40)
        var box = CatalogQuery(limit: 0)
        box.within = .init(-300, -50, 130, 90)
        return [december, CatalogQuery(text: "music", limit: 0), CatalogQuery(text: "football jazz", limit: 0), near, box, CatalogQuery(limit: 0)]
    }()

    @Test("a scoped round (no noise) releases the clear sum of fedshare attention over each world's matching records", arguments: 0..<scopes.count)
    func scopedRoundEqualsClearSum(index: Int) throws {
        let world = try World()
        let scope = Self.scopes[index]
        var random = SeededRandom(seed: UInt64(index))
        let report = try world.federation(try world.request(scope)).run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2, 3])
        let clear = try (1...3).map { try world.clearSum($0, scope) }
        let matrix = clear.dropFirst().reduce(clear[0].matrix) { zip($0, $1.matrix).map { $0 + $1 } }
        let counts = clear.dropFirst().reduce(clear[0].counts) { zip($0, $1.counts).map { $0 + $1 } }
        #expect(zip(result.matrix, matrix).allSatisfy { abs($0 - $1) < 1e-6 }, "\(result.matrix) against \(matrix)")
        #expect(result.counts == counts)
        // Every party charged its own ledger for the release, naming the analyst.
        for party in 1...3 {
            let entries = try world.ledgers[party]!.history()
            #expect(entries.filter { $0.kind == .commit }.count == 1)
            #expect(entries.first { $0.kind == .reserve }?.analyst == "alice")
        }
    }

    @Test("a world whose policy declines sends nothing and reserves nothing; the round completes with the other two")
    func declineCostsNothing() throws {
        let world = try World()
        let scope = CatalogQuery(conditions: [.init(key: "anchor", value: "music")], limit: 0)
        var random = SeededRandom(seed: 5)
        let report = try world.federation(try world.request(scope), policies: [3: RequestPolicy(acceptedKeys: ["kind"])]).run(using: &random)
        let result = try #require(report.result, "\(report.aggregator)")
        #expect(result.contributors == [1, 2])
        let declined = try #require(result.dropped.first { $0.party == 3 })
        #expect(declined.phase == .join)
        #expect(declined.reason.contains("party 3 declines round") && declined.reason.contains("its policy does not answer filters on 'anchor'"))
        guard case .refused(let reason)? = report.parties[3] else {
            Issue.record("party 3: \(String(describing: report.parties[3]))")
            return
        }
        #expect(reason.contains("declines"))
        #expect(try world.ledgers[3]!.history().isEmpty)
        let clear = try [1, 2].map { try world.clearSum($0, scope) }
        #expect(result.counts == zip(clear[0].counts, clear[1].counts).map { $0 + $1 })
    }

    @Test("fewer matching records than a world's minimum: it declines without saying how many match")
    func minimumRecords() throws {
        let world = try World()
        var random = SeededRandom(seed: 6)
        let report = try world.federation(try world.request(CatalogQuery(text: "jazz", limit: 0)), policies: [2: RequestPolicy(minimumRecords: 4)])
            .run(using: &random)
        let result = try #require(report.result)
        #expect(result.contributors == [1, 3])
        let reason = try #require(result.dropped.first { $0.party == 2 }?.reason)
        #expect(reason.contains("fewer records match than its policy's minimum of 4"))
        #expect(!reason.contains("3 records"))  // world 2 has three jazz visits
    }

    @Test("what the analyst signed is what every party checks: tampering, another role's key, another federation, a stale or replayed request")
    func verification() throws {
        let world = try World()
        let verifier = world.pki.verifier
        let hash = world.manifest.digest
        let (request, signed) = try world.request(Self.scopes[0])
        let checked = try RoundRequest.verified(signed, verifier: verifier, manifestHash: hash)
        #expect(checked == request)
        #expect(checked.scope == Self.scopes[0])

        func refusal(_ signed: Wire.SignedRoundRequest, now: Date = Date(), manifestHash: [UInt8]? = nil) -> String {
            do {
                _ = try RoundRequest.verified(signed, verifier: verifier, manifestHash: manifestHash ?? hash, now: now)
                return "accepted"
            } catch { return "\(error)" }
        }
        var tampered = signed
        tampered.request[tampered.request.count - 1] ^= 1
        #expect(refusal(tampered).contains("malformed") || refusal(tampered).contains("signature does not verify"))
        // A widened scope, re-encoded: the signature no longer covers it.
        var widened = request
        widened.scope = nil
        var rewritten = signed
        rewritten.request = try widened.serialized()
        #expect(refusal(rewritten).contains("its signature does not verify"))
        // A party's key cannot speak for an analyst.
        var byParty = signed
        byParty.certificate = world.pki.signers[1]!.certificate
        byParty.signature = try world.pki.signers[1]!.sign(.roundRequest(requestDigest: SHA256.hash(signed.request)))
        #expect(refusal(byParty).contains("certifies party 1, not analyst alice"))
        // Another federation's analyst certificate.
        let foreign = try EphemeralFederationPKI(federation: world.manifest.name, parties: [1])
        #expect(refusal(try request.signed(by: foreign.analysts["alice"]!)).contains("certificate is refused"))
        #expect(refusal(signed, manifestHash: [UInt8](repeating: 0, count: 32)).contains("another federation's manifest"))
        #expect(refusal(signed, now: Date().addingTimeInterval(2 * 3600)).contains("from this clock"))
        #expect(refusal(Wire.SignedRoundRequest()).contains("malformed"))
        #expect(throws: FederationError.self) { try request.signed(by: world.pki.signers[1]!) }

        // A party answers a request once: the same request in a later round is a replay.
        let answered = AnsweredRequests()
        #expect(answered.remember(request.nonce))
        #expect(!answered.remember(request.nonce))
    }

    @Test("an aggregator that forwards an altered request gets every party's refusal, and nobody's ledger is charged")
    func alteredRequestRefused() throws {
        let world = try World()
        var (request, signed) = try world.request(Self.scopes[1])
        request.scope = nil
        signed.request = try request.serialized()
        var random = SeededRandom(seed: 7)
        let report = try world.federation((request, signed)).run(using: &random)
        guard case .aborted = report.aggregator else {
            Issue.record("\(report.aggregator)")
            return
        }
        for party in 1...3 {
            guard case .refused(let reason)? = report.parties[party] else {
                Issue.record("party \(party)")
                continue
            }
            #expect(reason.contains("its signature does not verify"), "\(reason)")
            #expect(try world.ledgers[party]!.history().isEmpty)
        }
    }
}
