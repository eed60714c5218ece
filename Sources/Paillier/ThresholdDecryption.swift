import Arithmetic
import Primitives

/// A non-interactive proof that a whole batch of partial decryptions d_j = c_j^{2Δ·s_i} was
/// computed with the party's share: one Chaum–Pedersen proof of log_{C⁴}(D²) = log_v(v_i)
/// (= Δ·s_i) for the random linear combinations C = ∏ c_j^{w_j} and D = ∏ d_j^{w_j}, with
/// 128-bit weights w_j derived by Fiat–Shamir from every d_j (Bellare–Garay–Rabin small-exponent
/// batch verification; Shoup 2000 and Damgård–Jurik 2001 for the single proof; see
/// `Papers/threshold.md` §1 and §3).
///
/// The prover picks r of |n²| + |Δ| + 512 bits, sends nothing but e = H(…, C, D, a = C^{4r},
/// b = v^r) (256 bits) and z = r + e·Δ·s_i over the integers; the verifier recomputes the
/// weights, C and D, then a = C^{4z}·D^{−2e}, b = v^z·v_i^{−e}, and checks the hash.
public struct ThresholdDecryptionProof: Sendable, Hashable {
    /// The challenge e (256 bits).
    public let challenge: BigInt
    /// The response z = r + e·Δ·s_i (non-negative).
    public let response: BigInt

    public init(challenge: BigInt, response: BigInt) {
        self.challenge = challenge
        self.response = response
    }
}

/// x ↦ x^e mod m for one exponent and modulus, in constant time: OpenSSL's
/// `BN_mod_exp_mont_consttime` with one Montgomery set-up (`SecretExponentiation`), about a
/// quarter faster than GMP's `mpz_powm_sec` at 4096-bit moduli; GMP's `mpz_powm_sec` if OpenSSL
/// cannot allocate.
struct ThresholdPower: Sendable {
    private let engine: SecretExponentiation?
    private let exponent: BigInt
    private let modulus: BigInt

    /// - Precondition: `exponent` positive, `modulus` odd.
    init(exponent: BigInt, modulus: BigInt) {
        engine = try? SecretExponentiation(exponent: exponent, modulus: modulus)
        self.exponent = exponent
        self.modulus = modulus
    }

    func power(_ base: BigInt) -> BigInt {
        engine?.power(base) ?? base.powerSecret(exponent, modulus: modulus)
    }
}

/// One party's partial decryption of a batch of ciphertexts, with one batch proof for all of it.
///
/// It is bound to the key (``keyID``), to the round or context bytes agreed for this
/// decryption (``context``), to the exact batch (``batchDigest``) and to the party (inside the
/// proof's hash and the weights), so that it cannot be replayed for another key, round, batch
/// or party. A wrong value anywhere refuses the whole share: the proof says that the batch is
/// wrong, not which value.
public struct ThresholdDecryptionShare: Sendable, Hashable, CustomStringConvertible {
    /// The sender's party id.
    public let party: Int
    /// The threshold key's ``ThresholdPublicKey/keyID``.
    public let keyID: [UInt8]
    /// The round/context bytes given to the decryption (e.g. a round id and manifest hash).
    public let context: [UInt8]
    /// SHA-256 over the key id and the ciphertexts of the batch, in order.
    public let batchDigest: [UInt8]
    /// d_j = c_j^{2Δ·s_i} mod n² for each ciphertext c_j of the batch.
    public let values: [BigInt]
    /// The one proof that covers every value.
    public let proof: ThresholdDecryptionProof

    public init(
        party: Int, keyID: [UInt8], context: [UInt8], batchDigest: [UInt8], values: [BigInt],
        proof: ThresholdDecryptionProof
    ) {
        self.party = party
        self.keyID = keyID
        self.context = context
        self.batchDigest = batchDigest
        self.values = values
        self.proof = proof
    }

    public var description: String {
        "ThresholdDecryptionShare(party \(party), \(values.count) values, key \(ThresholdEncoding.hex(keyID).prefixed))"
    }
}

