/// Arithmetic in the prime field of the Mersenne prime p = 2^61 − 1, written without
/// secret-dependent branches or table look-ups: every operation on share values runs in the
/// same time whatever the values are.
///
/// Elements are kept fully reduced in [0, p).
enum Field61 {
    static let modulus: UInt64 = (1 << 61) - 1

    /// x mod p for x < 2^62 + 2^61, branch-free.
    @inline(__always)
    static func reduce(_ x: UInt64) -> UInt64 {
        // x = h·2^61 + l ≡ h + l (mod p), with h + l ≤ 2^61 + 2 < 2p.
        let folded = (x & modulus) &+ (x >> 61)
        // Subtract p unless that borrows; select with a mask instead of a branch.
        let reduced = folded &- modulus
        let borrow = reduced >> 63  // 1 when folded < p
        return reduced &+ (modulus & (0 &- borrow))
    }

    @inline(__always)
    static func add(_ a: UInt64, _ b: UInt64) -> UInt64 { reduce(a &+ b) }

    @inline(__always)
    static func subtract(_ a: UInt64, _ b: UInt64) -> UInt64 { reduce(a &+ (modulus &- b)) }

    @inline(__always)
    static func multiply(_ a: UInt64, _ b: UInt64) -> UInt64 {
        // a·b < 2^122 = high·2^64 + low; split at bit 61 and fold twice.
        let (high, low) = a.multipliedFullWidth(by: b)
        let lowPart = low & modulus
        let highPart = (low >> 61) | (high << 3)  // < 2^61
        return reduce(lowPart &+ highPart)
    }

    /// a^(p−2) = a^-1 for a ≠ 0, by a fixed square-and-multiply ladder over the public exponent.
    static func inverse(_ a: UInt64) -> UInt64 {
        var result: UInt64 = 1
        var base = a
        var exponent = modulus - 2
        while exponent > 0 {
            // The exponent is public and fixed; the ladder's shape does not depend on `a`.
            let factor = (exponent & 1) == 1 ? base : 1
            result = multiply(result, factor)
            base = multiply(base, base)
            exponent >>= 1
        }
        return result
    }

    /// A uniform element drawn by rejection from 61-bit words.
    static func random(using rng: inout some RandomNumberGenerator) -> UInt64 {
        while true {
            let candidate = rng.next() & modulus
            if candidate != modulus { return candidate }
        }
    }
}

/// Shamir t-of-n secret sharing of 32-byte secrets over GF(2^61 − 1).
///
/// A secret is split into five chunks of at most seven bytes (56 bits < 61), each shared with
/// its own random polynomial of degree t − 1; a share is the five evaluations at x = party + 1.
/// Any t shares reconstruct the secret by Lagrange interpolation at 0; t − 1 shares are
/// uniformly distributed whatever the secret (perfect hiding per chunk).
public enum Shamir {
    /// The secret length this sharing handles.
    public static let secretLength = 32
    static let chunkBytes = 7
    /// Field elements per share.
    public static let chunkCount = (secretLength + chunkBytes - 1) / chunkBytes
    /// Encoded length of one share's values (little-endian 64-bit words).
    public static let shareLength = chunkCount * 8

    /// One party's share of one secret.
    public struct Share: Sendable, Hashable {
        /// The evaluation point, party id + 1 (never 0).
        public let x: UInt64
        /// One field element per secret chunk.
        public let values: [UInt64]

        public init(x: UInt64, values: [UInt64]) {
            self.x = x
            self.values = values
        }

        /// The values as `shareLength` bytes.
        public var encoded: [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Shamir.shareLength)
            for value in values { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
            return bytes
        }

        /// Parses `shareLength` bytes; nil when the length is wrong or a value is not a field element.
        public init?(x: UInt64, encoded bytes: [UInt8]) {
            guard bytes.count == Shamir.shareLength, x != 0, x < Field61.modulus else { return nil }
            var values: [UInt64] = []
            for chunk in 0..<Shamir.chunkCount {
                var word: UInt64 = 0
                for byte in 0..<8 { word |= UInt64(bytes[chunk * 8 + byte]) << (8 * byte) }
                guard word < Field61.modulus else { return nil }
                values.append(word)
            }
            self.x = x
            self.values = values
        }
    }

    /// A sharing polynomial per chunk, drawn before the share holders are known.
    public struct Dealer: Sendable {
        /// coefficients[chunk] = [secret chunk, a1, …, a_{t−1}].
        private let coefficients: [[UInt64]]
        public let threshold: Int

