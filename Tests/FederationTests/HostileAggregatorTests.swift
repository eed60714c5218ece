import Arithmetic
import Primitives
import FederationProtocol
import Foundation
import Synchronization
import Testing
@testable import Federation
@testable import Paillier

// The hostile-aggregator suite (issue 12, Papers/threat-model.md). The aggregator engine runs
// unchanged; `InMemoryFederation.rewriteToParty` plays the deviating aggregator by changing what
// reaches each party. Every honest party must refuse, name the aggregator, and leave its ledger
// settled for the worst case: the charge committed once its contribution left (t others might
// still open a sum holding it), nothing pending, never more than one charge for the round.
// Secure-aggregation cases (equivocated dead lists, survivor sets) are in
// HostileSecAggAggregatorTests below; loopback-TLS cases in HostileTransportTests.

/// Aggregator envelopes seen so far, to replay or recombine them.
final class AggregatorRecorder: Sendable {
    private let store = Mutex<[(party: Int, envelope: Fedshare_V1_AggregatorEnvelope)]>([])
    func record(_ party: Int, _ envelope: Fedshare_V1_AggregatorEnvelope) { store.withLock { $0.append((party, envelope)) } }
    /// The chunks of `sender`'s contribution as relayed to `recipient`.
    func relayed(of sender: Int, to recipient: Int) -> [Fedshare_V1_ContributionChunk] {
        store.withLock { recorded in
            recorded.compactMap { entry -> Fedshare_V1_ContributionChunk? in
                guard entry.party == recipient, case .relayedContribution(let relay)? = entry.envelope.body, Int(relay.party) == sender else { return nil }
                return relay.contribution
            }
        }
    }
}

