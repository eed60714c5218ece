import Arithmetic
import Foundation
import Primitives
import Testing

@testable import Paillier

/// Bad decryption shares are detected, refused and their sender named; combination goes on
/// when t valid shares remain and fails with a clear list otherwise.
@Suite struct ThresholdFailureTests {
    /// Expects `combine` with exactly `shares` to fail for lack of valid shares, with `party`
    /// rejected for a reason containing `reason`.
    func expectRejected(
        _ scenario: ThresholdScenario, _ shares: [ThresholdDecryptionShare], party: Int, reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            _ = try scenario.publicKey.combine(shares, for: scenario.ciphertexts, context: scenario.context)
            Issue.record("a bad share from party \(party) was accepted", sourceLocation: sourceLocation)
        } catch let error as PaillierError {
            guard case .notEnoughShares(_, _, let rejected, _) = error else {
                Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
                return
            }
            #expect(rejected.map(\.party) == [party], sourceLocation: sourceLocation)
            #expect(rejected.first?.reason.contains(reason) == true, "\(rejected)", sourceLocation: sourceLocation)
            #expect(error.description.contains("party \(party)"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// Expects `combine` with the bad share plus all honest others to succeed, naming the bad party.
    func expectRecovered(
        _ scenario: ThresholdScenario, bad: ThresholdDecryptionShare,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        var shares = scenario.decryptionShares.filter { $0.party != bad.party }
        shares.append(bad)
        let result = try scenario.publicKey.combine(shares, for: scenario.ciphertexts, context: scenario.context)
        #expect(result.plaintexts == scenario.plaintexts, sourceLocation: sourceLocation)
        #expect(result.rejected.map(\.party) == [bad.party], sourceLocation: sourceLocation)
        #expect(!result.usedParties.contains(bad.party), sourceLocation: sourceLocation)
    }

    func relabel(_ share: ThresholdDecryptionShare, party: Int) -> ThresholdDecryptionShare {
        ThresholdDecryptionShare(
            party: party, keyID: share.keyID, context: share.context, batchDigest: share.batchDigest,
            values: share.values, proof: share.proof)
    }

    @Test func shareFromTheWrongPartyIsNamed() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        // Party 2's share presented as party 4's.
        let forged = relabel(scenario.decryptionShares[1], party: 4)
        expectRejected(scenario, scenario.shares(of: [1, 3]) + [forged], party: 4, reason: "does not verify")
        try expectRecovered(scenario, bad: forged)
    }