        /// - Parameters:
        ///   - secret: `secretLength` bytes.
        ///   - threshold: t ≥ 1: any t shares reconstruct, t − 1 reveal nothing.
        public init(secret: [UInt8], threshold: Int, using rng: inout some RandomNumberGenerator) throws {
            guard secret.count == Shamir.secretLength else {
                throw SecAggError.malformed(what: "Shamir secret", reason: "expected \(Shamir.secretLength) bytes, found \(secret.count)")
            }
            guard threshold >= 1 else { throw SecAggError.invalidConfiguration("threshold \(threshold) must be at least 1") }
            self.threshold = threshold
            var coefficients: [[UInt64]] = []
            for chunk in Shamir.chunks(of: secret) {
                var polynomial = [chunk]
                for _ in 1..<threshold { polynomial.append(Field61.random(using: &rng)) }
                coefficients.append(polynomial)
            }
            self.coefficients = coefficients
        }

        /// The share for evaluation point `x` (party id + 1), by Horner's rule.
        public func share(at x: UInt64) -> Share {
            let point = Field61.reduce(x)
            let values = coefficients.map { polynomial in
                var accumulator: UInt64 = 0
                for coefficient in polynomial.reversed() {
                    accumulator = Field61.add(Field61.multiply(accumulator, point), coefficient)
                }
                return accumulator
            }
            return Share(x: x, values: values)
        }
    }

    /// Shares `secret` among the evaluation points `points` (distinct, nonzero).
    public static func split(
        _ secret: [UInt8], threshold: Int, points: [UInt64],
        using rng: inout some RandomNumberGenerator
    ) throws -> [Share] {
        let dealer = try Dealer(secret: secret, threshold: threshold, using: &rng)
        return points.map { dealer.share(at: $0) }
    }

    /// Reconstructs the secret from at least `threshold` shares with distinct points (the first
    /// `threshold` are used).
    /// - Throws: `SecAggError.notEnoughShares` with fewer than `threshold` shares,
    ///   `malformed` for repeated or zero points or a share whose chunk is not a 7-byte value.
    public static func reconstruct(_ shares: [Share], threshold: Int) throws -> [UInt8] {
        guard shares.count >= threshold, threshold >= 1 else {
            throw SecAggError.notEnoughShares(owner: nil, have: shares.count, need: threshold)
        }
        let used = Array(shares.prefix(threshold))
        let points = used.map(\.x)
        guard Set(points).count == points.count, !points.contains(0),
            used.allSatisfy({ $0.values.count == chunkCount })
        else {
            throw SecAggError.malformed(what: "Shamir shares", reason: "repeated or zero evaluation points, or wrong share size")
        }
        // Lagrange coefficients at 0 depend only on the public points.
        let lagrange = points.enumerated().map { (i, xi) -> UInt64 in
            var numerator: UInt64 = 1
            var denominator: UInt64 = 1
            for (j, xj) in points.enumerated() where j != i {
                numerator = Field61.multiply(numerator, Field61.reduce(xj))
                denominator = Field61.multiply(denominator, Field61.subtract(Field61.reduce(xj), Field61.reduce(xi)))
            }
            return Field61.multiply(numerator, Field61.inverse(denominator))
        }
        var chunks: [UInt64] = []
        for chunk in 0..<chunkCount {
            var accumulator: UInt64 = 0
            for (index, share) in used.enumerated() {
                accumulator = Field61.add(accumulator, Field61.multiply(share.values[chunk], lagrange[index]))
            }
            chunks.append(accumulator)
        }
        return try assemble(chunks)
    }

    static func chunks(of secret: [UInt8]) -> [UInt64] {
        (0..<chunkCount).map { chunk in
            var value: UInt64 = 0
            let start = chunk * chunkBytes
            for offset in 0..<min(chunkBytes, secretLength - start) {
                value |= UInt64(secret[start + offset]) << (8 * offset)
            }
            return value
        }
    }

    static func assemble(_ chunks: [UInt64]) throws -> [UInt8] {
        var secret: [UInt8] = []
        secret.reserveCapacity(secretLength)
        for (chunk, value) in chunks.enumerated() {
            let width = min(chunkBytes, secretLength - chunk * chunkBytes)
            // Inconsistent shares interpolate to values outside the chunk's range.
            guard value >> (8 * UInt64(width)) == 0 else {
                throw SecAggError.malformed(what: "Shamir shares", reason: "they do not interpolate to a valid secret")
            }
            for offset in 0..<width { secret.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(offset)))) }
        }
        return secret
    }
}
