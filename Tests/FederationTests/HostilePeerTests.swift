import Arithmetic
import Attention
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Primitives
import Synchronization
import Testing

@testable import Federation
@testable import Paillier

// The hostile-peer suite (issue 8). Each case makes one party misbehave in one way and checks
// that the aggregator cuts that party off, names it in the outcome's `dropped` with a reason
// saying what it did, and still releases the clear sum (no noise) of the parties whose data is
// in the release while at least t honest parties remain; below t it aborts naming who is
// missing. Cases already covered in RoundEngineTests (a zero ciphertext, a masked vector one
// word short, a tampered partial decryption value, a synthetic round id, another manifest, an
// impostor's hello) are not repeated here. Transport cases are in HostileTransportTests.

/// A 512-bit threshold key whose factor p the test knows (to send multiples of p).
final class KnownFactorKey: @unchecked Sendable {
    static let shared = KnownFactorKey()
    private let lock = NSLock()
    private var cached: (dealing: ThresholdDealer.Dealing, p: BigInt)?

    func get() throws -> (dealing: ThresholdDealer.Dealing, p: BigInt) {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        // OpenSSL sets the top two bits, so n has 512 bits.
        var p = try Primes.random(bits: 256, safe: true)
        var q = try Primes.random(bits: 256, safe: true)
        while q == p { q = try Primes.random(bits: 256, safe: true) }
        if p > q { swap(&p, &q) }
        var random = SeededRandom(seed: 808)
        let (dealing, secrets) = try ThresholdDealer.deal(safePrimes: p, q, threshold: 2, parties: 3, policy: .insecureTestOnly, using: &random)
        cached = (dealing, secrets.p)
        return (dealing, secrets.p)
    }
}

/// Envelopes a party sent, by round (to replay them later).
final class EnvelopeRecorder: Sendable {
    private let store = Mutex<[Fedshare_V1_PartyEnvelope]>([])
    func record(_ envelope: Fedshare_V1_PartyEnvelope) { store.withLock { $0.append(envelope) } }
    func first(where predicate: (Fedshare_V1_PartyEnvelope) -> Bool) -> Fedshare_V1_PartyEnvelope? {
        store.withLock { $0.first(where: predicate) }
    }
}

/// A one-shot flag for rewrites that act once.
final class Once: Sendable {
    private let done = Mutex(false)
    /// True the first time only.
    func first() -> Bool {
        done.withLock { done in
            defer { done = true }
            return !done
        }
    }
}

extension Harness {
    /// The federation with another threshold key dealing (Paillier mode).
    func federation(dealing: ThresholdDealer.Dealing, noNoise: Bool = true) throws -> InMemoryFederation {
        let parties = data.keys.sorted().map { id in
            InMemoryFederation.Party(id: id, contribution: data[id]!, ledger: partyLedgers[id]!, keyShare: dealing.shares[id - 1])
        }
        return try InMemoryFederation(
            manifest: manifest, parties: parties, publicKey: dealing.publicKey,
            aggregatorLedger: aggregatorLedger, store: store, noNoise: noNoise)
    }
}

