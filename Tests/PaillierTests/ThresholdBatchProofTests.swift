import Arithmetic
import Foundation
import Primitives
import Testing
import _TestSupport

@testable import Paillier

/// One batch proof per party per decryption: a single wrong value anywhere in the batch refuses
/// the whole share (naming the party), whatever the position; honest batches of any size verify.
@Suite struct ThresholdBatchProofTests {
    /// A 3-of-5 key dealt from the 512-bit fixture's primes, a batch of `count` random
    /// ciphertexts and every party's share of it.
    struct Batch {
        let publicKey: ThresholdPublicKey
        let keyShares: [ThresholdKeyShare]
        let plaintexts: [BigInt]
        let ciphertexts: [BigInt]
        let context: [UInt8]
        let shares: [ThresholdDecryptionShare]

        init(count: Int, threshold: Int = 3, parties: Int = 5, seed: UInt64) throws {
            let fixture = try ThresholdFixture.load(bits: 512)
            (publicKey, keyShares) = try fixture.deal(threshold: threshold, parties: parties, seed: 40)
            var random = SeededRandom(seed: seed)
            let key = publicKey.paillierKey
            let plaintexts = (0..<count).map { _ in BigInt.random(below: key.n, using: &random) }
            self.plaintexts = plaintexts
            ciphertexts = try plaintexts.map { try key.encrypt($0, method: .fast, using: &random).value }
            context = Array("batch-round-\(seed)".utf8)
            let publicKey = publicKey
            let ciphertexts = ciphertexts
            let context = context
            shares = try keyShares.map {
                try $0.decryptionShare(for: ciphertexts, publicKey: publicKey, context: context, using: &random)
            }
        }

        /// `share` with `values` in place of its own, the proof kept.
        func with(_ share: ThresholdDecryptionShare, values: [BigInt]) -> ThresholdDecryptionShare {
            ThresholdDecryptionShare(
                party: share.party, keyID: share.keyID, context: share.context, batchDigest: share.batchDigest,
                values: values, proof: share.proof)
        }

        /// Expects `verify` to refuse `share` for its batch proof, and `combine` to name its party
        /// and still decrypt from the honest others.
        func expectRefused(_ share: ThresholdDecryptionShare, _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) {
            do {
                try publicKey.verify(share, for: ciphertexts, context: context)
                Issue.record("accepted: \(comment)", sourceLocation: sourceLocation)
            } catch let error as PaillierError {
                #expect(error.description.contains("party \(share.party)"), sourceLocation: sourceLocation)
                #expect(error.description.contains("batch proof"), "\(error)", sourceLocation: sourceLocation)
            } catch {
                Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            }
        }

        func expectRecovered(_ bad: ThresholdDecryptionShare, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let others = shares.filter { $0.party != bad.party }
            let result = try publicKey.combine(others + [bad], for: ciphertexts, context: context)
            #expect(result.plaintexts == plaintexts, sourceLocation: sourceLocation)
            #expect(result.rejected.map(\.party) == [bad.party], sourceLocation: sourceLocation)
            #expect(result.rejected.first?.reason.contains("does not verify") == true, sourceLocation: sourceLocation)
            #expect(!result.usedParties.contains(bad.party), sourceLocation: sourceLocation)
        }
    }

    @Test func honestBatchesVerifyAndCombine() throws {
        for count in [0, 1, 2, 21] {
            let batch = try Batch(count: count, seed: UInt64(100 + count))
            for share in batch.shares { try batch.publicKey.verify(share, for: batch.ciphertexts, context: batch.context) }
            let result = try batch.publicKey.combine(batch.shares, for: batch.ciphertexts, context: batch.context)
            #expect(result.plaintexts == batch.plaintexts, "batch of \(count)")
            #expect(result.usedParties == [1, 2, 3] && result.spareParties == [4, 5] && result.rejected.isEmpty)
        }
    }

