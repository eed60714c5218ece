import Arithmetic
import Primitives

/// The public half of a t-of-n threshold Paillier key (Damgård–Jurik with s = 1, Shoup-style
/// sharing; see `Papers/threshold.md`).
///
/// Anyone can encrypt under `n` exactly as under a plain Paillier key (g = n + 1). Decryption
/// needs `threshold` of the `parties` (ids 1...parties) to each publish a partial decryption
/// c_i = c^{2Δ·s_i} mod n² with a proof that it matches their verification key
/// v_i = v^{Δ·s_i} mod n², where Δ = parties!.
///
/// The key is identified by ``keyID``: SHA-256 over a canonical encoding of every public field.
/// Shares, partial decryptions and serialised objects carry it, so that material made for
/// another key is refused.
public struct ThresholdPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The smallest modulus accepted outside tests (NIST SP 800-57: 112-bit security).
    public static let minimumBits = 2048
    /// The default modulus size (128-bit security).
    public static let defaultBits = 3072
    /// The largest number of parties (Δ = parties! enters every exponent; 1000! has 8530 bits).
    public static let maximumParties = 1000

    /// The RSA modulus n = p·q (p, q safe primes).
    public let n: BigInt
    /// n².
    public let nSquared: BigInt
    /// The number of partial decryptions needed to decrypt (t).
    public let threshold: Int
    /// The number of parties (their ids are 1...parties).
    public let parties: Int
    /// The verification base v, a random square in Z*_{n²}.
    public let verificationBase: BigInt
    /// v_i = v^{Δ·s_i} mod n² for party i = 1...parties (element i − 1).
    public let verificationKeys: [BigInt]
    /// SHA-256 of the canonical encoding of (n, threshold, parties, v, v_1…v_parties).
    public let keyID: [UInt8]

    /// Δ = parties!.
    let delta: BigInt
    /// (4Δ²)⁻¹ mod n, used in combination.
    let inverseOfFourDeltaSquared: BigInt
    /// The byte length of an element of Z_{n²}, the fixed width used in hashes.
    let elementLength: Int

    /// The plain Paillier public key with the same n (g = n + 1): parties encrypt their
    /// contributions with it and the aggregator adds them; only decryption is shared.
    public let paillierKey: PaillierPublicKey

    /// Powers of v for fast verification, built on first use.
    let verificationTableCache = ThresholdVerificationTableCache()
    /// The number of proofs in one call from which verification builds and uses the table.
    static let tableThreshold = 16

    /// Party ids, 1...parties.
    public var partyIDs: ClosedRange<Int> { 1...parties }

    /// The modulus size in bits.
    public var bits: Int { n.bitWidth }

    /// ``keyID`` in lower-case hex, the key fingerprint shown to people and written in results.
    public var fingerprint: String { ThresholdEncoding.hex(keyID) }

    /// A public key from its fields, each checked.
    ///
    /// - Parameter policy: `.production` (n of at least 2048 bits) unless this is a test fixture
    ///   (`.insecureTestOnly`, down to 256 bits).
    /// - Throws: ``PaillierError`` naming the field at fault.
    public init(
        n: BigInt, threshold: Int, parties: Int, verificationBase: BigInt, verificationKeys: [BigInt],
        policy: KeySizePolicy = .production
    ) throws {
        try ThresholdPublicKey.checkParameters(threshold: threshold, parties: parties)
        try ThresholdPublicKey.checkModulus(n, policy: policy)
        guard verificationKeys.count == parties else {
            throw PaillierError.malformedKey("expected \(parties) verification keys, found \(verificationKeys.count)")
        }
        let nSquared = n * n
        guard ThresholdPublicKey.isUnit(verificationBase, n: n, nSquared: nSquared), verificationBase != 1 else {
            throw PaillierError.malformedKey("the verification base is not a unit of Z*_{n²} other than 1")
        }
        for (index, key) in verificationKeys.enumerated() where !ThresholdPublicKey.isUnit(key, n: n, nSquared: nSquared) {
            throw PaillierError.malformedKey("the verification key of party \(index + 1) is not in Z*_{n²}")
        }
        let delta = BigInt.factorial(parties)
        guard let inverse = (4 * delta * delta).inverse(modulo: n) else {
            throw PaillierError.malformedKey("4·Δ² is not invertible modulo n (n has a factor at most \(parties))")
        }
        self.n = n
        self.nSquared = nSquared
        self.threshold = threshold
        self.parties = parties
        self.verificationBase = verificationBase
        self.verificationKeys = verificationKeys
        self.delta = delta
        self.inverseOfFourDeltaSquared = inverse
        self.elementLength = (nSquared.bitWidth + 7) / 8
        do {
            self.paillierKey = try PaillierPublicKey(n: n, policy: policy)
        } catch {
            throw PaillierError.malformedKey("the modulus is not a valid Paillier modulus: \(error)")
        }
        self.keyID = ThresholdPublicKey.computeKeyID(
            n: n, threshold: threshold, parties: parties, base: verificationBase, keys: verificationKeys,
            width: (nSquared.bitWidth + 7) / 8)
    }

    /// The verification key of `party`.
    /// - Throws: ``PaillierError/unknownParty(_:parties:)``.
    public func verificationKey(for party: Int) throws -> BigInt {
        guard partyIDs.contains(party) else { throw PaillierError.unknownParty(party, parties: parties) }
        return verificationKeys[party - 1]
    }

    /// Checks that `c` is a valid ciphertext: 0 < c < n² and gcd(c, n) = 1.
    /// - Parameter index: the position reported in the error.
    public func validate(ciphertext c: BigInt, index: Int = 0) throws {
        guard c.signum > 0, c < nSquared else {
            throw PaillierError.invalidCiphertext(index: index, reason: "not in the range 0 < c < n²")
        }
        guard BigInt.gcd(c, n) == 1 else {
            throw PaillierError.invalidCiphertext(index: index, reason: "shares a factor with n (not in Z*_{n²})")
        }
    }

    public static func == (lhs: ThresholdPublicKey, rhs: ThresholdPublicKey) -> Bool { lhs.keyID == rhs.keyID }
    public func hash(into hasher: inout Hasher) { hasher.combine(keyID) }

    public var description: String {
        "ThresholdPublicKey(\(bits) bits, \(threshold) of \(parties), key \(fingerprint.prefix(16)))"
    }

    // MARK: Checks

    static func checkParameters(threshold: Int, parties: Int) throws {
        guard (2...maximumParties).contains(parties) else {
            throw PaillierError.invalidParameters("the number of parties must be in 2...\(maximumParties), found \(parties)")
        }
        guard (2...parties).contains(threshold) else {
            throw PaillierError.invalidParameters(
                "the threshold must be in 2...\(parties) (at least two parties must cooperate to decrypt), found \(threshold)")
        }
    }

    static func checkBits(_ bits: Int, policy: KeySizePolicy) throws {
        // The production floor is this type's, whatever the plain engine's policy says.
        let floor = policy == .production ? minimumBits : policy.minimumBits
        guard bits >= floor else { throw PaillierError.keyTooSmall(bits: bits, minimum: floor) }
    }

    static func checkModulus(_ n: BigInt, policy: KeySizePolicy) throws {
        try checkBits(n.bitWidth, policy: policy)
        guard n.isOdd else { throw PaillierError.malformedKey("the modulus n is even") }
        // A dealer-made modulus is a product of two large safe primes. Nobody but the dealer can
        // check that (it would take a Π^mod/Π^fac proof, CGGMP21), but a modulus with a small
        // factor is refused outright (BitForge: unchecked small factors leak shares).
        guard BigInt.gcd(n, smallPrimeProduct) == 1 else {
            throw PaillierError.malformedKey("the modulus n has a small prime factor (below 2^16)")
        }
        guard !n.isProbablePrime(rounds: 2) else { throw PaillierError.malformedKey("the modulus n is prime") }
    }

    static func isUnit(_ value: BigInt, n: BigInt, nSquared: BigInt) -> Bool {
        value.signum > 0 && value < nSquared && BigInt.gcd(value, n) == 1
    }

    /// The product of the odd primes below 2^16.
    static let smallPrimeProduct: BigInt = {
        var sieve = [Bool](repeating: true, count: 1 << 16)
        var product = BigInt(1)
        for candidate in 3..<(1 << 16) where sieve[candidate] {
            product *= BigInt(candidate)
            var multiple = candidate * candidate
            while multiple < (1 << 16) {
                sieve[multiple] = false
                multiple += candidate
            }
        }
        return product
    }()

    static func computeKeyID(n: BigInt, threshold: Int, parties: Int, base: BigInt, keys: [BigInt], width: Int) -> [UInt8] {
        var hasher = SHA256.Hasher()
        hasher.updateField(Array(ThresholdEncoding.keyIDLabel.utf8))
        hasher.updateField(n.magnitudeBytes())
        hasher.updateField(ThresholdEncoding.uint64(UInt64(threshold)))
        hasher.updateField(ThresholdEncoding.uint64(UInt64(parties)))
        hasher.updateField(ThresholdEncoding.fixed(base, width: width))
        for key in keys { hasher.updateField(ThresholdEncoding.fixed(key, width: width)) }
        return hasher.finalize()
    }
}

