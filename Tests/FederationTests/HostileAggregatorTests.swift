import Arithmetic
import FederationProtocol
import Foundation
import Primitives
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
    /// The chunks of `sender`'s contribution as relayed to `recipient` (in `round`, or any).
    func relayed(of sender: Int, to recipient: Int, round: UInt64? = nil) -> [Fedshare_V1_ContributionChunk] {
        store.withLock { recorded in
            recorded.compactMap { entry -> Fedshare_V1_ContributionChunk? in
                guard entry.party == recipient, round == nil || entry.envelope.roundID == round,
                    case .relayedContribution(let relay)? = entry.envelope.body, Int(relay.party) == sender
                else { return nil }
                return relay.contribution
            }
        }
    }
    /// The first round seen.
    var firstRound: UInt64? { store.withLock { $0.first?.envelope.roundID } }
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

/// Every fixed-width ciphertext in a `CiphertextBatchCodec` batch multiplied by `shift` (an
/// encryption the aggregator chose): still valid ciphertexts, another plaintext.
func shifted(_ bytes: Data, by shift: PaillierCiphertext, key: PaillierPublicKey) -> [UInt8] {
    guard let batch = try? CiphertextBatchCodec.decode(Array(bytes), key: key) else { return Array(bytes) }
    return CiphertextBatchCodec.encode(batch.map { key.add($0, shift) }, key: key)
}

/// Unmasking responses the parties sent: which owners' seed shares and mask-key shares left.
final class RevealedShares: Sendable {
    private let store = Mutex<(seeds: [Int: Set<Int>], maskKeys: [Int: Set<Int>])>(([:], [:]))
    func record(_ party: Int, _ envelope: Fedshare_V1_PartyEnvelope) {
        guard case .unmaskingResponse(let response)? = envelope.body else { return }
        store.withLock { shares in
            for share in response.seedShares { shares.seeds[Int(share.owner), default: []].insert(party) }
            for share in response.maskKeyShares { shares.maskKeys[Int(share.owner), default: []].insert(party) }
        }
    }
    /// Owners for whom at least `threshold` parties revealed each kind: the aggregator could
    /// then remove both masks of that owner and read its input.
    func exposed(threshold: Int) -> [Int] {
        store.withLock { shares in
            shares.seeds.keys.filter { owner in
                (shares.seeds[owner]?.count ?? 0) >= threshold && (shares.maskKeys[owner]?.count ?? 0) >= threshold
            }.sorted()
        }
    }
    var anyRevealed: Bool { store.withLock { !$0.seeds.isEmpty || !$0.maskKeys.isEmpty } }
}

/// What a deviating aggregator does to the envelopes on their way to party `party`.
typealias Tamper = @Sendable (_ party: Int, _ envelope: Fedshare_V1_AggregatorEnvelope) -> [Fedshare_V1_AggregatorEnvelope]

/// Each deviation the honest parties must refuse, run in memory and over loopback TLS alike.
enum Deviation: String, CaseIterable, Sendable, CustomTestStringConvertible {
    // Paillier mode.
    case secondSum = "a second encrypted sum in one round"
    case fewerThanThreshold = "a sum of fewer than t contributions"
    case onePartyAsTheSum = "one party's contribution presented as the sum"
    case alteredContribution = "a contribution (and the sum) shifted by the aggregator"
    case unsignedContribution = "a relayed contribution without its signature"
    case misattributedContribution = "a relayed contribution with another party's certificate"
    case foreignContribution = "a relayed contribution certified by another CA"
    case replayedContribution = "a contribution replayed from an earlier round"
    // Secure-aggregation mode.
    case differentDeadLists = "different dead lists sent to different parties"
    case unsignedSurvivorSet = "an unmasking request without survivor signatures"
    case tooFewSurvivorSignatures = "an unmasking request with fewer than t survivor signatures"
    case wronglySignedSurvivorSet = "survivor signatures that do not verify"
    case survivorSetSignedOverAnotherSet = "a survivor's signature over another set"
    case substitutedKey = "a substituted key in the key directory"

    var testDescription: String { rawValue }

    var mode: String {
        switch self {
        case .differentDeadLists, .unsignedSurvivorSet, .tooFewSurvivorSignatures, .wronglySignedSurvivorSet,
            .survivorSetSignedOverAnotherSet, .substitutedKey:
            return "secagg"
        default: return "paillier"
        }
    }

    /// Rounds to run (the replay needs an honest first round to record).
    var rounds: Int { self == .replayedContribution ? 2 : 1 }

