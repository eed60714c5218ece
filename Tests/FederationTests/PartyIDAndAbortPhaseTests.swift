import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Manifest
import Primitives
import Testing

@testable import Federation

/// Party ids that are not 1...n, and the phase an abort is reported in.
@Suite("Round engine: non-contiguous party ids and abort phases")
struct PartyIDAndAbortPhaseTests {
    /// A federation of parties [2, 5, 9] (threshold 2) in memory; shares dealt by rank, as the provisioner does.
    struct SparseFederation {
        let folder: TemporaryFolder
        let manifest: FederationManifest
        let data: [Int: AttentionResult]
        let ledgers: [Int: PrivacyLedger]
        let aggregatorLedger: PrivacyLedger
        let ids = [2, 5, 9]

        init(mode: String) throws {
            folder = try TemporaryFolder()
            manifest = try makeManifest(in: folder, parties: 3, threshold: 2, mode: mode, partyIDs: ids)
            let byRank = try contributions(manifest: manifest, parties: 3)
            var data: [Int: AttentionResult] = [:]
            var ledgers: [Int: PrivacyLedger] = [:]
            for (rank, id) in ids.enumerated() {
                data[id] = byRank[rank + 1]
                ledgers[id] = try PrivacyLedger(path: folder.path("party-\(id).sqlite"))
            }
            self.data = data
            self.ledgers = ledgers
            aggregatorLedger = try PrivacyLedger(path: folder.path("federation.sqlite"))
        }