    @Test func shareForAnotherCiphertextIsNamed() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        var random = SeededRandom(seed: 11)
        let other = try scenario.ciphertexts.map { _ in
            try scenario.publicKey.paillierKey.encrypt(BigInt(17), using: &random)
        }
        let forOther = try scenario.keyShares[2].decryptionShare(
            for: other, publicKey: scenario.publicKey, context: scenario.context, using: &random)
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [forOther], party: 3, reason: "different batch")
        // Even with the batch digest rewritten to match, the proof gives it away.
        let rebound = ThresholdDecryptionShare(
            party: 3, keyID: forOther.keyID, context: forOther.context,
            batchDigest: scenario.decryptionShares[2].batchDigest, values: forOther.values, proof: forOther.proof)
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [rebound], party: 3, reason: "does not verify")
        try expectRecovered(scenario, bad: rebound)
        // A share of the same ciphertexts in another order is refused too.
        let swapped = try scenario.keyShares[2].decryptionShare(
            for: Array(scenario.ciphertexts.reversed()), publicKey: scenario.publicKey, context: scenario.context, using: &random)
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [swapped], party: 3, reason: "different batch")
    }

    func replacing(
        _ share: ThresholdDecryptionShare, values: [BigInt]? = nil, proof: ThresholdDecryptionProof? = nil
    )
        -> ThresholdDecryptionShare
    {
        ThresholdDecryptionShare(
            party: share.party, keyID: share.keyID, context: share.context, batchDigest: share.batchDigest,
            values: values ?? share.values, proof: proof ?? share.proof)
    }

    @Test func tamperedProofIsNamed() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let honest = scenario.decryptionShares[4]
        let proof = honest.proof
        let tamperedResponse = replacing(
            honest, proof: ThresholdDecryptionProof(challenge: proof.challenge, response: proof.response + 1))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [tamperedResponse], party: 5, reason: "batch proof")
        try expectRecovered(scenario, bad: tamperedResponse)

        let tamperedChallenge = replacing(
            honest,
            proof: ThresholdDecryptionProof(
                challenge: proof.challenge.isZero ? BigInt(1) : proof.challenge - 1, response: proof.response))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [tamperedChallenge], party: 5, reason: "does not verify")

        // A changed partial decryption with the honest proof.
        var values = honest.values
        values[2] = values[2].multiplied(by: 4, modulo: scenario.publicKey.nSquared)
        let tamperedValue = replacing(honest, values: values)
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [tamperedValue], party: 5, reason: "does not verify")

        // A zero response (which a constant-time exponentiation would refuse) is a failed proof.
        let zero = replacing(honest, proof: ThresholdDecryptionProof(challenge: proof.challenge, response: 0))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [zero], party: 5, reason: "does not verify")

        // An oversized response or challenge (a resource attack) is refused before any exponentiation.
        let huge = replacing(
            honest, proof: ThresholdDecryptionProof(challenge: proof.challenge, response: BigInt.powerOfTwo(100_000)))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [huge], party: 5, reason: "out-of-range response")
        let negative = replacing(honest, proof: ThresholdDecryptionProof(challenge: -proof.challenge, response: proof.response))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [negative], party: 5, reason: "out-of-range challenge")
    }

    @Test func shareMadeWithAWrongSecretIsNamed() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        var random = SeededRandom(seed: 12)
        let share = scenario.keyShares[1]
        let wrong = try share.decryptionShare(
            for: scenario.values, publicKey: scenario.publicKey, context: scenario.context,
            secretOverride: share.secret + 1, using: &random)
        expectRejected(scenario, scenario.shares(of: [1, 3]) + [wrong], party: 2, reason: "does not verify")
        try expectRecovered(scenario, bad: wrong)
        // Another party's secret under this party's name.
        let borrowed = try share.decryptionShare(
            for: scenario.values, publicKey: scenario.publicKey, context: scenario.context,
            secretOverride: scenario.keyShares[3].secret, using: &random)
        expectRejected(scenario, scenario.shares(of: [1, 3]) + [borrowed], party: 2, reason: "does not verify")
        #expect(throws: PaillierError.self) {
            try scenario.publicKey.verify(wrong, for: scenario.ciphertexts, context: scenario.context)
        }
        try scenario.publicKey.verify(scenario.decryptionShares[1], for: scenario.ciphertexts, context: scenario.context)
    }

    @Test func shareForAnotherRoundOrKeyIsNamed() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        var random = SeededRandom(seed: 13)
        let otherRound = try scenario.keyShares[0].decryptionShare(
            for: scenario.ciphertexts, publicKey: scenario.publicKey, context: Array("round-41".utf8), using: &random)
        expectRejected(scenario, scenario.shares(of: [2, 3]) + [otherRound], party: 1, reason: "\"round-41\"")
        #expect(throws: PaillierError.self) {
            try scenario.publicKey.verify(otherRound, for: scenario.ciphertexts, context: scenario.context)
        }
        // The same context bytes relabelled would break the proof.
        let relabelled = ThresholdDecryptionShare(
            party: 1, keyID: otherRound.keyID, context: scenario.context, batchDigest: otherRound.batchDigest,
            values: otherRound.values, proof: otherRound.proof)
        expectRejected(scenario, scenario.shares(of: [2, 3]) + [relabelled], party: 1, reason: "does not verify")

        // A key dealt from the same primes with other randomness is another key.
        let (otherKey, otherShares) = try scenario.fixture.deal(threshold: 3, parties: 5, seed: 1234)
        #expect(otherKey.keyID != scenario.publicKey.keyID)
        let foreign = try otherShares[0].decryptionShare(
            for: scenario.ciphertexts, publicKey: otherKey, context: scenario.context, using: &random)
        expectRejected(scenario, scenario.shares(of: [2, 3]) + [foreign], party: 1, reason: "threshold key")
        #expect(throws: PaillierError.self) {
            _ = try otherShares[0].decryptionShare(
                for: scenario.ciphertexts, publicKey: scenario.publicKey, context: scenario.context, using: &random)
        }
    }

    @Test func duplicateAndUnknownPartiesAreRefused() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        #expect(throws: PaillierError.duplicateShare(party: 2)) {
            _ = try scenario.publicKey.combine(
                scenario.shares(of: [1, 2, 2, 3]), for: scenario.ciphertexts, context: scenario.context)
        }
        let stranger = relabel(scenario.decryptionShares[0], party: 9)
        expectRejected(scenario, scenario.shares(of: [2, 3]) + [stranger], party: 9, reason: "not in 1...5")
        let zero = relabel(scenario.decryptionShares[0], party: 0)
        expectRejected(scenario, scenario.shares(of: [2, 3]) + [zero], party: 0, reason: "not in 1...5")
    }

    @Test func malformedSharesAreRefused() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let honest = scenario.decryptionShares[3]
        let truncated = replacing(honest, values: Array(honest.values.dropLast()))
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [truncated], party: 4, reason: "batch of \(scenario.ciphertexts.count)")
        var values = honest.values
        values[0] = scenario.publicKey.n * 2
        let notUnit = replacing(honest, values: values)
        expectRejected(scenario, scenario.shares(of: [1, 2]) + [notUnit], party: 4, reason: "not in Z*")
    }

    @Test func invalidCiphertextsAreRefused() throws {
        let scenario = try ThresholdScenario(threshold: 2, parties: 3)
        let key = scenario.publicKey
        var random = SeededRandom(seed: 14)
        for bad in [BigInt(0), key.nSquared, key.nSquared + 1, BigInt(-5), scenario.fixture.p * 3] {
            let batch = [scenario.values[0], bad]
            #expect(throws: PaillierError.self) {
                _ = try scenario.keyShares[0].decryptionShare(for: batch, publicKey: key, context: [], using: &random)
            }
            do {
                _ = try key.combine(scenario.shares(of: [1, 2]), for: batch, context: scenario.context)
                Issue.record("ciphertext \(bad) accepted")
            } catch let error as PaillierError {
                guard case .invalidCiphertext(let index, _) = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
                #expect(index == 1)
            }
        }
    }

    @Test func badDealingParametersAreRefused() throws {
        var random = SeededRandom(seed: 15)
        #expect(throws: PaillierError.self) {
            _ = try ThresholdDealer.deal(bits: 2048, threshold: 1, parties: 3, using: &random)
        }
        #expect(throws: PaillierError.self) {
            _ = try ThresholdDealer.deal(bits: 2048, threshold: 4, parties: 3, using: &random)
        }
        #expect(throws: PaillierError.keyTooSmall(bits: 1024, minimum: 2048)) {
            _ = try ThresholdDealer.deal(bits: 1024, threshold: 2, parties: 3, using: &random)
        }
        let fixture = try ThresholdFixture.load(bits: 512)
        #expect(throws: PaillierError.self) {
            // Not safe primes: p′ = (p − 1)/2 composite for p = 2·(3·5·…)+1 style; here simply p + 2.
            _ = try ThresholdDealer.deal(
                safePrimes: fixture.p + 2, fixture.q, threshold: 2, parties: 3, policy: .insecureTestOnly,
                using: &random)
        }
    }

    @Test func smallKeyDealingReportsProgress() throws {
        let events = EventLog()
        var random = SeededRandom(seed: 16)
        let dealing = try ThresholdDealer.deal(
            bits: 256, threshold: 2, parties: 3, policy: .insecureTestOnly, using: &random,
            progress: { events.append($0) })
        #expect(dealing.publicKey.bits == 256)
        let log = events.all
        #expect(log.first == .searchingPrimes(bits: 128))
        #expect(log.contains(.primeFound(found: 2)))
        #expect(log.last == .finished)
        #expect(log.filter { if case .verificationKeyReady = $0 { true } else { false } }.count == 3)
        for share in dealing.shares { try share.verify(against: dealing.publicKey) }
    }
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [ThresholdDealer.Progress] = []

    func append(_ event: ThresholdDealer.Progress) {
        lock.lock()
        events.append(event)
        lock.unlock()
    }

    var all: [ThresholdDealer.Progress] {
        lock.lock()
        defer { lock.unlock() }
        return events
    }
}