    /// Who is asked to decrypt: the replay needs party 3's contribution relayed to every party
    /// in the first round, which only a committee of everyone guarantees over a real network.
    var committee: DecryptionCommittee { self == .replayedContribution ? .everyone : .threshold }

    /// The parties that must refuse (the victim of a relayed forgery cannot see its own relay).
    var refusing: [Int] {
        switch self {
        case .alteredContribution, .unsignedContribution, .misattributedContribution, .foreignContribution, .replayedContribution: return [1, 2]
        case .substitutedKey: return [1]
        default: return [1, 2, 3]
        }
    }

    /// Committed charges each refusing party's ledger must hold afterwards: one for the round
    /// whose contribution left (worst case), one more for an honest first round, none when it
    /// refused before anything of its data left.
    var charges: Int {
        switch self {
        case .replayedContribution: return 2
        case .substitutedKey: return 0
        default: return 1
        }
    }

    /// Part of the refusal every refusing party must give.
    var reason: String {
        switch self {
        case .secondSum: return "sent a second encrypted sum in round"
        case .fewerThanThreshold: return "decrypts only the sum of at least 2 distinct invited parties"
        case .onePartyAsTheSum: return "sent an encrypted sum that is not the sum of the signed contributions"
        case .alteredContribution: return "relayed a contribution of party 3 that is not party 3's signed contribution"
        case .unsignedContribution: return "carries no signature"
        case .misattributedContribution: return "not party 3"
        case .foreignContribution: return "not signed by this federation's CA"
        case .replayedContribution: return "relayed a contribution of party 3 that is not party 3's signed contribution to round"
        case .differentDeadLists: return "its alive list differs from the survivor set this party signed"
        case .unsignedSurvivorSet, .tooFewSurvivorSignatures: return "valid survivor-set signatures; at least 2"
        case .wronglySignedSurvivorSet, .survivorSetSignedOverAnotherSet: return "does not verify over the survivor set this party signed"
        case .substitutedKey: return "the key of party 3 is unsigned or not signed by party 3"
        }
    }

    /// What the aggregator does. `signers` are the federation's parties' (to sign a statement
    /// the aggregator can get a party to sign for something else); `key` is the Paillier key.
    func tamper(plan: RoundPlan, key: PaillierPublicKey?, signers: [Int: PartySigner]) throws -> Tamper {
        let recorder = AggregatorRecorder()
        let stranger = try EphemeralFederationPKI(federation: plan.federation, parties: [3]).signers[3]!
        var random = SeededRandom(seed: 5)
        let shift = try key.map { try $0.encrypt(BigInt(7), using: &random) }
        let otherSet = try signers[1]!.sign(.secureAggregation(manifestHash: plan.manifestHash, party: 1, transcript: Array("another set".utf8)))
        let deviation = self
        return { party, envelope in
            recorder.record(party, envelope)
            var forged = envelope
            switch (deviation, envelope.body) {
            case (.secondSum, .encryptedSum?):
                return [envelope, envelope]
            case (.fewerThanThreshold, .encryptedSum(var chunk)?):
                chunk.contributors = [UInt32(party)]
                chunk.context = Data(plan.decryptionContext(round: envelope.roundID, contributors: [party]))
                forged.encryptedSum = chunk
            case (.onePartyAsTheSum, .encryptedSum(var chunk)?):
                let victim = party == 1 ? 2 : 1
                guard let piece = recorder.relayed(of: victim, to: party).first(where: { $0.chunk.index == chunk.chunk.index }) else { break }
                chunk.ciphertexts = piece.ciphertexts
                forged.encryptedSum = chunk
            case (.alteredContribution, .relayedContribution(var relay)?) where relay.party == 3:
                relay.contribution.ciphertexts = Data(shifted(relay.contribution.ciphertexts, by: shift!, key: key!))
                forged.relayedContribution = relay
            case (.alteredContribution, .encryptedSum(var chunk)?):
                chunk.ciphertexts = Data(shifted(chunk.ciphertexts, by: shift!, key: key!))
                forged.encryptedSum = chunk
            case (.unsignedContribution, .relayedContribution(var relay)?) where relay.party == 3:
                relay.contribution.signature = Data()
                forged.relayedContribution = relay
            case (.misattributedContribution, .relayedContribution(var relay)?) where relay.party == 3 && relay.contribution.chunk.index == 0:
                relay.contribution.certificate = Data(signers[2]!.certificate)
                forged.relayedContribution = relay
            case (.foreignContribution, .relayedContribution(var relay)?) where relay.party == 3 && relay.contribution.chunk.index == 0:
                relay.contribution.certificate = Data(stranger.certificate)
                forged.relayedContribution = relay
            case (.replayedContribution, .relayedContribution(var relay)?) where relay.party == 3:
                guard let first = recorder.firstRound, envelope.roundID != first,
                    let old = recorder.relayed(of: 3, to: party, round: first).first(where: { $0.chunk.index == relay.contribution.chunk.index })
                else { break }
                relay.contribution = old
                forged.relayedContribution = relay
            case (.differentDeadLists, .unmaskingRequest(var request)?):
                // Party p is told that party p % 3 + 1 dropped after masking.
                let victim = UInt32(party % 3 + 1)
                request.alive = request.alive.filter { $0 != victim }
                request.dead = [victim]
                forged.unmaskingRequest = request
            case (.unsignedSurvivorSet, .unmaskingRequest(var request)?):
                request.signatures = []
                forged.unmaskingRequest = request
            case (.tooFewSurvivorSignatures, .unmaskingRequest(var request)?):
                request.signatures = Array(request.signatures.prefix(1))
                forged.unmaskingRequest = request
            case (.wronglySignedSurvivorSet, .unmaskingRequest(var request)?):
                request.signatures = request.signatures.map {
                    var entry = $0
                    entry.signature = Data(repeating: 7, count: 64)
                    return entry
                }
                forged.unmaskingRequest = request
            case (.survivorSetSignedOverAnotherSet, .unmaskingRequest(var request)?):
                request.signatures = request.signatures.map {
                    var entry = $0
                    if entry.party == 1 { entry.signature = Data(otherSet) }
                    return entry
                }
                forged.unmaskingRequest = request
            case (.substitutedKey, .keyDirectory(var directory)?) where party == 1:
                directory.keys = directory.keys.map { keys in
                    guard keys.party == 3 else { return keys }
                    var substituted = keys
                    substituted.maskPublicKey = Data(repeating: 9, count: 32)
                    return substituted
                }
                forged.keyDirectory = directory
            default: break
            }
            return [forged]
        }
    }
}