/// The outcome of a combination: the plaintexts, the parties whose shares were used and the
/// shares that were refused (each with its party and reason).
public struct ThresholdCombination: Sendable {
    /// The plaintexts in 0..<n, one per ciphertext.
    public let plaintexts: [BigInt]
    /// The t parties whose shares were combined (the valid ones with the smallest ids).
    public let usedParties: [Int]
    /// Valid shares beyond the t that were needed.
    public let spareParties: [Int]
    /// Shares that were refused.
    public let rejected: [PaillierError.Rejection]
}

// MARK: - Partial decryption

extension ThresholdKeyShare {
    /// This party's partial decryption of `ciphertexts`, with one proof for the whole batch.
    ///
    /// Exponentiations with the secret share and the proof randomness run in constant time
    /// (OpenSSL's Montgomery ladder, GMP's `mpz_powm_sec` as fallback); the batch is spread
    /// over all cores. The weighted products C and D are of public values and use a
    /// variable-time multi-exponentiation.
    ///
    /// - Parameters:
    ///   - ciphertexts: the ciphertext values (each in Z*_{n²}; checked).
    ///   - publicKey: the threshold key this share belongs to (checked by key id).
    ///   - context: the round/context bytes all parties and the combiner agree on.
    ///   - generator: the proof randomness (pass `SecureRandom`).
    ///   - progress: advanced once per ciphertext exponentiated (for a progress display).
    /// - Throws: ``PaillierError`` for a foreign key or an invalid ciphertext.
    /// - Complexity: one exponentiation modulo n² per ciphertext, plus two 128-bit-exponent
    ///   multi-exponentiations over the batch and two exponentiations for the one proof.
    public func decryptionShare(
        for ciphertexts: [BigInt], publicKey: ThresholdPublicKey, context: [UInt8],
        using generator: inout some RandomNumberGenerator, progress: WorkProgress? = nil
    ) throws -> ThresholdDecryptionShare {
        try decryptionShare(
            for: ciphertexts, publicKey: publicKey, context: context, secretOverride: nil, using: &generator,
            progress: progress)
    }

    /// As the public entry point; `secretOverride` lets tests make a share with a wrong secret.
    func decryptionShare(
        for ciphertexts: [BigInt], publicKey: ThresholdPublicKey, context: [UInt8], secretOverride: BigInt?,
        using generator: inout some RandomNumberGenerator, progress: WorkProgress? = nil
    ) throws -> ThresholdDecryptionShare {
        try checkKey(publicKey)
        for (index, c) in ciphertexts.enumerated() { try publicKey.validate(ciphertext: c, index: index) }
        let digest = ThresholdDecryptionShare.batchDigest(ciphertexts, keyID: publicKey.keyID)

        // Δ·s_i and 2Δ·s_i, secret, shared read-only by the workers.
        var deltaShare = publicKey.delta * (secretOverride ?? secret)
        deltaShare.markSecret()
        var exponent = deltaShare << 1
        exponent.markSecret()
        defer {
            deltaShare.wipe()
            exponent.wipe()
        }
        guard deltaShare.signum > 0 else {
            throw PaillierError.malformedKey("the key share of party \(party) is zero")
        }

        // d_j = c_j^{2Δ·s_i}, one constant-time exponentiation each, over all cores.
        let partialDecryption = ThresholdPower(exponent: exponent, modulus: publicKey.nSquared)
        let values = ThresholdConcurrency.map(ciphertexts.indices) { index in
            defer { progress?.advance() }
            return partialDecryption.power(ciphertexts[index])
        }
        let proof = publicKey.proveBatch(
            party: party, context: context, batchDigest: digest, ciphertexts: ciphertexts, values: values,
            deltaShare: deltaShare, using: &generator)
        return ThresholdDecryptionShare(
            party: party, keyID: publicKey.keyID, context: context, batchDigest: digest, values: values, proof: proof)
    }
}

