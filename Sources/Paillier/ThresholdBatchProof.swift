import Arithmetic
import Primitives

// One Chaum–Pedersen proof per party per batch (small-exponent batch verification,
// Bellare–Garay–Rabin, EUROCRYPT 1998), see `Papers/threshold.md` §1 and §3.
//
// For ciphertexts c_1…c_m and the party's values d_j = c_j^{2Δ·s_i}:
//   w_j = 128-bit weights from SHA-256 over (label, key id, party, context, batch digest, m,
//         d_1…d_m), so they are fixed only after every d_j is;
//   C = ∏ c_j^{w_j}, D = ∏ d_j^{w_j} mod n² (public values: variable time);
//   the proof shows log_{C⁴}(D²) = log_v(v_i) exactly as the single-ciphertext proof did.

extension ThresholdPublicKey {
    /// Bits of each batch weight w_j: a single wrong value passes with probability about 2^−128.
    static let batchWeightBits = 128

    /// The weights w_j (each below 2^128) for a party's values: SHA-256 over a label, the key id,
    /// the party, the context, the batch digest, the count and every value at the fixed width of
    /// Z_{n²} gives a seed; w_j is the first 16 bytes of SHA-256(seed ‖ j).
    func batchWeights(party: Int, context: [UInt8], batchDigest: [UInt8], values: [BigInt]) -> [BigInt] {
        var hasher = SHA256.Hasher()
        hasher.updateField(Array(ThresholdEncoding.batchWeightsLabel.utf8))
        hasher.updateField(keyID)
        hasher.updateField(ThresholdEncoding.uint64(UInt64(party)))
        hasher.updateField(context)
        hasher.updateField(batchDigest)
        hasher.updateField(ThresholdEncoding.uint64(UInt64(values.count)))
        for value in values { hasher.updateField(ThresholdEncoding.fixed(value, width: elementLength)) }
        let seed = hasher.finalize()
        let bytes = Self.batchWeightBits / 8
        return values.indices.map { index in
            var expand = SHA256.Hasher()
            expand.updateField(seed)
            expand.updateField(ThresholdEncoding.uint64(UInt64(index)))
            return BigInt(bigEndian: expand.finalize().prefix(bytes))
        }
    }

    /// C = ∏ c_j^{w_j} and D = ∏ d_j^{w_j} mod n², both at once (they share the weights).
    func batchProducts(ciphertexts: [BigInt], values: [BigInt], weights: [BigInt]) -> (c: BigInt, d: BigInt) {
        let products = ThresholdMultiExponentiation.products(
            of: [ciphertexts, values], exponents: weights, exponentBits: Self.batchWeightBits, modulus: nSquared)
        return (products[0], products[1])
    }

    /// The Fiat–Shamir challenge of a batch proof: SHA-256 over a protocol label, the key id,
    /// the party, the context, the batch digest, the count, and C, D, v, v_i, a, b at the fixed
    /// width of Z_{n²}.
    func batchProofChallenge(
        party: Int, context: [UInt8], batchDigest: [UInt8], count: Int, combinedCiphertext: BigInt,
        combinedValue: BigInt, commitmentC: BigInt, commitmentV: BigInt
    ) -> BigInt {
        var hasher = SHA256.Hasher()
        hasher.updateField(Array(ThresholdEncoding.batchProofLabel.utf8))
        hasher.updateField(keyID)
        hasher.updateField(ThresholdEncoding.uint64(UInt64(party)))
        hasher.updateField(context)
        hasher.updateField(batchDigest)
        hasher.updateField(ThresholdEncoding.uint64(UInt64(count)))
        for element in [
            combinedCiphertext, combinedValue, verificationBase, verificationKeys[party - 1], commitmentC,
            commitmentV,
        ] {
            hasher.updateField(ThresholdEncoding.fixed(element, width: elementLength))
        }
        return BigInt(bigEndian: hasher.finalize())
    }

    /// The prover's side: weights, C and D, then the one proof with secret Δ·s_i.
    func proveBatch(
        party: Int, context: [UInt8], batchDigest: [UInt8], ciphertexts: [BigInt], values: [BigInt],
        deltaShare: BigInt, using generator: inout some RandomNumberGenerator
    ) -> ThresholdDecryptionProof {
        let weights = batchWeights(party: party, context: context, batchDigest: batchDigest, values: values)
        let (combinedCiphertext, combinedValue) = batchProducts(ciphertexts: ciphertexts, values: values, weights: weights)
        let c4 = combinedCiphertext.power(BigInt(4), modulus: nSquared)

        // powerSecret needs a positive exponent; r = 0 has probability 2^−|r|.
        var r = BigInt.random(bits: proofRandomnessBits, using: &generator)
        while r.isZero { r = BigInt.random(bits: proofRandomnessBits, using: &generator) }
        r.markSecret()
        defer { r.wipe() }
        let commitments = ThresholdPower(exponent: r, modulus: nSquared)
        var commitmentC = commitments.power(c4)
        var commitmentV = commitments.power(verificationBase)
        defer {
            commitmentC.wipe()
            commitmentV.wipe()
        }
        let challenge = batchProofChallenge(
            party: party, context: context, batchDigest: batchDigest, count: values.count,
            combinedCiphertext: combinedCiphertext, combinedValue: combinedValue, commitmentC: commitmentC,
            commitmentV: commitmentV)
        return ThresholdDecryptionProof(challenge: challenge, response: r + challenge * deltaShare)
    }