@Suite("Hostile aggregator, in memory")
struct HostileAggregatorTests {
    @Test(arguments: Deviation.allCases)
    func everyHonestPartyRefuses(_ deviation: Deviation) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: deviation.mode)
        let plan = try RoundPlan(manifest: harness.manifest)
        var federation = try harness.federation(noNoise: false)
        federation.rewriteToParty = try deviation.tamper(plan: plan, key: harness.dealing?.publicKey.paillierKey, signers: harness.pki.signers)
        let revealed = RevealedShares()
        federation.intercept = { party, envelope in
            revealed.record(party, envelope)
            return envelope
        }
        var random = SeededRandom(seed: 1212)
        if deviation.rounds == 2 { #expect(try federation.run(using: &random).result != nil, "the honest first round") }
        let report = try federation.run(using: &random)
        for party in deviation.refusing {
            guard case .aborted(_, let why, _)? = report.parties[party] else {
                Issue.record("party \(party) ended with \(String(describing: report.parties[party]))")
                continue
            }
            #expect(why.contains("party \(party) refuses: the aggregator ") && why.contains(deviation.reason), "party \(party): \(why)")
            let budget = try harness.partyLedgers[party]!.budget(dataset: harness.manifest.name)
            #expect(budget.releases == deviation.charges && budget.pending == 0, "party \(party): \(budget)")
        }
        // Secure aggregation: nothing that could unmask anyone left any party.
        if deviation.mode == "secagg", deviation.refusing == [1, 2, 3] { #expect(!revealed.anyRevealed) }
        // Whatever the aggregator releases holds no party's input without t noise shares: when
        // every party refused before opening, nothing is released.
        if [.onePartyAsTheSum, .fewerThanThreshold, .differentDeadLists, .unsignedSurvivorSet].contains(deviation) {
            #expect(report.result == nil, "\(report.aggregator)")
        }
    }

    /// The classic attack on the semi-honest protocol, by an aggregator that checks nothing:
    /// party 2 is told that party 3 dropped (so that it would reveal party 3's mask-key share)
    /// while the others are told that it survived (so that they reveal its self-mask seed share).
    @Test func equivocatedSurvivorSetsExposeNoOne() throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "secagg")
        var federation = try harness.federation()
        federation.aggregatorVerifies = false
        let revealed = RevealedShares()
        federation.intercept = { party, envelope in
            revealed.record(party, envelope)
            return envelope
        }
        federation.rewriteToParty = { party, envelope in
            var forged = envelope
            switch envelope.body {
            case .survivorSet(var set) where party == 2:
                set.survivors = [1, 2]
                forged.survivorSet = set
            case .unmaskingRequest(var request) where party == 2:
                request.alive = [1, 2]
                request.dead = [3]
                forged.unmaskingRequest = request
            default: break
            }
            return [forged]
        }
        var random = SeededRandom(seed: 33)
        let report = try federation.run(using: &random)
        guard case .aborted(_, let why, _)? = report.parties[2] else {
            Issue.record("party 2 ended with \(String(describing: report.parties[2]))")
            return
        }
        #expect(why.contains("party 2 refuses: the aggregator sent a SecAggUnmaskingRequest: the signature of party 1 does not verify"), "\(why)")
        #expect(revealed.exposed(threshold: 2).isEmpty, "an owner's seed and mask key both reached the threshold")
        let budget = try harness.partyLedgers[2]!.budget(dataset: harness.manifest.name)
        #expect(budget.releases == 1 && budget.pending == 0, "\(budget)")
    }

    /// The honest path: every party checks signatures and recomputes the sum, and the release is
    /// the exact clear sum; the aggregator cuts off a party whose own signature is bad.
    @Test(arguments: ["paillier", "secagg"])
    func honestRoundReleasesAndABadSignerIsCutOff(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        #expect(try harness.run().result?.contributors == [1, 2, 3])
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party == 2 else { return envelope }
            var forged = envelope
            switch envelope.body {
            case .contribution(var chunk) where chunk.chunk.index == 0:
                chunk.signature = Data(repeating: 1, count: 64)
                forged.contribution = chunk
            case .advertiseKeys(var advertise):
                advertise.keys.signature = Data(repeating: 1, count: 64)
                forged.advertiseKeys = advertise
            default: break
            }
            return forged
        }
        try expectOffenderCutOff(
            federation, harness: harness, offender: 2, contributors: [1, 3],
            phase: mode == "paillier" ? .contribute : .advertise,
            reason: mode == "paillier" ? "its signature does not verify" : "the signature is missing or does not verify")
    }
}