extension ThresholdDecryptionShare {
    /// SHA-256 over a label, the key id and the ciphertexts (length-prefixed), in order.
    public static func batchDigest(_ ciphertexts: [BigInt], keyID: [UInt8]) -> [UInt8] {
        var hasher = SHA256.Hasher()
        hasher.updateField(Array(ThresholdEncoding.batchLabel.utf8))
        hasher.updateField(keyID)
        hasher.updateField(ThresholdEncoding.uint64(UInt64(ciphertexts.count)))
        for c in ciphertexts { hasher.updateField(c.magnitudeBytes()) }
        return hasher.finalize()
    }
}

// MARK: - Verification and combination

extension ThresholdPublicKey {
    /// Bits of the proof randomness r: |n²| + |Δ| + 2·256, so that z = r + e·Δ·s_i hides
    /// e·Δ·s_i (< 2^{256 + |Δ| + |n²|}) up to a statistical distance of 2^−256.
    var proofRandomnessBits: Int { nSquared.bitWidth + delta.bitWidth + 2 * 256 }

    /// The largest bit length an honest response z can have.
    var maximumResponseBits: Int { proofRandomnessBits + 1 }

    /// Checks one party's decryption share for `ciphertexts` under `context`: key, context,
    /// batch, sizes, group membership and the batch proof.
    ///
    /// - Throws: ``PaillierError/wrongKey(what:expected:found:)``,
    ///   ``PaillierError/wrongContext(what:expected:found:)``, ``PaillierError/unknownParty(_:parties:)``
    ///   or ``PaillierError/invalidShare(party:reason:)`` naming the party and what is wrong.
    public func verify(_ share: ThresholdDecryptionShare, for ciphertexts: [BigInt], context: [UInt8]) throws {
        for (index, c) in ciphertexts.enumerated() { try validate(ciphertext: c, index: index) }
        let digest = ThresholdDecryptionShare.batchDigest(ciphertexts, keyID: keyID)
        try checkHeader(share, context: context, digest: digest, count: ciphertexts.count)
        guard verifyBatchProof(share, ciphertexts: ciphertexts, digest: digest) else {
            throw PaillierError.invalidShare(party: share.party, reason: Self.batchProofFailure(count: ciphertexts.count))
        }
    }

    /// The rejection reason of a share whose batch proof fails.
    static func batchProofFailure(count: Int) -> String {
        "the batch proof over its \(count) values does not verify (a wrong value, a wrong secret, another batch or a tampered proof; the whole share is refused)"
    }

    /// The checks that need no exponentiation: key, context, party, batch, counts, ranges.
    func checkHeader(_ share: ThresholdDecryptionShare, context: [UInt8], digest: [UInt8], count: Int) throws {
        guard share.keyID == keyID else {
            throw PaillierError.wrongKey(
                what: "the decryption share from party \(share.party)", expected: fingerprint.prefixed,
                found: ThresholdEncoding.hex(share.keyID).prefixed)
        }
        guard share.context == context else {
            throw PaillierError.wrongContext(
                what: "the decryption share from party \(share.party)", expected: ThresholdEncoding.describe(context),
                found: ThresholdEncoding.describe(share.context))
        }
        guard partyIDs.contains(share.party) else { throw PaillierError.unknownParty(share.party, parties: parties) }
        guard share.values.count == count else {
            throw PaillierError.invalidShare(
                party: share.party, reason: "it has \(share.values.count) values for a batch of \(count) ciphertexts")
        }
        guard share.batchDigest == digest else {
            throw PaillierError.invalidShare(party: share.party, reason: "it was made for a different batch of ciphertexts")
        }
        for index in 0..<count {
            guard ThresholdPublicKey.isUnit(share.values[index], n: n, nSquared: nSquared) else {
                throw PaillierError.invalidShare(party: share.party, reason: "value \(index) is not in Z*_{n²}")
            }
        }
        guard share.proof.challenge.signum >= 0, share.proof.challenge.bitWidth <= 256 else {
            throw PaillierError.invalidShare(party: share.party, reason: "its batch proof has an out-of-range challenge")
        }
        guard share.proof.response.signum >= 0, share.proof.response.bitWidth <= maximumResponseBits else {
            throw PaillierError.invalidShare(party: share.party, reason: "its batch proof has an out-of-range response")
        }
    }