/// Runs one round and checks that every party in `refusing` refused with a reason naming the
/// aggregator and containing `reason`, and that its ledger holds exactly `charges` committed
/// releases for the federation and nothing pending.
@discardableResult
func expectRefusedByHonestParties(
    _ federation: InMemoryFederation, harness: Harness, refusing: [Int], reason: String, charges: Int = 1,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> InMemoryFederation.Report {
    var random = SeededRandom(seed: 1212)
    let report = try federation.run(using: &random)
    for party in refusing {
        guard case .aborted(_, let why, _)? = report.parties[party] else {
            Issue.record("party \(party) ended with \(String(describing: report.parties[party]))", sourceLocation: sourceLocation)
            continue
        }
        #expect(why.contains("party \(party) refuses: the aggregator "), "party \(party): \(why)", sourceLocation: sourceLocation)
        #expect(why.contains(reason), "party \(party): \(why)", sourceLocation: sourceLocation)
        let budget = try harness.partyLedgers[party]!.budget(dataset: harness.manifest.name)
        #expect(budget.releases == charges && budget.pending == 0, "party \(party): \(budget)", sourceLocation: sourceLocation)
    }
    return report
}

@Suite struct HostileAggregatorPaillierTests {
    /// Every sum envelope arrives twice: once the first copy is decrypted, the second is a
    /// second opening of the round.
    @Test func secondSumInOneRoundIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        var federation = try harness.federation()
        federation.rewriteToParty = { _, envelope in
            if case .encryptedSum = envelope.body { return [envelope, envelope] }
            return [envelope]
        }
        let report = try expectRefusedByHonestParties(federation, harness: harness, refusing: [1, 2, 3],
                                                      reason: "sent a second encrypted sum in round")
        // The first (legitimate) opening may complete; the ledgers hold one charge each, no more.
        #expect(try harness.aggregatorLedger.budget(dataset: harness.manifest.name).pending == 0, "\(report.aggregator)")
    }

    /// The aggregator names a single contributor and sends its ciphertexts as the sum.
    @Test func sumOfFewerThanThresholdContributionsIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let plan = try RoundPlan(manifest: harness.manifest)
        var federation = try harness.federation()
        let recorder = AggregatorRecorder()
        federation.rewriteToParty = { party, envelope in
            recorder.record(party, envelope)
            guard case .encryptedSum(var chunk) = envelope.body else { return [envelope] }
            chunk.contributors = [UInt32(party)]
            chunk.context = Data(plan.decryptionContext(round: envelope.roundID, contributors: [party]))
            var forged = envelope
            forged.encryptedSum = chunk
            return [forged]
        }
        try expectRefusedByHonestParties(federation, harness: harness, refusing: [1, 2, 3],
                                         reason: "decrypts only the sum of at least 2 distinct invited parties")
    }

    /// The aggregator claims the sum of all three but sends one other party's contribution,
    /// which carries only that party's share of the noise.
    @Test func onePartysContributionPresentedAsTheSumIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        var federation = try harness.federation(noNoise: false)
        let recorder = AggregatorRecorder()
        federation.rewriteToParty = { party, envelope in
            recorder.record(party, envelope)
            guard case .encryptedSum(var chunk) = envelope.body else { return [envelope] }
            let victim = party == 1 ? 2 : 1
            let relayed = recorder.relayed(of: victim, to: party)
            guard let piece = relayed.first(where: { $0.chunk.index == chunk.chunk.index }) else { return [envelope] }
            chunk.ciphertexts = piece.ciphertexts
            var forged = envelope
            forged.encryptedSum = chunk
            return [forged]
        }
        let report = try expectRefusedByHonestParties(federation, harness: harness, refusing: [1, 2, 3],
                                                      reason: "sent an encrypted sum that is not the sum of the signed contributions")
        guard case .aborted = report.aggregator else {
            Issue.record("nothing may be released: \(report.aggregator)")
            return
        }
    }

    /// The aggregator shifts party 3's contribution (and the sum with it) by an encryption it
    /// chose; the relayed contribution no longer matches party 3's signature.
    @Test func alteredContributionIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let key = try #require(harness.dealing?.publicKey.paillierKey)
        var federation = try harness.federation()
        var random = SeededRandom(seed: 5)
        let shift = try key.encrypt(BigInt(7), using: &random)
        federation.rewriteToParty = { _, envelope in
            var forged = envelope
            switch envelope.body {
            case .relayedContribution(var relay) where relay.party == 3:
                relay.contribution.ciphertexts = Data(shifted(relay.contribution.ciphertexts, by: shift, key: key))
                forged.relayedContribution = relay
            case .encryptedSum(var chunk):
                chunk.ciphertexts = Data(shifted(chunk.ciphertexts, by: shift, key: key))
                forged.encryptedSum = chunk
            default: break
            }
            return [forged]
        }
        try expectRefusedByHonestParties(federation, harness: harness, refusing: [1, 2],
                                         reason: "relayed a contribution of party 3 that is not party 3's signed contribution")
    }

    /// A relayed contribution without its signature (or with another party's certificate).
    @Test(arguments: ["unsigned", "another certificate", "another CA"])
    func unsignedOrMisattributedContributionIsRefused(_ forgery: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        var federation = try harness.federation()
        let stranger = try EphemeralFederationPKI(federation: harness.manifest.name, parties: [3])
        federation.rewriteToParty = { _, envelope in
            guard case .relayedContribution(var relay) = envelope.body, relay.party == 3, relay.contribution.chunk.index == 0 else { return [envelope] }
            switch forgery {
            case "unsigned": relay.contribution.signature = Data()
            case "another certificate": relay.contribution.certificate = Data(harness.pki.signers[2]!.certificate)
            default: relay.contribution.certificate = Data(stranger.signers[3]!.certificate)
            }
            var forged = envelope
            forged.relayedContribution = relay
            return [forged]
        }
        let expected = ["unsigned": "carries no signature", "another certificate": "not party 3",
                        "another CA": "not signed by this federation's CA"][forgery]!
        try expectRefusedByHonestParties(federation, harness: harness, refusing: [1, 2], reason: expected)
    }

    /// Round 2's relay of party 3 replaced by its round-1 contribution (validly signed, for round 1).
    @Test func contributionReplayedFromAnEarlierRoundIsRefused() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let recorder = AggregatorRecorder()
        var first = try harness.federation()
        first.rewriteToParty = { party, envelope in
            recorder.record(party, envelope)
            return [envelope]
        }
        var random = SeededRandom(seed: 1)
        #expect(try first.run(using: &random).result != nil)
        var second = try harness.federation()
        second.rewriteToParty = { party, envelope in
            guard case .relayedContribution(var relay) = envelope.body, relay.party == 3 else { return [envelope] }
            let old = recorder.relayed(of: 3, to: party)
            guard let piece = old.first(where: { $0.chunk.index == relay.contribution.chunk.index }) else { return [envelope] }
            relay.contribution = piece
            var forged = envelope
            forged.relayedContribution = relay
            return [forged]
        }
        // One charge from round 1, one (worst case) from round 2.
        try expectRefusedByHonestParties(second, harness: harness, refusing: [1, 2],
                                         reason: "relayed a contribution of party 3 that is not party 3's signed contribution to round",
                                         charges: 2)
    }

    /// The honest path: every party checks signatures and recomputes the sum, and the release is
    /// the exact clear sum; the aggregator cuts off a party whose own signature is bad.
    @Test func honestRoundStillReleasesAndABadSignerIsCutOff() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let report = try harness.run()
        let result = try #require(report.result)
        #expect(result.contributors == [1, 2, 3])
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 2, case .contribution(var chunk) = envelope.body, chunk.chunk.index == 0 else { return envelope }
            chunk.signature = Data(repeating: 1, count: 64)
            var forged = envelope
            forged.contribution = chunk
            return forged
        }
        try expectOffenderCutOff(federation, harness: harness, offender: 2, contributors: [1, 3], phase: .contribute,
                                 reason: "its signature does not verify")
    }
}

/// Every fixed-width ciphertext in a `CiphertextBatchCodec` batch multiplied by `shift` (an
/// encryption the aggregator chose): still valid ciphertexts, another plaintext.
func shifted(_ bytes: Data, by shift: PaillierCiphertext, key: PaillierPublicKey) -> [UInt8] {
    guard let batch = try? CiphertextBatchCodec.decode(Array(bytes), key: key) else { return Array(bytes) }
    return CiphertextBatchCodec.encode(batch.map { key.add($0, shift) }, key: key)
}