/// The same deviations by a real aggregator runtime over loopback gRPC with mutual TLS: the
/// parties are `PartyRound` engines behind `PartyConnection`; the aggregator's messages are
/// tampered with on their way out (`AggregatorRuntime.Options.tamper`).
@Suite("Hostile aggregator over loopback gRPC with mutual TLS", .serialized, .timeLimit(.minutes(3)))
struct HostileAggregatorTransportTests {
    @Test(arguments: Deviation.allCases)
    func everyHonestPartyRefuses(_ deviation: Deviation) async throws {
        let fixture = try WireFixture(parties: [1, 2, 3], threshold: 2, mode: deviation.mode)
        defer { fixture.remove() }
        try fixture.provision()
        let aggregatorKit = try fixture.kit(.aggregator)
        var signers: [Int: PartySigner] = [:]
        for party in [1, 2, 3] { signers[party] = try fixture.kit(.party(party)).partyCredentials().signer }
        let tamper = try deviation.tamper(
            plan: try RoundPlan(manifest: aggregatorKit.manifest),
            key: aggregatorKit.thresholdPublicKey?.paillierKey, signers: signers)
        let (outcomes, budgets) = try await LoopbackFederation.with(mode: deviation.mode, fixture: fixture, committee: deviation.committee, tamper: tamper) {
            federation in
            var outcomes: [Int: Result<RoundOutcome, any Error>] = [:]
            for _ in 1...deviation.rounds {
                outcomes = try await federation.round { id, federation in await federation.honest(id) }.1
            }
            let budgets = try [1, 2, 3].map { try federation.ledgers[$0]!.budget(dataset: federation.kits[1]!.manifest.name) }
            return (outcomes, budgets)
        }
        for party in deviation.refusing {
            guard case .success(.aborted(_, let why, _))? = outcomes[party] else {
                Issue.record("party \(party) ended with \(String(describing: outcomes[party]))")
                continue
            }
            #expect(why.contains("party \(party) refuses: the aggregator ") && why.contains(deviation.reason), "party \(party): \(why)")
            #expect(budgets[party - 1].releases == deviation.charges && budgets[party - 1].pending == 0, "party \(party): \(budgets[party - 1])")
        }
    }
}