    /// Combines decryption shares into the plaintexts of `ciphertexts`, checking every share.
    ///
    /// Shares from a foreign key, another context or batch, an unknown party, or with a proof
    /// that fails are refused and named; the valid shares with the smallest party ids are
    /// combined when at least t remain.
    ///
    /// - Returns: the plaintexts in 0..<n, with the parties used and refused.
    /// - Throws: ``PaillierError/duplicateShare(party:)``, an invalid ciphertext, or
    ///   ``PaillierError/notEnoughShares(threshold:valid:rejected:missing:)`` naming who is
    ///   missing and who was refused.
    public func combine(
        _ shares: [ThresholdDecryptionShare], for ciphertexts: [BigInt], context: [UInt8]
    ) throws -> ThresholdCombination {
        for (index, c) in ciphertexts.enumerated() { try validate(ciphertext: c, index: index) }
        var seen = Set<Int>()
        for share in shares where !seen.insert(share.party).inserted {
            throw PaillierError.duplicateShare(party: share.party)
        }
        let digest = ThresholdDecryptionShare.batchDigest(ciphertexts, keyID: keyID)

        var rejected: [PaillierError.Rejection] = []
        var candidates: [ThresholdDecryptionShare] = []
        for share in shares.sorted(by: { $0.party < $1.party }) {
            do {
                try checkHeader(share, context: context, digest: digest, count: ciphertexts.count)
                candidates.append(share)
            } catch let error as PaillierError {
                rejected.append(.init(party: share.party, reason: error.rejectionReason))
            }
        }

        // One batch proof per remaining share, the shares over all cores (and each share's
        // weighted products over all cores too).
        let checking = candidates
        let table = candidates.count >= Self.tableThreshold ? verificationTableCache.table(for: self) : nil
        let passed = ThresholdConcurrency.map(checking.indices) { index in
            verifyBatchProof(checking[index], ciphertexts: ciphertexts, digest: digest, table: table)
        }
        var valid: [ThresholdDecryptionShare] = []
        for (index, share) in candidates.enumerated() {
            if passed[index] {
                valid.append(share)
            } else {
                rejected.append(.init(party: share.party, reason: Self.batchProofFailure(count: ciphertexts.count)))
            }
        }
        rejected.sort { $0.party < $1.party }

        guard valid.count >= threshold else {
            let present = Set(shares.map(\.party))
            throw PaillierError.notEnoughShares(
                threshold: threshold, valid: valid.map(\.party), rejected: rejected,
                missing: partyIDs.filter { !present.contains($0) })
        }
        let used = Array(valid.prefix(threshold))
        let plaintexts = try combineVerified(used.map { ($0.party, $0.values) }, count: ciphertexts.count)
        return ThresholdCombination(
            plaintexts: plaintexts, usedParties: used.map(\.party), spareParties: valid.dropFirst(threshold).map(\.party),
            rejected: rejected)
    }

    /// Combines exactly t checked shares. Throws if the result is not of the form 1 + k·n,
    /// which valid shares never produce.
    func combineVerified(_ subset: [(party: Int, values: [BigInt])], count: Int) throws -> [BigInt] {
        let results = combineUnchecked(subset, count: count)
        guard let firstFailure = results.firstIndex(where: { $0 == nil }) else { return results.compactMap { $0 } }
        throw PaillierError.invalidShare(
            party: subset[0].party,
            reason:
                "combining parties \(subset.map { String($0.party) }.joined(separator: ", ")) gave no plaintext for ciphertext \(firstFailure); the key or the shares are inconsistent"
        )
    }

