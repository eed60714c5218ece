import Arithmetic
import Primitives

/// Which key sizes a caller accepts.
public enum KeySizePolicy: Sendable {
    /// n of at least 2048 bits (the only policy for real use).
    case production
    /// Any n of at least 256 bits. For tests and fixtures only: such keys are breakable.
    case insecureTestOnly

    public var minimumBits: Int {
        switch self {
        case .production: return 2048
        case .insecureTestOnly: return 256
        }
    }
}

/// How the randomiser rⁿ of a fresh encryption is produced.
public enum EncryptionMethod: String, Sendable, Codable, CaseIterable {
    /// r uniformly random in Z*_n, rⁿ mod n² by exponentiation: textbook Paillier, security
    /// from the decisional composite residuosity assumption (DCRA) alone.
    case plain
    /// Damgård–Jurik–Nielsen: hₛ^α for a public hₛ = hⁿ mod n² and a short random α
    /// (n/2 bits), from a precomputed fixed-base table. About an order of magnitude faster.
    /// Security rests on DCRA **and** the assumption that hₛ^α for short α is
    /// indistinguishable from a random n-th residue (DJN 2010 §4.2; used by IPCL, HEU).
    case fast

    /// The default: `fast`. Encryption is the dominant cost of a party's contribution and the
    /// short-exponent assumption is the one Intel's IPCL and SecretFlow's HEU ship by default;
    /// callers who want DCRA alone pass `.plain`.
    public static let `default`: EncryptionMethod = .fast
}

/// A Paillier public key with g = n + 1.
public struct PaillierPublicKey: Sendable, Hashable {
    /// The modulus n = pq.
    public let n: BigInt
    /// n².
    public let nSquared: BigInt
    /// Lazily built fixed-base table for the fast (DJN) randomiser.
    let fastTable: FastEncryptionCache

    /// A public key from its modulus.
    /// - Throws: `PaillierError` if n is even, not above 1, or smaller than `policy` allows.
    public init(n: BigInt, policy: KeySizePolicy = .production) throws {
        guard n.signum > 0, n.isOdd, n.compare(1) > 0 else {
            throw PaillierError.invalidModulus("n must be an odd integer above 1")
        }
        guard n.bitWidth >= policy.minimumBits else {
            throw PaillierError.unsupportedKeySize(bits: n.bitWidth, minimum: policy.minimumBits)
        }
        self.n = n
        self.nSquared = n * n
        self.fastTable = FastEncryptionCache()
    }

    /// The size of n in bits.
    public var bitWidth: Int { n.bitWidth }

    /// SHA-256 of n's big-endian bytes, hex: a stable identity for the key.
    public var fingerprint: String {
        Base16.encode(SHA256.hash(n.magnitudeBytes()))
    }

    /// The bytes a ciphertext occupies in fixed-length encodings.
    public var ciphertextByteCount: Int { (nSquared.bitWidth + 7) / 8 }

    public static func == (lhs: PaillierPublicKey, rhs: PaillierPublicKey) -> Bool { lhs.n == rhs.n }
    public func hash(into hasher: inout Hasher) { hasher.combine(n) }

    // MARK: Validation

    /// A ciphertext from untrusted input, checked to lie in Z*_{n²}: 0 < c < n² and
    /// gcd(c, n) = 1.
    public func ciphertext(_ value: BigInt) throws -> PaillierCiphertext {
        guard value.signum > 0, value < nSquared else {
            throw PaillierError.ciphertextOutOfRange("value must lie strictly between 0 and n² (\(nSquared.bitWidth) bits) for key \(fingerprint.prefix(16))")
        }
        guard BigInt.gcd(value, n).compare(1) == 0 else {
            throw PaillierError.ciphertextOutOfRange("value shares a factor with n, so it is not in Z*_{n²}")
        }
        return PaillierCiphertext(unchecked: value)
    }

    // MARK: Encryption

    /// Encrypts m ∈ [0, n).
    public func encrypt(
        _ plaintext: BigInt, method: EncryptionMethod = .default,
        using generator: inout some RandomNumberGenerator
    ) throws -> PaillierCiphertext {
        guard plaintext.signum >= 0, plaintext < n else {
            throw PaillierError.plaintextOutOfRange("expected 0 ≤ m < n")
        }
        return PaillierCiphertext(unchecked: unrandomised(plaintext).multiplied(by: randomiser(method, using: &generator), modulo: nSquared))
    }