/// One party's private share s_i = f(i) of the threshold decryption exponent.
///
/// The share is secret: it never appears in `description`, `debugDescription` or a mirror, and
/// its limbs are wiped when the last copy is released. Write it to disk only through
/// ``jsonData()`` into a file readable by its owner alone (mode 0600).
public struct ThresholdKeyShare: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The party id, 1...parties.
    public let party: Int
    /// The ``ThresholdPublicKey/keyID`` of the key this share belongs to.
    public let keyID: [UInt8]
    /// f(party) ∈ Z_{n·m}; secret.
    let secret: BigInt

    init(party: Int, keyID: [UInt8], secret: BigInt) {
        self.party = party
        self.keyID = keyID
        var secret = secret
        secret.markSecret()
        self.secret = secret
    }

    /// Checks that this share belongs to `publicKey` and matches the party's verification key
    /// (v^{Δ·s_i} = v_i), so that a corrupted or foreign share file is caught before use.
    ///
    /// - Throws: ``PaillierError/wrongKey(what:expected:found:)`` or
    ///   ``PaillierError/malformedKey(_:)``.
    public func verify(against publicKey: ThresholdPublicKey) throws {
        try checkKey(publicKey)
        var exponent = publicKey.delta * secret
        exponent.markSecret()
        defer { exponent.wipe() }
        guard exponent.signum > 0,
            publicKey.verificationBase.powerSecret(exponent, modulus: publicKey.nSquared)
                == publicKey.verificationKeys[party - 1]
        else {
            throw PaillierError.malformedKey("the key share of party \(party) does not match its verification key")
        }
    }

    func checkKey(_ publicKey: ThresholdPublicKey) throws {
        guard keyID == publicKey.keyID else {
            throw PaillierError.wrongKey(
                what: "the key share of party \(party)", expected: publicKey.fingerprint.prefixed,
                found: ThresholdEncoding.hex(keyID).prefixed)
        }
        guard publicKey.partyIDs.contains(party) else {
            throw PaillierError.unknownParty(party, parties: publicKey.parties)
        }
    }

    public var description: String {
        "ThresholdKeyShare(party \(party), key \(ThresholdEncoding.hex(keyID).prefixed), secret redacted)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["party": party, "keyID": ThresholdEncoding.hex(keyID)], displayStyle: .struct)
    }
}

extension String {
    /// The first 16 characters, for naming a key in messages.
    var prefixed: String { String(prefix(16)) }
}