    /// A batch of 24: one value off, at every position, by three kinds of error: times 1 + n
    /// (which would shift the decrypted plaintext), times a random unit, and the value another
    /// secret would give. Each is refused and the party named.
    @Test func aSingleWrongValueAtAnyPositionIsRefused() throws {
        let batch = try Batch(count: 24, seed: 1)
        let key = batch.publicKey
        let honest = batch.shares[1]
        var random = SeededRandom(seed: 2)
        let shift = key.n + 1
        var wrongSecret = batch.keyShares[1].secret + 1
        defer { wrongSecret.wipe() }
        let forged = ThresholdPower(exponent: (key.delta * wrongSecret) << 1, modulus: key.nSquared)
        for position in batch.ciphertexts.indices {
            var values = honest.values
            values[position] = values[position].multiplied(by: shift, modulo: key.nSquared)
            batch.expectRefused(batch.with(honest, values: values), "value \(position) times 1 + n")

            values = honest.values
            var unit: BigInt
            repeat { unit = BigInt.random(below: key.nSquared, using: &random) } while BigInt.gcd(unit, key.n) != 1
            values[position] = values[position].multiplied(by: unit, modulo: key.nSquared)
            batch.expectRefused(batch.with(honest, values: values), "value \(position) times a random unit")

            values = honest.values
            values[position] = forged.power(batch.ciphertexts[position])
            batch.expectRefused(batch.with(honest, values: values), "value \(position) from a wrong secret")
        }
        // Combination goes on without the bad party, for a wrong value at the front, middle and end.
        for position in [0, 11, 23] {
            var values = honest.values
            values[position] = values[position].multiplied(by: shift, modulo: key.nSquared)
            try batch.expectRecovered(batch.with(honest, values: values))
        }
    }

    /// The proof is about squares (C⁴, D²): a party may send a value times −1 (an element of
    /// order 2) with a valid proof, and that is harmless because combination raises every value
    /// to an even power. The same flip made by anyone else after the proof breaks it, since the
    /// weights hash the exact values.
    @Test func aSignFlipIsAbsorbedBySquaring() throws {
        let batch = try Batch(count: 5, seed: 3)
        let key = batch.publicKey
        let honest = batch.shares[0]
        var values = honest.values
        values[3] = key.nSquared - values[3]
        batch.expectRefused(batch.with(honest, values: values), "value 3 negated after the proof")

        var random = SeededRandom(seed: 31)
        var deltaShare = key.delta * batch.keyShares[0].secret
        defer { deltaShare.wipe() }
        let proof = key.proveBatch(
            party: 1, context: batch.context, batchDigest: honest.batchDigest, ciphertexts: batch.ciphertexts,
            values: values, deltaShare: deltaShare, using: &random)
        let flipped = ThresholdDecryptionShare(
            party: 1, keyID: honest.keyID, context: honest.context, batchDigest: honest.batchDigest, values: values,
            proof: proof)
        try key.verify(flipped, for: batch.ciphertexts, context: batch.context)
        let result = try key.combine([flipped] + batch.shares[1...2], for: batch.ciphertexts, context: batch.context)
        #expect(result.plaintexts == batch.plaintexts && result.usedParties == [1, 2, 3])
    }