    /// Encrypts every plaintext on all cores, with randomness from the CSPRNG.
    ///
    /// - Parameter progress: advanced once per ciphertext (for a progress display).
    public func encrypt(
        batch plaintexts: [BigInt], method: EncryptionMethod = .default,
        progress: WorkProgress? = nil
    ) throws -> [PaillierCiphertext] {
        if method == .fast { _ = fastTable.table(for: self, expectedEncryptions: plaintexts.count) }
        return try Parallel.map(plaintexts) { plaintext in
            var generator = SecureRandom()
            defer { progress?.advance() }
            return try self.encrypt(plaintext, method: method, using: &generator)
        }
    }

    /// (1 + n)^m = 1 + m·n mod n²: the deterministic part of an encryption.
    func unrandomised(_ plaintext: BigInt) -> BigInt {
        (plaintext * n + 1).modulo(nSquared)
    }

    /// A fresh random n-th residue rⁿ mod n².
    func randomiser(_ method: EncryptionMethod, using generator: inout some RandomNumberGenerator) -> BigInt {
        switch method {
        case .plain:
            var r = BigInt.random(below: n, using: &generator)
            while r.isZero || BigInt.gcd(r, n).compare(1) != 0 { r = BigInt.random(below: n, using: &generator) }
            r.markSecret()
            // The exponent n is public; the base r is secret, so use the constant-time path.
            return r.powerSecret(n, modulus: nSquared)
        case .fast:
            return fastTable.table(for: self).randomiser(using: &generator)
        }
    }

    // MARK: Homomorphic operations

    /// E(a + b) from E(a) and E(b).
    public func add(_ lhs: PaillierCiphertext, _ rhs: PaillierCiphertext) -> PaillierCiphertext {
        PaillierCiphertext(unchecked: lhs.value.multiplied(by: rhs.value, modulo: nSquared))
    }

    /// E(Σ aᵢ) from E(aᵢ); `nil` for an empty list.
    public func sum(_ ciphertexts: [PaillierCiphertext]) -> PaillierCiphertext? {
        guard var accumulator = ciphertexts.first?.value else { return nil }
        for ciphertext in ciphertexts.dropFirst() {
            accumulator.multiply(by: ciphertext.value, modulo: nSquared)
        }
        return PaillierCiphertext(unchecked: accumulator)
    }

    /// E(a + k) from E(a) and a plaintext k (taken mod n). Not re-randomised.
    public func add(_ ciphertext: PaillierCiphertext, plaintext: BigInt) -> PaillierCiphertext {
        PaillierCiphertext(unchecked: ciphertext.value.multiplied(by: unrandomised(plaintext.modulo(n)), modulo: nSquared))
    }

    /// E(k·a) from E(a) and a public scalar k (taken mod n; negatives wrap). Not re-randomised.
    ///
    /// - Warning: Variable time in k, which is public by contract.
    public func multiply(_ ciphertext: PaillierCiphertext, by scalar: BigInt) -> PaillierCiphertext {
        let exponent = scalar.modulo(n)
        if exponent.isZero { return PaillierCiphertext(unchecked: 1) }
        // For a negative k, (c⁻¹)^|k| is far cheaper than c^(n − |k|).
        if scalar.isNegative, scalar.magnitude < exponent, let inverse = ciphertext.value.inverse(modulo: nSquared) {
            return PaillierCiphertext(unchecked: inverse.power(scalar.magnitude, modulus: nSquared))
        }
        return PaillierCiphertext(unchecked: ciphertext.value.power(exponent, modulus: nSquared))
    }

    /// The same plaintext under fresh randomness.
    public func rerandomise(
        _ ciphertext: PaillierCiphertext, method: EncryptionMethod = .default,
        using generator: inout some RandomNumberGenerator
    ) -> PaillierCiphertext {
        PaillierCiphertext(unchecked: ciphertext.value.multiplied(by: randomiser(method, using: &generator), modulo: nSquared))
    }
}

/// A Paillier private key: the factors of n and the CRT constants for decryption.
///
/// Secret values are marked so that their limbs are wiped when freed.
public struct PaillierPrivateKey: Sendable {
    public let publicKey: PaillierPublicKey
    let p: BigInt
    let q: BigInt
    let pSquared: BigInt
    let qSquared: BigInt
    let pMinusOne: BigInt
    let qMinusOne: BigInt
    let hp: BigInt
    let hq: BigInt
    let qInverseModP: BigInt
    /// c ↦ c^(p−1) mod p² and c ↦ c^(q−1) mod q², in constant time.
    let powerModPSquared: SecretExponentiation
    let powerModQSquared: SecretExponentiation

