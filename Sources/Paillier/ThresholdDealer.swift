import Arithmetic
import Dispatch
import Primitives

/// The trusted dealer of a t-of-n threshold Paillier key.
///
/// ## Construction (Damgård–Jurik 2001 with s = 1; Fouque–Poupard–Stern 2000; Shoup 2000)
/// 1. Safe primes p = 2p′ + 1 and q = 2q′ + 1 of `bits`/2 bits each, generated in parallel;
///    n = p·q, m = p′·q′.
/// 2. The decryption exponent d with d ≡ 0 (mod m) and d ≡ 1 (mod n) (CRT: d = m·(m⁻¹ mod n)).
/// 3. A random polynomial f(X) = d + a₁X + … + a_{t−1}X^{t−1} over Z_{n·m}; party i gets
///    s_i = f(i) mod n·m.
/// 4. Δ = parties!; a random square v ∈ Z*_{n²} (it generates the squares with overwhelming
///    probability); verification keys v_i = v^{Δ·s_i} mod n².
///
/// Decryption of c = (1 + n)^M·rⁿ: party i publishes c_i = c^{2Δ·s_i}; any set S of t parties
/// combines c′ = ∏ c_i^{2λ_i} = c^{4Δ²·d} with the integer Lagrange coefficients
/// λ_i = Δ·∏_{j∈S∖{i}} j/(j − i), and M = L(c′)·(4Δ²)⁻¹ mod n with L(x) = (x − 1)/n.
///
/// ## Security
/// Damgård and Jurik ("A Generalisation, a Simplification and Some Applications of Paillier's
/// Probabilistic Public-Key System", PKC 2001, §4, the threshold variant) prove, following
/// Shoup ("Practical Threshold Signatures", EUROCRYPT 2000), that this scheme is semantically
/// secure under the decisional composite residuosity assumption and robust, in the random
/// oracle model (for the Fiat–Shamir proofs), against a static adversary that corrupts fewer
/// than t parties; robustness (the honest parties can always decrypt) needs at least t honest
/// parties, i.e. t ≤ parties − corrupted.
///
/// ## What the dealer must destroy
/// p, q, p′, q′, m, d, the coefficients a₁…a_{t−1}, and every share after handing it to its
/// party. Anyone holding p or q (or m, or d, or t shares) can decrypt everything. This type
/// wipes all of them (`BigInt.wipe()`) before ``deal(bits:threshold:parties:policy:using:progress:)``
/// returns; the caller must hand each share to its party and then drop it.
public enum ThresholdDealer {
    /// A step of key dealing, reported to a progress callback (possibly from a worker thread).
    public enum Progress: Sendable, Equatable {
        /// Safe-prime search started for both primes (two threads).
        case searchingPrimes(bits: Int)
        /// One of the two safe primes was found (`found` is 1 or 2).
        case primeFound(found: Int)
        /// The primes were too close or equal, so the search starts again.
        case restartingPrimeSearch
        /// Shares and verification keys are being made.
        case dealingShares
        /// The verification key of `party` is ready.
        case verificationKeyReady(party: Int, of: Int)
        /// Done.
        case finished
    }

    /// The dealer's output: the public key and one share per party (element i − 1 is party i's).
    public struct Dealing: Sendable {
        public let publicKey: ThresholdPublicKey
        public let shares: [ThresholdKeyShare]
    }

    /// Deals a fresh t-of-n threshold key.
    ///
    /// Safe-prime generation at 3072 bits can take minutes; `progress` reports each step so a
    /// terminal can show it. p and q are searched for on two threads.
    ///
    /// - Parameters:
    ///   - bits: the modulus size: 2048, 3072 (default) or 4096 (any even size of at least 256
    ///     bits with `.insecureTestOnly`).
    ///   - threshold: t, the number of parties needed to decrypt (2...parties).
    ///   - parties: the number of parties (ids 1...parties).
    ///   - policy: `.production` unless this is a test.
    ///   - generator: the randomness for the polynomial and v (pass `SecureRandom`); the primes
    ///     come from OpenSSL's CSPRNG.
    ///   - progress: called at each step, possibly from another thread.
    /// - Throws: ``PaillierError``.
    public static func deal(
        bits: Int = ThresholdPublicKey.defaultBits, threshold: Int, parties: Int,
        policy: KeySizePolicy = .production,
        using generator: inout some RandomNumberGenerator,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) throws -> Dealing {
        try ThresholdPublicKey.checkParameters(threshold: threshold, parties: parties)
        try ThresholdPublicKey.checkBits(bits, policy: policy)
        guard bits % 2 == 0 else { throw PaillierError.invalidParameters("the modulus size must be even, found \(bits)") }
        if policy == .production, ![2048, 3072, 4096].contains(bits) {
            throw PaillierError.invalidParameters("the modulus size must be 2048, 3072 or 4096 bits, found \(bits)")
        }
        var (p, q) = try safePrimePair(bits: bits / 2, progress: progress)
        defer {
            p.wipe()
            q.wipe()
        }
        return try deal(
            safePrimes: p, q, threshold: threshold, parties: parties, policy: policy, using: &generator,
            progress: progress
        ).dealing
    }