    /// c′ = ∏ c_i^{2λ_i}, M = L(c′)·(4Δ²)⁻¹ mod n for any set of parties (no size check, so tests
    /// can show that t − 1 shares do not decrypt); nil where c′ ≢ 1 (mod n).
    func combineUnchecked(_ subset: [(party: Int, values: [BigInt])], count: Int) -> [BigInt?] {
        let coefficients = lagrangeCoefficients(subset.map(\.party))
        return ThresholdConcurrency.map(0..<count) { index -> BigInt? in
            var product = BigInt(1)
            for (position, member) in subset.enumerated() {
                let lambda = coefficients[position]
                var base = member.values[index]
                if lambda.isNegative {
                    guard let inverse = base.inverse(modulo: nSquared) else { return nil }
                    base = inverse
                }
                product.multiply(by: base.power(lambda.magnitude << 1, modulus: nSquared), modulo: nSquared)
            }
            let (quotient, remainder) = (product - 1).floorDivided(by: n)
            guard remainder.isZero else { return nil }
            return quotient.multiplied(by: inverseOfFourDeltaSquared, modulo: n)
        }
    }

    /// λ_i = Δ·∏_{j∈S∖{i}} j/(j − i), integers because Δ = parties!.
    func lagrangeCoefficients(_ subset: [Int]) -> [BigInt] {
        subset.map { i in
            var numerator = delta
            var denominator = BigInt(1)
            for j in subset where j != i {
                numerator *= BigInt(j)
                denominator *= BigInt(j - i)
            }
            return numerator / denominator
        }
    }
}

extension PaillierError {
    /// The reason alone, for a rejection list that already names the party.
    var rejectionReason: String {
        switch self {
        case .invalidShare(_, let reason): return reason
        case .wrongKey(_, let expected, let found): return "made for threshold key \(found), not \(expected)"
        case .wrongContext(_, let expected, let found): return "made for round/context \(found), not \(expected)"
        case .unknownParty(let party, let parties): return "party \(party) is not in 1...\(parties)"
        default: return description
        }
    }
}

// MARK: - Paillier ciphertexts and packed batches

extension ThresholdKeyShare {
    /// This party's partial decryption of a batch of Paillier ciphertexts (see
    /// the `[BigInt]` overload).
    public func decryptionShare(
        for ciphertexts: [PaillierCiphertext], publicKey: ThresholdPublicKey, context: [UInt8],
        using generator: inout some RandomNumberGenerator, progress: WorkProgress? = nil
    ) throws -> ThresholdDecryptionShare {
        try decryptionShare(
            for: ciphertexts.map(\.value), publicKey: publicKey, context: context, using: &generator,
            progress: progress)
    }
}

extension ThresholdPublicKey {
    /// Checks one party's decryption share of a batch of Paillier ciphertexts.
    public func verify(_ share: ThresholdDecryptionShare, for ciphertexts: [PaillierCiphertext], context: [UInt8]) throws {
        try verify(share, for: ciphertexts.map(\.value), context: context)
    }

    /// Combines decryption shares of a batch of Paillier ciphertexts into its plaintexts.
    public func combine(
        _ shares: [ThresholdDecryptionShare], for ciphertexts: [PaillierCiphertext], context: [UInt8]
    ) throws -> ThresholdCombination {
        try combine(shares, for: ciphertexts.map(\.value), context: context)
    }

    /// Combines decryption shares of a packed, homomorphically summed batch and unpacks the
    /// `count` signed slot sums of `contributors` parties.
    ///
    /// - Throws: ``PaillierError`` from combination, or ``PaillierError/overflow(_:)`` when a slot
    ///   sum broke the layout's declared bounds.
    public func combinePackedSum(
        _ shares: [ThresholdDecryptionShare], for ciphertexts: [PaillierCiphertext], context: [UInt8],
        layout: SlotLayout, count: Int, contributors: Int
    ) throws -> (values: [Int64], combination: ThresholdCombination) {
        let combination = try combine(shares, for: ciphertexts, context: context)
        let values = try layout.unpackSum(combination.plaintexts, count: count, contributors: contributors)
        return (values, combination)
    }
}