/// Runs `federation` and checks the common expectations: released, `offender` named with a
/// reason containing `reason` (at `phase` when given), the clear sum of the contributors.
@discardableResult
func expectOffenderCutOff(
    _ federation: InMemoryFederation, harness: Harness, offender: Int, contributors: [Int], phase: RoundPhase? = nil,
    reason: String, round: UInt64? = nil, sourceLocation: SourceLocation = #_sourceLocation
) throws -> InMemoryFederation.Report {
    var random = SeededRandom(seed: 77)
    let report = try federation.run(round: round, using: &random)
    let result = try #require(report.result, "expected a release, got \(report.aggregator)", sourceLocation: sourceLocation)
    #expect(result.contributors == contributors, "\(result.dropped)", sourceLocation: sourceLocation)
    let named = result.dropped.first { $0.party == offender }
    #expect(named != nil, "party \(offender) not named in \(result.dropped)", sourceLocation: sourceLocation)
    if let named {
        #expect(named.reason.contains(reason), "reason: \(named.reason)", sourceLocation: sourceLocation)
        // Parties are named by their ids (1…n), never by an internal index.
        #expect(!named.reason.contains("party 0"), "reason: \(named.reason)", sourceLocation: sourceLocation)
        if let phase { #expect(named.phase == phase, "named at \(named.phase.rawValue): \(named.reason)", sourceLocation: sourceLocation) }
    }
    // No honest party is blamed.
    #expect(result.dropped.map(\.party) == [offender], "\(result.dropped)", sourceLocation: sourceLocation)
    let clear = harness.clearSum(of: result.contributors)
    let step = FixedPointCodec(fractionalBits: 32).step * Double(result.contributors.count)
    for (released, exact) in zip(result.matrix, clear.matrix) {
        #expect(abs(released - exact) <= step, "\(released) vs \(exact)", sourceLocation: sourceLocation)
    }
    #expect(result.counts == clear.counts, sourceLocation: sourceLocation)
    // Every honest party got the same result.
    for (party, outcome) in report.parties where party != offender {
        guard case .released(let theirs) = outcome else {
            Issue.record("party \(party) ended with \(outcome)", sourceLocation: sourceLocation)
            continue
        }
        #expect(theirs.sums == result.sums, sourceLocation: sourceLocation)
    }
    return report
}

/// The first ciphertext of a contribution chunk replaced by `value` (fixed width, as on the wire).
func replacingFirstCiphertext(_ chunk: Fedshare_V1_ContributionChunk, with value: BigInt, width: Int) -> Fedshare_V1_ContributionChunk {
    var chunk = chunk
    var bytes = [UInt8](chunk.ciphertexts)
    let header = 45
    let encoded = value.bigEndianBytes(length: width) ?? [UInt8](repeating: 0xFF, count: width)
    bytes.replaceSubrange(header..<(header + width), with: encoded)
    chunk.ciphertexts = Data(bytes)
    return chunk
}

@Suite("Hostile peers: the round engine cuts offenders off, names them and releases the right sum")
struct HostilePeerTests {
    // MARK: Ciphertexts outside Z*_{n²}

    enum BadCiphertext: String, CaseIterable, Sendable { case nSquared, aboveNSquared, multipleOfP, n }

    @Test(arguments: BadCiphertext.allCases)
    func ciphertextOutsideTheGroup(_ kind: BadCiphertext) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let (dealing, p) = try KnownFactorKey.shared.get()
        let key = dealing.publicKey.paillierKey
        let value: BigInt
        switch kind {
        case .nSquared: value = key.nSquared
        case .aboveNSquared: value = key.nSquared + BigInt(12345)
        case .multipleOfP: value = p * BigInt(977)
        case .n: value = key.n
        }
        var federation = try harness.federation(dealing: dealing)
        let width = key.ciphertextByteCount
        federation.intercept = { party, envelope in
            guard party == 3, case .contribution(let chunk) = envelope.body, chunk.chunk.index == 0 else { return envelope }
            var tampered = envelope
            tampered.body = .contribution(replacingFirstCiphertext(chunk, with: value, width: width))
            return tampered
        }
        let expected = kind == .aboveNSquared || kind == .nSquared ? "between 0 and n²" : "shares a factor with n"
        try expectOffenderCutOff(federation, harness: harness, offender: 3, contributors: [1, 2], phase: .contribute, reason: expected)
    }

    // MARK: Wrong lengths and counts

    enum BadShape: String, CaseIterable, Sendable {
        case announcesOneMoreCiphertext, oneCiphertextShort, oneCiphertextTooMany, chunkTotalChanges
        case maskedOneWordTooMany, maskedWrongWordCount
        case partialOneValueShort, partialProofsMissing
    }

    @Test(arguments: BadShape.allCases)
    func wrongLengthOrCount(_ shape: BadShape) throws {
        let paillier = ![.maskedOneWordTooMany, .maskedWrongWordCount].contains(shape)
        let harness = try Harness(parties: 3, threshold: 2, mode: paillier ? "paillier" : "secagg")
        var federation = try harness.federation()
        let key = harness.dealing?.publicKey.paillierKey
        let offender = 2
        federation.intercept = { party, envelope in
            guard party == offender else { return envelope }
            var tampered = envelope
            switch (shape, envelope.body) {
            case (.announcesOneMoreCiphertext, .contribution(var chunk)):
                chunk.ciphertextCount += 1
                tampered.body = .contribution(chunk)
            case (.oneCiphertextShort, .contribution(var chunk)), (.oneCiphertextTooMany, .contribution(var chunk)):
                guard let key, var batch = try? CiphertextBatchCodec.decode(Array(chunk.ciphertexts), key: key) else { return envelope }
                if shape == .oneCiphertextShort { batch.removeLast() } else { batch.append(batch[0]) }
                chunk.ciphertexts = Data(CiphertextBatchCodec.encode(batch, key: key))
                tampered.body = .contribution(chunk)
            case (.chunkTotalChanges, .contribution(var chunk)):
                chunk.chunk.total = 0
                tampered.body = .contribution(chunk)
            case (.maskedOneWordTooMany, .maskedInput(var chunk)):
                chunk.words.append(42)
                tampered.body = .maskedInput(chunk)
            case (.maskedWrongWordCount, .maskedInput(var chunk)):
                chunk.wordCount += 7
                tampered.body = .maskedInput(chunk)
            case (.partialOneValueShort, .partialDecryption(var chunk)):
                chunk.values.removeLast()
                tampered.body = .partialDecryption(chunk)
            case (.partialProofsMissing, .partialDecryption(var chunk)):
                // The batch proof travels in chunk 0 only.
                chunk.clearBatchProof()
                tampered.body = .partialDecryption(chunk)
            default: break
            }
            return tampered
        }
        let decrypting = [.partialOneValueShort, .partialProofsMissing].contains(shape)
        let reason: String
        switch shape {
        case .announcesOneMoreCiphertext: reason = "ciphertext_count"
        case .oneCiphertextShort: reason = "last chunk arrived with"
        case .oneCiphertextTooMany: reason = "more than the"
        case .chunkTotalChanges: reason = "chunk.total"
        case .maskedOneWordTooMany: reason = "first_word"
        case .maskedWrongWordCount: reason = "word_count"
        case .partialOneValueShort: reason = "values"
        case .partialProofsMissing: reason = "batch_proof"
        }
        try expectOffenderCutOff(
            federation, harness: harness, offender: offender,
            contributors: decrypting ? [1, 2, 3] : [1, 3],
            phase: decrypting ? .decrypt : .contribute, reason: reason)
    }

    // MARK: Duplicates

    enum Duplicate: String, CaseIterable, Sendable {
        case hello, paillierAccept, contributionChunk, commitAck, partialDecryption
        case advertiseKeys, shareKeys, maskedInputChunk, unmaskingResponse
    }

    @Test(arguments: Duplicate.allCases)
    func duplicatedMessage(_ duplicate: Duplicate) throws {
        let paillier: Set<Duplicate> = [.hello, .paillierAccept, .contributionChunk, .commitAck, .partialDecryption]
        let harness = try Harness(parties: 3, threshold: 2, mode: paillier.contains(duplicate) ? "paillier" : "secagg")
        var federation = try harness.federation()
        let offender = 1
        federation.rewrite = { party, envelope in
            guard party == offender else { return [envelope] }
            let matches: Bool
            switch (duplicate, envelope.body) {
            case (.hello, .hello), (.paillierAccept, .accept), (.contributionChunk, .contribution), (.commitAck, .commitAck),
                (.partialDecryption, .partialDecryption), (.advertiseKeys, .advertiseKeys), (.shareKeys, .shareKeys),
                (.maskedInputChunk, .maskedInput), (.unmaskingResponse, .unmaskingResponse):
                matches = true
            default: matches = false
            }
            return matches ? [envelope, envelope] : [envelope]
        }
        // Where the offender's data ends up: a duplicate before its contribution is complete
        // keeps it out; after that it stays in the sum (its data is in what the others open).
        let contributors: [Int]
        let phase: RoundPhase
        switch duplicate {
        case .hello: (contributors, phase) = ([2, 3], .join)
        case .paillierAccept: (contributors, phase) = ([2, 3], .contribute)
        case .contributionChunk: (contributors, phase) = ([2, 3], .contribute)
        case .commitAck, .partialDecryption: (contributors, phase) = ([1, 2, 3], .decrypt)
        case .advertiseKeys: (contributors, phase) = ([2, 3], .advertise)
        case .shareKeys: (contributors, phase) = ([2, 3], .share)
        case .maskedInputChunk: (contributors, phase) = ([1, 2, 3], .contribute)
        case .unmaskingResponse: (contributors, phase) = ([1, 2, 3], .unmask)
        }
        let reason = [.advertiseKeys, .shareKeys, .unmaskingResponse].contains(duplicate) ? "duplicate" : "during phase"
        try expectOffenderCutOff(federation, harness: harness, offender: offender, contributors: contributors, phase: phase, reason: reason)
    }

    // MARK: Replays from an earlier round

    enum Replay: String, CaseIterable, Sendable {
        /// Round 1's envelope sent again as it was (its round id is 1).
        case paillierContributionAsIs, paillierPartialAsIs, secaggAdvertiseAsIs, secaggMaskedInputAsIs
        /// Round 1's body in an envelope that claims round 2 (only the content can give it away).
        case paillierPartialRelabelled, secaggMaskedInputRelabelled, secaggUnmaskingRelabelled
    }

    @Test(arguments: Replay.allCases)
    func replayedFromAnEarlierRound(_ replay: Replay) throws {
        let paillier = [.paillierContributionAsIs, .paillierPartialAsIs, .paillierPartialRelabelled].contains(replay)
        let harness = try Harness(parties: 3, threshold: 2, mode: paillier ? "paillier" : "secagg")
        @Sendable func isTarget(_ envelope: Fedshare_V1_PartyEnvelope) -> Bool {
            switch (replay, envelope.body) {
            case (.paillierContributionAsIs, .contribution), (.paillierPartialAsIs, .partialDecryption), (.paillierPartialRelabelled, .partialDecryption),
                (.secaggAdvertiseAsIs, .advertiseKeys), (.secaggMaskedInputAsIs, .maskedInput), (.secaggMaskedInputRelabelled, .maskedInput),
                (.secaggUnmaskingRelabelled, .unmaskingResponse):
                return true
            default: return false
            }
        }
        let offender = 2
        // Round 1: honest; party 2's envelopes are recorded.
        let recorder = EnvelopeRecorder()
        var first = try harness.federation()
        first.intercept = { party, envelope in
            if party == offender { recorder.record(envelope) }
            return envelope
        }
        var random = SeededRandom(seed: 21)
        let round1 = try first.run(using: &random)
        #expect(round1.result != nil, "\(round1.aggregator)")
        let recorded = try #require(recorder.first(where: isTarget))
        #expect(recorded.roundID == round1.round)

        // Round 2: party 2 sends the recorded envelope instead of its own.
        var second = try harness.federation()
        let relabel = [.paillierPartialRelabelled, .secaggMaskedInputRelabelled, .secaggUnmaskingRelabelled].contains(replay)
        second.intercept = { party, envelope in
            guard party == offender, isTarget(envelope) else { return envelope }
            var replayed = recorded
            if relabel { replayed.roundID = envelope.roundID }
            return replayed
        }
        let contributors: [Int]
        let phase: RoundPhase
        let reason: String
        switch replay {
        case .paillierContributionAsIs:
            (contributors, phase, reason) = ([1, 3], .contribute, "message for round \(round1.round) during round \(round1.round + 1)")
        case .paillierPartialAsIs: (contributors, phase, reason) = ([1, 2, 3], .decrypt, "message for round \(round1.round) during round \(round1.round + 1)")
        case .secaggAdvertiseAsIs: (contributors, phase, reason) = ([1, 3], .advertise, "message for round \(round1.round) during round \(round1.round + 1)")
        case .secaggMaskedInputAsIs:
            (contributors, phase, reason) = ([1, 3], .contribute, "message for round \(round1.round) during round \(round1.round + 1)")
        case .paillierPartialRelabelled: (contributors, phase, reason) = ([1, 2, 3], .decrypt, "made for another round or sum")
        case .secaggMaskedInputRelabelled: (contributors, phase, reason) = ([1, 3], .contribute, "session")
        case .secaggUnmaskingRelabelled: (contributors, phase, reason) = ([1, 2, 3], .unmask, "session")
        }
        try expectOffenderCutOff(
            second, harness: harness, offender: offender, contributors: contributors, phase: phase, reason: reason,
            round: round1.round + 1)
    }

    // MARK: Partial decryptions that do not open this sum

    enum BadPartial: String, CaseIterable, Sendable { case validProofForAnotherCiphertext, tamperedProof, trivialValue }

    @Test(arguments: BadPartial.allCases)
    func partialDecryptionThatDoesNotOpenTheSum(_ kind: BadPartial) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: "paillier")
        let dealing = try #require(harness.dealing)
        var federation = try harness.federation()
        // Party 2 is on the decryption committee (parties 1 and 2 contribute first): its bad
        // share makes the aggregator ask party 3, and the round releases with 1 and 3.
        let offender = 2
        let once = Once()
        federation.rewrite = { party, envelope in
            guard party == offender, case .partialDecryption(var chunk) = envelope.body else { return [envelope] }
            var tampered = envelope
            switch kind {
            case .validProofForAnotherCiphertext:
                // A correct share with correct proofs, in this round's context, but for
                // ciphertexts other than the sum.
                guard once.first() else { return [] }
                var random = SeededRandom(seed: 5)
                let others = (0..<Int(chunk.valueCount)).map { BigInt($0 + 2).power(BigInt(65537), modulus: dealing.publicKey.nSquared) }
                guard
                    let forged = try? dealing.shares[offender - 1].decryptionShare(
                        for: others, publicKey: dealing.publicKey, context: Array(chunk.context), using: &random)
                else { return [envelope] }
                return PartialDecryptionChunking.chunks(forged, key: dealing.publicKey).map { forgedChunk in
                    var out = envelope
                    out.body = .partialDecryption(Fedshare_V1_PartialDecryptionChunk(forgedChunk))
                    return out
                }
            case .tamperedProof:
                // The batch proof travels in chunk 0 only.
                guard chunk.hasBatchProof else { return [envelope] }
                var response = [UInt8](chunk.batchProof.response)
                response[response.count - 1] ^= 1
                chunk.batchProof.response = Data(response)
            case .trivialValue:
                // The value 1, as if the party had decrypted nothing.
                var one = [UInt8](repeating: 0, count: chunk.values[0].count)
                one[one.count - 1] = 1
                chunk.values[0] = Data(one)
            }
            tampered.body = .partialDecryption(chunk)
            return [tampered]
        }
        try expectOffenderCutOff(
            federation, harness: harness, offender: offender, contributors: [1, 2, 3], phase: .decrypt,
            reason: "bad partial decryption")
    }

    // MARK: Messages for the wrong phase or mode, and envelopes claiming another party

    enum WrongPhase: String, CaseIterable, Sendable {
        case paillierPartialDuringContribute, paillierCommitAckDuringContribute, paillierResultAckDuringContribute
        case paillierMaskedInputInPaillierMode, paillierContributionDuringDecrypt
        case secaggUnmaskingDuringAdvertise, secaggMaskedInputDuringShare, secaggResultAckDuringShare, secaggContributionInSecAggMode
    }

    @Test(arguments: WrongPhase.allCases)
    func messageForTheWrongPhase(_ wrong: WrongPhase) throws {
        let paillier = wrong.rawValue.hasPrefix("paillier")
        let harness = try Harness(parties: 3, threshold: 2, mode: paillier ? "paillier" : "secagg")
        var federation = try harness.federation()
        let offender = 1
        federation.rewrite = { party, envelope in
            guard party == offender else { return [envelope] }
            var extra = envelope
            switch (wrong, envelope.body) {
            case (.paillierPartialDuringContribute, .accept):
                extra.body = .partialDecryption(.init())
            case (.paillierCommitAckDuringContribute, .accept):
                extra.body = .commitAck(.init())
            case (.paillierResultAckDuringContribute, .accept), (.secaggResultAckDuringShare, .shareKeys):
                extra.body = .resultAck(.init())
            case (.paillierMaskedInputInPaillierMode, .accept):
                extra.body = .maskedInput(.init())
            case (.paillierContributionDuringDecrypt, .commitAck):
                extra.body = .contribution(.init())
            case (.secaggUnmaskingDuringAdvertise, .advertiseKeys):
                extra.body = .unmaskingResponse(.init())
            case (.secaggMaskedInputDuringShare, .shareKeys):
                extra.body = .maskedInput(.init())
            case (.secaggContributionInSecAggMode, .advertiseKeys):
                extra.body = .contribution(.init())
            default:
                return [envelope]
            }
            return [envelope, extra]
        }
        let received: String
        let contributors: [Int]
        let phase: RoundPhase
        switch wrong {
        case .paillierPartialDuringContribute: (received, contributors, phase) = ("PartialDecryptionChunk during phase contribute", [2, 3], .contribute)
        case .paillierCommitAckDuringContribute: (received, contributors, phase) = ("CommitAck during phase contribute", [2, 3], .contribute)
        case .paillierResultAckDuringContribute: (received, contributors, phase) = ("ResultAck during phase contribute", [2, 3], .contribute)
        case .paillierMaskedInputInPaillierMode: (received, contributors, phase) = ("SecAggMaskedInputChunk during phase contribute", [2, 3], .contribute)
        case .paillierContributionDuringDecrypt: (received, contributors, phase) = ("ContributionChunk during phase decrypt", [1, 2, 3], .decrypt)
        case .secaggUnmaskingDuringAdvertise: (received, contributors, phase) = ("SecAggUnmaskingResponse during phase advertise", [2, 3], .advertise)
        case .secaggMaskedInputDuringShare: (received, contributors, phase) = ("SecAggMaskedInputChunk during phase share", [2, 3], .share)
        case .secaggResultAckDuringShare: (received, contributors, phase) = ("ResultAck during phase share", [2, 3], .share)
        case .secaggContributionInSecAggMode: (received, contributors, phase) = ("ContributionChunk during phase advertise", [2, 3], .advertise)
        }
        try expectOffenderCutOff(federation, harness: harness, offender: offender, contributors: contributors, phase: phase, reason: received)
    }

    @Test(arguments: ["paillier", "secagg"])
    func envelopeClaimingAnotherPartyMidRound(mode: String) throws {
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        var federation = try harness.federation()
        // Party 3 (by its certificate) sends its contribution in envelopes claiming party 2.
        federation.intercept = { party, envelope in
            guard party == 3 else { return envelope }
            switch envelope.body {
            case .contribution, .maskedInput:
                var claim = envelope
                claim.partyID = 2
                return claim
            default: return envelope
            }
        }
        try expectOffenderCutOff(
            federation, harness: harness, offender: 3, contributors: [1, 2], phase: .contribute,
            reason: "claims party 2 but the certificate says 3")
    }

    @Test(arguments: ["paillier", "secagg"])
    func tooFewHonestPartiesAbortNamingTheOffenders(mode: String) throws {
        // Two of three parties send garbage at contribute: one honest party is below t = 2.
        let harness = try Harness(parties: 3, threshold: 2, mode: mode)
        var federation = try harness.federation()
        federation.intercept = { party, envelope in
            guard party != 1 else { return envelope }
            var tampered = envelope
            switch envelope.body {
            case .contribution(var chunk):
                chunk.ciphertextCount += 1
                tampered.body = .contribution(chunk)
            case .maskedInput(var chunk):
                chunk.wordCount += 1
                tampered.body = .maskedInput(chunk)
            default: break
            }
            return tampered
        }
        var random = SeededRandom(seed: 9)
        let report = try federation.run(using: &random)
        guard case .aborted(let phase, let reason, let missing) = report.aggregator else {
            Issue.record("expected an abort, got \(report.aggregator)")
            return
        }
        #expect(phase == .contribute, "\(reason)")
        #expect(missing == [2, 3], "\(reason)")
        let federationLedger = try harness.aggregatorLedger.budget(dataset: harness.manifest.name)
        #expect(federationLedger.releases == 0 && federationLedger.pending == 0)
    }
}