    @Test func swappedDuplicatedAndTruncatedValuesAreRefused() throws {
        let batch = try Batch(count: 20, seed: 4)
        let honest = batch.shares[2]
        var values = honest.values
        values.swapAt(0, 19)
        batch.expectRefused(batch.with(honest, values: values), "values 0 and 19 swapped")
        try batch.expectRecovered(batch.with(honest, values: values))
        values = honest.values
        values.swapAt(7, 8)
        batch.expectRefused(batch.with(honest, values: values), "neighbours swapped")
        values = honest.values
        values[5] = values[6]
        batch.expectRefused(batch.with(honest, values: values), "a value duplicated")
        // Another party's values under this party's proof.
        batch.expectRefused(batch.with(honest, values: batch.shares[3].values), "another party's values")

        let truncated = batch.with(honest, values: Array(honest.values.dropLast()))
        #expect(throws: PaillierError.invalidShare(party: 3, reason: "it has 19 values for a batch of 20 ciphertexts")) {
            try batch.publicKey.verify(truncated, for: batch.ciphertexts, context: batch.context)
        }
    }

    @Test func aProofFromAnotherBatchPartyOrContextIsRefused() throws {
        let batch = try Batch(count: 20, seed: 5)
        let key = batch.publicKey
        var random = SeededRandom(seed: 6)
        let honest = batch.shares[0]
        // The same party's proof for the same ciphertexts in another context, or for a batch
        // missing its last ciphertext, pasted onto the honest values.
        let otherContext = try batch.keyShares[0].decryptionShare(
            for: batch.ciphertexts, publicKey: key, context: Array("other".utf8), using: &random)
        let shorter = try batch.keyShares[0].decryptionShare(
            for: Array(batch.ciphertexts.dropLast()), publicKey: key, context: batch.context, using: &random)
        for (donor, name) in [(otherContext, "another context"), (shorter, "another batch"), (batch.shares[1], "another party")] {
            let pasted = ThresholdDecryptionShare(
                party: honest.party, keyID: honest.keyID, context: honest.context, batchDigest: honest.batchDigest,
                values: honest.values, proof: donor.proof)
            batch.expectRefused(pasted, "a proof from \(name)")
        }
        // A fresh proof of the same party is just as good (the randomness differs).
        let again = try batch.keyShares[0].decryptionShare(
            for: batch.ciphertexts, publicKey: key, context: batch.context, using: &random)
        #expect(again.values == honest.values && again.proof != honest.proof)
        try key.verify(batch.with(honest, values: again.values), for: batch.ciphertexts, context: batch.context)
        // A whole share for another batch, context or key is refused by its header, named.
        #expect(throws: PaillierError.invalidShare(party: 1, reason: "it has 19 values for a batch of 20 ciphertexts")) {
            try key.verify(shorter, for: batch.ciphertexts, context: batch.context)
        }
        #expect(throws: PaillierError.self) { try key.verify(otherContext, for: batch.ciphertexts, context: batch.context) }
        let reordered = try batch.keyShares[0].decryptionShare(
            for: Array(batch.ciphertexts.reversed()), publicKey: key, context: batch.context, using: &random)
        #expect(throws: PaillierError.invalidShare(party: 1, reason: "it was made for a different batch of ciphertexts")) {
            try key.verify(reordered, for: batch.ciphertexts, context: batch.context)
        }
    }

    /// Random batches: sizes 1…12, random plaintexts, a random threshold subset; honest shares
    /// combine, and one random value corrupted at a random position (or the proof's response
    /// nudged) is refused.
    @Test(arguments: 1...6)
    func randomBatches(seed: Int) throws {
        var random = SeededRandom(seed: UInt64(700 + seed))
        let count = Int.random(in: 1...12, using: &random)
        let batch = try Batch(count: count, threshold: 2, parties: 3, seed: UInt64(800 + seed))
        let key = batch.publicKey
        let subset = Array([1, 2, 3].shuffled(using: &random).prefix(2)).sorted()
        let result = try key.combine(subset.map { batch.shares[$0 - 1] }, for: batch.ciphertexts, context: batch.context)
        #expect(result.plaintexts == batch.plaintexts)

        let victim = batch.shares[Int.random(in: 0..<3, using: &random)]
        let position = Int.random(in: 0..<count, using: &random)
        var values = victim.values
        var unit: BigInt
        repeat { unit = BigInt.random(below: key.nSquared, using: &random) } while BigInt.gcd(unit, key.n) != 1 || unit == 1
        values[position] = values[position].multiplied(by: unit.multiplied(by: unit, modulo: key.nSquared), modulo: key.nSquared)
        batch.expectRefused(batch.with(victim, values: values), "seed \(seed): value \(position) of \(count)")
        let nudged = ThresholdDecryptionShare(
            party: victim.party, keyID: victim.keyID, context: victim.context, batchDigest: victim.batchDigest,
            values: victim.values,
            proof: ThresholdDecryptionProof(
                challenge: victim.proof.challenge, response: victim.proof.response + BigInt(Int.random(in: 1...1000, using: &random))))
        batch.expectRefused(nudged, "seed \(seed): response nudged")
    }

    @Test func weightsAreBoundToEveryValueAndTheirContext() throws {
        let batch = try Batch(count: 6, seed: 8)
        let key = batch.publicKey
        let share = batch.shares[0]
        let digest = share.batchDigest
        let weights = key.batchWeights(party: 1, context: batch.context, batchDigest: digest, values: share.values)
        #expect(weights.count == 6)
        #expect(weights.allSatisfy { $0.signum >= 0 && $0.bitWidth <= ThresholdPublicKey.batchWeightBits })
        #expect(Set(weights).count == 6)
        #expect(key.batchWeights(party: 1, context: batch.context, batchDigest: digest, values: share.values) == weights)
        var values = share.values
        values[5] = values[5] + 1
        let changed = key.batchWeights(party: 1, context: batch.context, batchDigest: digest, values: values)
        #expect(zip(weights, changed).allSatisfy { $0 != $1 })
        #expect(key.batchWeights(party: 2, context: batch.context, batchDigest: digest, values: share.values) != weights)
        #expect(key.batchWeights(party: 1, context: [], batchDigest: digest, values: share.values) != weights)
        #expect(key.batchWeights(party: 1, context: batch.context, batchDigest: [UInt8](repeating: 0, count: 32), values: share.values) != weights)
    }

    @Test func multiExponentiationMatchesSeparatePowers() throws {
        let fixture = try ThresholdFixture.load(bits: 512)
        let modulus = fixture.publicKey.nSquared
        var random = SeededRandom(seed: 9)
        for count in [0, 1, 2, 3, 17] {
            let first = (0..<count).map { _ in BigInt.random(below: modulus, using: &random) }
            let second = (0..<count).map { _ in BigInt.random(below: modulus, using: &random) }
            var exponents = (0..<count).map { _ in BigInt.random(bits: 128, using: &random) }
            if count >= 3 {
                exponents[0] = 0
                exponents[1] = BigInt.powerOfTwo(128) - 1
                exponents[2] = 1
            }
            let products = ThresholdMultiExponentiation.products(
                of: [first, second], exponents: exponents, exponentBits: 128, modulus: modulus)
            for (index, bases) in [first, second].enumerated() {
                var expected = BigInt(1)
                for (base, exponent) in zip(bases, exponents) {
                    expected.multiply(by: base.power(exponent, modulus: modulus), modulo: modulus)
                }
                #expect(products[index] == expected, "count \(count), list \(index)")
            }
        }
    }

    /// Writes `Tests/TestVectors/threshold-batch-proof.json` for the independent Python check
    /// `Papers/scripts/threshold_batch_verify.py` (disabled unless asked for):
    ///
    ///     FEDSHARE_WRITE_BATCH_PROOF_VECTOR=1 swift test --filter ThresholdBatchProofTests/writeVector
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEDSHARE_WRITE_BATCH_PROOF_VECTOR"] == "1"))
    func writeVector() throws {
        let batch = try Batch(count: 8, seed: 2026)
        var object: [String: Any] = [
            "testOnly": true,
            "comment":
                "512-bit 3-of-5 test key (insecure): a batch of 8 ciphertexts and every party's decryption share (format version 2, one batch proof each)",
            "publicKey": try JSONSerialization.jsonObject(with: batch.publicKey.jsonData()),
            "context": Base64URL.encode(batch.context),
            "ciphertexts": batch.ciphertexts.map(\.base64URL),
            "plaintexts": batch.plaintexts.map(\.description),
        ]
        object["shares"] = try batch.shares.map { try JSONSerialization.jsonObject(with: $0.jsonData()) }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: TestVectors.directory.appendingPathComponent("threshold-batch-proof.json"))
    }
}