    /// Two distinct safe primes of `bits` bits each, searched for on two threads, far enough
    /// apart that Fermat factoring cannot find them (|p − q| ≥ 2^(bits − 100)).
    static func safePrimePair(bits: Int, progress: (@Sendable (Progress) -> Void)?) throws -> (BigInt, BigInt) {
        while true {
            progress?(.searchingPrimes(bits: bits))
            let found = progress.map { report in WorkProgress(total: 2) { done, _ in report(.primeFound(found: done)) } }
            let results = ThresholdConcurrency.map(0..<2) { _ -> Result<BigInt, Error> in
                let result = Result { try Primes.random(bits: bits, safe: true) }
                found?.advance()
                return result
            }
            var p = try results[0].get()
            var q = try results[1].get()
            p.markSecret()
            q.markSecret()
            let gap = (p - q).magnitude
            if p != q, gap.bitWidth > bits - 100 { return (p, q) }
            p.wipe()
            q.wipe()
            progress?(.restartingPrimeSearch)
        }
    }

    /// Secrets the dealer knew, kept only for tests that compare against plain CRT decryption.
    struct TestSecrets {
        let p: BigInt
        let q: BigInt
    }

    /// Deals a key from given safe primes p = 2p′ + 1, q = 2q′ + 1 (test fixtures; the public
    /// entry point generates them). Wipes every intermediate secret before returning.
    static func deal(
        safePrimes p: BigInt, _ q: BigInt, threshold: Int, parties: Int, policy: KeySizePolicy,
        using generator: inout some RandomNumberGenerator,
        progress: (@Sendable (Progress) -> Void)? = nil
    ) throws -> (dealing: Dealing, secrets: TestSecrets) {
        try ThresholdPublicKey.checkParameters(threshold: threshold, parties: parties)
        guard p != q, p.bitWidth == q.bitWidth else {
            throw PaillierError.invalidParameters("p and q must be distinct primes of the same size")
        }
        progress?(.dealingShares)
        let n = p * q
        try ThresholdPublicKey.checkModulus(n, policy: policy)
        let nSquared = n * n

        var pPrime = (p - 1) >> 1
        var qPrime = (q - 1) >> 1
        var m = pPrime * qPrime
        var nm = n * m
        pPrime.markSecret()
        qPrime.markSecret()
        m.markSecret()
        nm.markSecret()
        defer {
            pPrime.wipe()
            qPrime.wipe()
            m.wipe()
            nm.wipe()
        }
        guard p.isProbablePrime(rounds: 20), q.isProbablePrime(rounds: 20),
            pPrime.isProbablePrime(rounds: 20), qPrime.isProbablePrime(rounds: 20)
        else {
            throw PaillierError.invalidParameters("p and q must be safe primes (p = 2p′ + 1 with p′ prime)")
        }

        // d ≡ 0 (mod m), d ≡ 1 (mod n).
        guard var mInverse = m.inverse(modulo: n) else {
            throw PaillierError.invalidParameters("m = p′q′ is not invertible modulo n")
        }
        mInverse.markSecret()
        var d = m * mInverse
        d.markSecret()
        mInverse.wipe()
        defer { d.wipe() }

        // f(X) = d + a₁X + … + a_{t−1}X^{t−1} over Z_{n·m}.
        var coefficients: [BigInt] = [d]
        for _ in 1..<threshold {
            var coefficient = BigInt.random(below: nm, using: &generator)
            coefficient.markSecret()
            coefficients.append(coefficient)
        }
        defer { for index in coefficients.indices { coefficients[index].wipe() } }

        var shareValues: [BigInt] = []
        for party in 1...parties {
            // Horner's rule, reducing mod n·m at every step.
            var value = BigInt()
            value.markSecret()
            for coefficient in coefficients.reversed() {
                var next = (value * BigInt(party) + coefficient).modulo(nm)
                next.markSecret()
                value.wipe()
                value = next
            }
            shareValues.append(value)
        }
        defer { for index in shareValues.indices { shareValues[index].wipe() } }

        // v: a random square of Z*_{n²}, other than 1.
        var base = BigInt(1)
        while base == 1 {
            let root = BigInt.random(in: BigInt(2)..<nSquared, using: &generator)
            guard BigInt.gcd(root, n) == 1 else { continue }
            base = root.multiplied(by: root, modulo: nSquared)
        }

        let delta = BigInt.factorial(parties)
        let ready = progress.map { report in
            WorkProgress(total: parties) { done, total in report(.verificationKeyReady(party: done, of: total)) }
        }
        let values = shareValues
        let finalBase = base
        let verificationKeys = ThresholdConcurrency.map(values.indices) { index -> BigInt in
            var exponent = delta * values[index]
            exponent.markSecret()
            defer { exponent.wipe() }
            let key = finalBase.powerSecret(exponent, modulus: nSquared)
            ready?.advance()
            return key
        }

        let publicKey = try ThresholdPublicKey(
            n: n, threshold: threshold, parties: parties, verificationBase: base, verificationKeys: verificationKeys,
            policy: policy)
        let shares = shareValues.enumerated().map { index, value in
            ThresholdKeyShare(party: index + 1, keyID: publicKey.keyID, secret: value)
        }
        progress?(.finished)
        return (Dealing(publicKey: publicKey, shares: shares), TestSecrets(p: p, q: q))
    }
}