    /// The verifier's side, for a share whose header passed: recompute the weights, C and D,
    /// a = C^{4z}·D^{−2e}, b = v^z·v_i^{−e}, and compare the challenge.
    func verifyBatchProof(
        _ share: ThresholdDecryptionShare, ciphertexts: [BigInt], digest: [UInt8],
        table: ThresholdVerificationTable? = nil
    ) -> Bool {
        let proof = share.proof
        guard share.values.count == ciphertexts.count, proof.response.signum > 0 else { return false }
        let weights = batchWeights(party: share.party, context: share.context, batchDigest: digest, values: share.values)
        let (combinedCiphertext, combinedValue) = batchProducts(
            ciphertexts: ciphertexts, values: share.values, weights: weights)
        guard let valueInverse = combinedValue.inverse(modulo: nSquared),
            let keyInverse = verificationKeys[share.party - 1].inverse(modulo: nSquared)
        else { return false }
        let c4 = combinedCiphertext.power(BigInt(4), modulus: nSquared)
        let valueSquaredInverse = valueInverse.multiplied(by: valueInverse, modulo: nSquared)
        // z is public, but OpenSSL's Montgomery ladder is faster than GMP's mpz_powm at these
        // sizes, and one set-up serves both bases.
        let response = ThresholdPower(exponent: proof.response, modulus: nSquared)
        let commitmentC = response.power(c4)
            .multiplied(by: valueSquaredInverse.power(proof.challenge, modulus: nSquared), modulo: nSquared)
        let commitmentV = (table?.power(proof.response) ?? response.power(verificationBase))
            .multiplied(by: keyInverse.power(proof.challenge, modulus: nSquared), modulo: nSquared)
        let expected = batchProofChallenge(
            party: share.party, context: share.context, batchDigest: digest, count: ciphertexts.count,
            combinedCiphertext: combinedCiphertext, combinedValue: combinedValue, commitmentC: commitmentC,
            commitmentV: commitmentV)
        return expected == proof.challenge
    }
}

/// ∏_j b_{l,j}^{e_j} mod m for several base lists l that share the exponents e_j: interleaved
/// 4-bit fixed windows (Straus), one accumulator per list, the squarings shared by every base,
/// the bases split over all cores in contiguous chunks whose partial products are multiplied.
///
/// - Warning: Variable time (table indices depend on the exponents, which are public weights).
///   Never for secret exponents.
enum ThresholdMultiExponentiation {
    static let windowBits = 4

    /// - Precondition: every list has `exponents.count` elements; exponents in 0..<2^exponentBits.
    static func products(of baseLists: [[BigInt]], exponents: [BigInt], exponentBits: Int, modulus: BigInt) -> [BigInt] {
        let count = exponents.count
        let identity = [BigInt](repeating: BigInt(1), count: baseLists.count)
        guard count > 0 else { return identity }
        let workers = min(count, Parallel.defaultWidth)
        let partials = ThresholdConcurrency.map(0..<workers) { worker in
            chunkProducts(
                baseLists: baseLists, exponents: exponents, range: (count * worker / workers)..<(count * (worker + 1) / workers),
                exponentBits: exponentBits, modulus: modulus)
        }
        var result = identity
        for partial in partials {
            for list in result.indices { result[list].multiply(by: partial[list], modulo: modulus) }
        }
        return result
    }

    /// The products over one contiguous range of indices.
    static func chunkProducts(
        baseLists: [[BigInt]], exponents: [BigInt], range: Range<Int>, exponentBits: Int, modulus: BigInt
    ) -> [BigInt] {
        let digitsPerByte = 8 / windowBits
        let byteCount = (exponentBits + 7) / 8
        let windows = byteCount * digitsPerByte
        let mask = UInt8((1 << windowBits) - 1)
        // digits[k][w]: window w (least significant first) of exponent range.lowerBound + k.
        let digits: [[Int]] = range.map { index in
            let bytes = exponents[index].bigEndianBytes(length: byteCount) ?? [UInt8](repeating: 0, count: byteCount)
            var row = [Int](repeating: 0, count: windows)
            for (position, byte) in bytes.reversed().enumerated() {
                row[2 * position] = Int(byte & mask)
                row[2 * position + 1] = Int(byte >> UInt8(windowBits))
            }
            return row
        }
        // tables[l][k][d − 1] = b_{l,k}^d for d = 1…15 (only up to the largest digit used).
        let tables: [[[BigInt]]] = baseLists.map { bases in
            range.enumerated().map { k, index in
                let largest = digits[k].max() ?? 0
                guard largest > 0 else { return [] }
                let base = bases[index].modulo(modulus)
                var row = [base]
                row.reserveCapacity(largest)
                var power = base
                while row.count < largest {
                    power.multiply(by: base, modulo: modulus)
                    row.append(power)
                }
                return row
            }
        }
        var accumulators = [BigInt](repeating: BigInt(1), count: baseLists.count)
        for window in stride(from: windows - 1, through: 0, by: -1) {
            if window != windows - 1 {
                for list in accumulators.indices {
                    for _ in 0..<windowBits { accumulators[list].multiply(by: accumulators[list], modulo: modulus) }
                }
            }
            for k in digits.indices {
                let digit = digits[k][window]
                guard digit != 0 else { continue }
                for list in accumulators.indices {
                    accumulators[list].multiply(by: tables[list][k][digit - 1], modulo: modulus)
                }
            }
        }
        return accumulators
    }
}