    /// A private key from its prime factors (in either order).
    /// - Throws: `PaillierError.invalidPrivateKey` unless p·q = n with p ≠ q both prime-sized
    ///   and invertibility holds.
    public init(p: BigInt, q: BigInt, publicKey: PaillierPublicKey) throws {
        guard p.signum > 0, q.signum > 0, p != q else { throw PaillierError.invalidPrivateKey("p and q must be distinct positive integers") }
        guard p * q == publicKey.n else { throw PaillierError.invalidPrivateKey("p × q does not equal the public modulus n") }
        // Order the factors so that the CRT recombination is deterministic.
        var (p, q) = p > q ? (p, q) : (q, p)
        p.markSecret()
        q.markSecret()
        self.publicKey = publicKey
        self.p = p
        self.q = q
        var pSquared = p * p
        pSquared.markSecret()
        var qSquared = q * q
        qSquared.markSecret()
        var pMinusOne = p - 1
        pMinusOne.markSecret()
        var qMinusOne = q - 1
        qMinusOne.markSecret()
        self.pSquared = pSquared
        self.qSquared = qSquared
        self.pMinusOne = pMinusOne
        self.qMinusOne = qMinusOne
        // h_p = L_p(g^(p−1) mod p²)⁻¹ mod p, with g = n + 1.
        let g = publicKey.n + 1
        guard var hp = PaillierPrivateKey.lFunction(g.powerSecret(pMinusOne, modulus: pSquared), p).inverse(modulo: p),
            var hq = PaillierPrivateKey.lFunction(g.powerSecret(qMinusOne, modulus: qSquared), q).inverse(modulo: q),
            var qInverse = q.inverse(modulo: p)
        else { throw PaillierError.invalidPrivateKey("the factors do not give an invertible decryption constant (are they prime?)") }
        hp.markSecret()
        hq.markSecret()
        qInverse.markSecret()
        self.hp = hp
        self.hq = hq
        self.qInverseModP = qInverse
        powerModPSquared = try SecretExponentiation(exponent: pMinusOne, modulus: pSquared)
        powerModQSquared = try SecretExponentiation(exponent: qMinusOne, modulus: qSquared)
    }

    /// Generates a key pair with an n of `bits` bits: p and q of `bits`/2 bits each from the
    /// CSPRNG (in parallel), far apart (|p − q| > 2^(bits/2 − 100)).
    public static func generate(bits: Int = 3072, policy: KeySizePolicy = .production) throws -> PaillierPrivateKey {
        guard bits >= policy.minimumBits, bits % 2 == 0 else {
            throw PaillierError.unsupportedKeySize(bits: bits, minimum: policy.minimumBits)
        }
        if policy == .production, ![2048, 3072, 4096].contains(bits) {
            throw PaillierError.unsupportedKeySize(bits: bits, minimum: policy.minimumBits)
        }
        while true {
            let primes = try Parallel.map([0, 1]) { _ in try Primes.random(bits: bits / 2) }
            let (p, q) = (primes[0], primes[1])
            guard (p - q).magnitude.bitWidth > bits / 2 - 100 else { continue }
            let n = p * q
            guard n.bitWidth == bits else { continue }
            let publicKey = try PaillierPublicKey(n: n, policy: policy)
            return try PaillierPrivateKey(p: p, q: q, publicKey: publicKey)
        }
    }

    /// The prime factors, for serialisation by their owner. Handle with care.
    public var factors: (p: BigInt, q: BigInt) { (p, q) }

    /// Decrypts with the Chinese remainder theorem, exponentiating modulo p² and q² in constant
    /// time (the exponents p − 1 and q − 1 are secret) through OpenSSL's Montgomery ladder.
    public func decrypt(_ ciphertext: PaillierCiphertext) -> BigInt {
        let c = ciphertext.value
        let mp = PaillierPrivateKey.lFunction(powerModPSquared.power(c), p).multiplied(by: hp, modulo: p)
        let mq = PaillierPrivateKey.lFunction(powerModQSquared.power(c), q).multiplied(by: hq, modulo: q)
        // Garner: m = mq + q · ((mp − mq) · q⁻¹ mod p).
        return mq + q * (mp - mq).multiplied(by: qInverseModP, modulo: p)
    }

    /// Decrypts every ciphertext on all cores.
    public func decrypt(batch ciphertexts: [PaillierCiphertext]) -> [BigInt] {
        // decrypt(_:) cannot throw, so neither can the parallel map.
        (try? Parallel.map(ciphertexts) { self.decrypt($0) }) ?? []
    }

    /// L(x) = (x − 1) / d.
    static func lFunction(_ x: BigInt, _ d: BigInt) -> BigInt {
        (x - 1) / d
    }
}