        func run(drops: [Int: RoundPhase], noNoise: Bool = true) throws -> InMemoryFederation.Report {
            let dealing = manifest.crypto.mode == .paillier ? try TestKeys.shared.dealing(threshold: 2, parties: 3) : nil
            let parties = try ids.map { id in
                InMemoryFederation.Party(
                    id: id, contribution: data[id]!, ledger: ledgers[id]!,
                    keyShare: try dealing.map { $0.shares[try #require(FederationKit.shareIndex(ofParty: id, in: manifest)) - 1] })
            }
            let federation = try InMemoryFederation(
                manifest: manifest, parties: parties, publicKey: dealing?.publicKey,
                aggregatorLedger: aggregatorLedger, drops: drops, noNoise: noNoise)
            var random = SeededRandom(seed: 59)
            return try federation.run(using: &random)
        }

        func clearSum(of parties: [Int]) -> [Double] {
            var sum = [Double](repeating: 0, count: data[ids[0]]!.matrix.count)
            for party in parties { for (i, v) in data[party]!.matrix.enumerated() { sum[i] += v } }
            return sum
        }
    }

    /// Before the fix, `PartyRound` refused party 5's share ("belongs to party 2, not party 5") and
    /// the aggregator refused a key whose share indices 1...3 do not contain 5 and 9.
    @Test(arguments: ["paillier", "secagg"], [nil, RoundPhase.contribute, .decrypt])
    func nonContiguousPartyIDsRelease(mode: String, dropPhase: RoundPhase?) throws {
        let phase: RoundPhase? = mode == "secagg" && dropPhase == .decrypt ? .unmask : dropPhase
        let federation = try SparseFederation(mode: mode)
        // Drop the middle id (share index 2), so the combination must use shares 1 and 3.
        let report = try federation.run(drops: phase.map { [5: $0] } ?? [:])
        let result = try #require(report.result, "\(mode), drop 5@\(String(describing: phase)): \(report.aggregator)")
        let expected = phase == .contribute ? [2, 9] : [2, 5, 9]
        #expect(result.contributors == expected)
        if let phase {
            #expect(result.dropped.map(\.party) == [5])
            #expect(result.dropped.first?.phase == phase)
        }
        let clear = federation.clearSum(of: expected)
        let step = 1 / Double(1 << 32) * Double(expected.count)
        for (released, exact) in zip(result.matrix, clear) { #expect(abs(released - exact) <= step, "\(released) vs \(exact)") }
        // Every party that opened the sum committed its charge.
        for party in expected where party != 5 {
            #expect(try federation.ledgers[party]!.budget(dataset: federation.manifest.name).releases == 1)
        }
    }

    @Test func keyShareOfAnotherRankIsRefused() throws {
        let federation = try SparseFederation(mode: "paillier")
        let dealing = try TestKeys.shared.dealing(threshold: 2, parties: 3)
        // Party 5 holds share 2; share 1 is party 2's.
        #expect(throws: FederationError.self) {
            _ = try PartyRound(
                party: 5, manifest: federation.manifest, contribution: federation.data[5]!,
                credentials: try EphemeralFederationPKI(federation: "sparse", parties: [5]).credentials(party: 5),
                keyShare: dealing.shares[0], publicKey: dealing.publicKey)
        }
        _ = try PartyRound(
            party: 5, manifest: federation.manifest, contribution: federation.data[5]!,
            credentials: try EphemeralFederationPKI(federation: "sparse", parties: [5]).credentials(party: 5),
            keyShare: dealing.shares[1], publicKey: dealing.publicKey)
    }

    /// Two parties hang up after the round opened but before their RoundAccept arrived (what a
    /// SIGKILL right after the contribution was queued looks like). Before the fix the abort
    /// was reported in phase join and the parties were named as dropped at join.
    @Test(arguments: ["paillier", "secagg"])
    func abortAfterOpenNamesThePhaseTheRoundWasIn(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        var random = SeededRandom(seed: 61)
        var aggregator = try AggregatorRound(
            plan: try RoundPlan(manifest: harness.manifest), round: 1, parties: [1, 2, 3],
            key: harness.dealing?.publicKey, using: &random)
        let books = RoundBookkeeper(ledger: harness.aggregatorLedger)
        var opened: [OutgoingMessage] = []
        for party in 1...3 {
            let engine = try PartyRound(
                party: party, manifest: harness.manifest, contribution: harness.data[party]!,
                credentials: try harness.credentials(party), keyShare: harness.dealing?.shares[party - 1],
                publicKey: harness.dealing?.publicKey)
            opened += aggregator.step(books) { $0.receive(engine.hello(), from: party) }
        }
        #expect(opened.contains { if case .open = $0.envelope.body { return true } else { return false } })
        let working: RoundPhase = mode == "paillier" ? .contribute : .advertise
        #expect(aggregator.phase == working)
        _ = aggregator.step(books) { $0.partyLeft(2, reason: "its stream failed") }
        let notices = aggregator.step(books) { $0.partyLeft(3, reason: "its stream failed") }
        guard case .aborted(let phase, let reason, let missing)? = aggregator.outcome else {
            Issue.record("expected an abort, got \(String(describing: aggregator.outcome))")
            return
        }
        #expect(phase == working, "\(reason)")
        #expect(missing == [2, 3])
        #expect(aggregator.dropped[2]?.phase == working)
        #expect(aggregator.dropped[3]?.phase == working)
        // Party 1, still there, is told the same phase.
        let notice = try #require(notices.first { $0.party == 1 })
        guard case .abort(let abort) = notice.envelope.body else {
            Issue.record("party 1 got \(String(describing: notice.envelope.body))")
            return
        }
        #expect(RoundPhase(wire: abort.phase) == working)
        #expect(try harness.aggregatorLedger.budget(dataset: harness.manifest.name).pending == 0)
    }

    /// Refusals stay join-phase events: a round every party refuses aborts in join.
    @Test func refusalsStillAbortInJoin() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        for party in 1...3 { try harness.partyLedgers[party]!.setCap(dataset: harness.manifest.name, epsilon: 0.01, delta: 1e-9) }
        let report = try harness.run(noNoise: false)
        guard case .aborted(let phase, _, let missing) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(phase == .join)
        #expect(!missing.isEmpty)
    }
}
