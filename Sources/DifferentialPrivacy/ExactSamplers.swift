import Arithmetic

// Exact samplers of Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
// Privacy" (NeurIPS 2020, arXiv 2004.00010), Algorithms 1–3.
//
// Every decision is a comparison of integers drawn uniformly from a `RandomNumberGenerator`
// against exact rational thresholds: no floating point, no transcendental function, so the
// output distribution is exactly the one the privacy proof is about (Mironov 2012 shows what
// floating-point `log(uniform)` sampling leaks).
//
// Two representations carry the same algorithm: 128-bit integers (fast, used while every
// intermediate fits, which is the case for all realistic parameters) and GMP integers. A
// computation that would overflow 128 bits continues in BigInt from the same state, so the
// switch never conditions on the random draws.
//
// - Warning: The running time depends on the sampled values (as in every rejection sampler);
//   the noise is secret, so these samplers are not constant-time. This matches the threat
//   model (the aggregator sees messages, not the parties' CPU timing).

/// Bernoulli and exp(−γ) coins on exact rationals.
enum ExactCoins {
    /// A uniform value in 0..<bound (bound > 0).
    static func uniform(below bound: UInt128, using generator: inout some RandomNumberGenerator) -> UInt128 {
        if bound <= UInt128(UInt64.max) {
            return UInt128(generator.next(upperBound: UInt64(bound)))
        }
        let bits = 128 - bound.leadingZeroBitCount
        let mask: UInt128 = bits == 128 ? .max : (UInt128(1) << bits) - 1
        while true {
            let candidate = (UInt128(generator.next()) << 64 | UInt128(generator.next())) & mask
            if candidate < bound { return candidate }
        }
    }

    /// A uniform value in 0..<bound (bound > 0): Lemire's multiply-and-reject method.
    @inline(__always)
    static func uniform64(below bound: UInt64, using generator: inout some RandomNumberGenerator) -> UInt64 {
        var product = generator.next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = generator.next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// Bernoulli(exp(−n/d)) for n ≤ d on 64-bit integers, continuing on 128 bits if d·K overflows.
    static func bernoulliExpMinusUnit64(_ n: UInt64, _ d: UInt64, using generator: inout some RandomNumberGenerator) -> Bool {
        var k: UInt64 = 1
        while true {
            let (dk, overflow) = d.multipliedReportingOverflow(by: k)
            if overflow {
                return bernoulliExpMinusUnit(UInt128(n), UInt128(d), startingAt: UInt128(k), using: &generator)
            }
            if uniform64(below: dk, using: &generator) < n { k += 1 } else { break }
        }
        return k & 1 == 1
    }

    /// Bernoulli(n/d), 0 ≤ n ≤ d, d > 0.
    static func bernoulli(_ n: UInt128, _ d: UInt128, using generator: inout some RandomNumberGenerator) -> Bool {
        uniform(below: d, using: &generator) < n
    }

    static func bernoulli(_ n: BigInt, _ d: BigInt, using generator: inout some RandomNumberGenerator) -> Bool {
        BigInt.random(below: d, using: &generator) < n
    }

    /// Bernoulli(exp(−n/d)) for 0 ≤ n/d ≤ 1 (CKS20 Algorithm 1, first part): count K while
    /// Bernoulli(γ/K) succeeds; the result is whether the final K is odd.
    static func bernoulliExpMinusUnit(
        _ n: UInt128, _ d: UInt128, startingAt start: UInt128 = 1,
        using generator: inout some RandomNumberGenerator
    ) -> Bool {
        if start == 1, d <= UInt128(UInt64.max) {
            return bernoulliExpMinusUnit64(UInt64(n), UInt64(d), using: &generator)
        }
        var k: UInt128 = start
        while true {
            let (dk, overflow) = d.multipliedReportingOverflow(by: k)
            if overflow {
                return bernoulliExpMinusUnit(BigInt(n), BigInt(d), startingAt: BigInt(k), using: &generator)
            }
            if bernoulli(n, dk, using: &generator) { k += 1 } else { break }
        }
        return k & 1 == 1
    }

    static func bernoulliExpMinusUnit(
        _ n: BigInt, _ d: BigInt, startingAt start: BigInt = 1,
        using generator: inout some RandomNumberGenerator
    ) -> Bool {
        var k = start
        while bernoulli(n, d * k, using: &generator) { k += 1 }
        return k.isOdd
    }

    /// Bernoulli(exp(−n/d)) for any n/d ≥ 0 (CKS20 Algorithm 1): ⌊γ⌋ coins of exp(−1), all of
    /// which must succeed, then one coin of exp(−(γ − ⌊γ⌋)).
    static func bernoulliExpMinus(_ n: UInt128, _ d: UInt128, using generator: inout some RandomNumberGenerator) -> Bool {
        var whole = n / d
        while whole > 0 {
            if !bernoulliExpMinusUnit64(1, 1, using: &generator) { return false }
            whole -= 1
        }
        return bernoulliExpMinusUnit(n % d, d, using: &generator)
    }

    static func bernoulliExpMinus(_ n: BigInt, _ d: BigInt, using generator: inout some RandomNumberGenerator) -> Bool {
        let (quotient, remainder) = n.floorDivided(by: d)
        var whole = quotient
        while whole.signum > 0 {
            if !bernoulliExpMinusUnit64(1, 1, using: &generator) { return false }
            whole -= 1
        }
        if let r = UInt128(exactly: remainder), let dd = UInt128(exactly: d) {
            return bernoulliExpMinusUnit(r, dd, using: &generator)
        }
        return bernoulliExpMinusUnit(remainder, d, using: &generator)
    }
}

extension UInt128 {
    /// The value of a non-negative BigInt below 2^128, else nil.
    init?(exactly value: BigInt) {
        guard !value.isNegative, value.bitWidth <= 128 else { return nil }
        let low = UInt128(value.lowWord)
        let high = UInt128((value >> 64).lowWord)
        self = high << 64 | low
    }
}

/// Samples Bernoulli(exp(−γ)) for a rational γ ≥ 0, exactly.
/// - Throws: `invalidParameter` if γ is negative.
public func sampleBernoulliExpMinus(_ gamma: ExactRational, using generator: inout some RandomNumberGenerator) throws -> Bool {
    guard !gamma.isNegative else {
        throw DifferentialPrivacyError.invalidParameter(name: "γ", value: gamma.description, reason: "must be non-negative")
    }
    if let n = UInt128(exactly: gamma.numerator), let d = UInt128(exactly: gamma.denominator) {
        return ExactCoins.bernoulliExpMinus(n, d, using: &generator)
    }
    return ExactCoins.bernoulliExpMinus(gamma.numerator, gamma.denominator, using: &generator)
}

/// The largest magnitude a sampler returns: draws beyond it (probability below e^(−2^12) for
/// every accepted scale) are redrawn so that results fit in `Int64` with room for sums.
let sampleMagnitudeLimit: Int64 = 1 << 60

/// The largest accepted scale (grid units): 2^48, far above any useful noise on a 64-bit grid.
let maximumScale = ExactRational(BigInt.powerOfTwo(48))

/// Exact discrete Laplace sampler: P(x) ∝ exp(−|x|/scale) on the integers (CKS20 Algorithm 2).
public struct DiscreteLaplaceSampler: Sendable {
    /// The scale t/s.
    public let scale: ExactRational
    private let t: BigInt
    private let s: BigInt
    private let small: (t: UInt128, s: UInt128)?

    /// - Parameter scale: the scale b > 0 (in integer units), at most 2^48.
    public init(scale: ExactRational) throws {
        guard scale.numerator.signum > 0, scale <= maximumScale else {
            throw DifferentialPrivacyError.invalidParameter(
                name: "discrete Laplace scale", value: scale.description,
                reason: "must be positive and at most 2^48 grid units")
        }
        self.scale = scale
        t = scale.numerator
        s = scale.denominator
        if t.bitWidth <= 64, s.bitWidth <= 64, let t128 = UInt128(exactly: t), let s128 = UInt128(exactly: s) {
            small = (t128, s128)
        } else {
            small = nil
        }
    }

    /// One draw.
    public func sample(using generator: inout some RandomNumberGenerator) -> Int64 {
        while true {
            let value: Int64?
            if let small {
                value = Self.sample64(t: UInt64(small.t), s: UInt64(small.s), using: &generator)
            } else {
                value = Self.sampleBig(t: t, s: s, using: &generator)
            }
            if let value { return value }
        }
    }

    /// One attempt of Algorithm 2 on 64-bit integers (t, s < 2^64).
    static func sample64(t: UInt64, s: UInt64, using generator: inout some RandomNumberGenerator) -> Int64? {
        let u = ExactCoins.uniform64(below: t, using: &generator)
        guard ExactCoins.bernoulliExpMinusUnit64(u, t, using: &generator) else { return nil }
        var v: UInt64 = 0
        while ExactCoins.bernoulliExpMinusUnit64(1, 1, using: &generator) { v += 1 }
        let (tv, o1) = t.multipliedReportingOverflow(by: v)
        let (x, o2) = u.addingReportingOverflow(tv)
        if o1 || o2 { return nil }  // unreachable for accepted scales (x < 2^48·(v+1), v ≪ 2^15)
        let y = x / s
        let negative = generator.next() & 1 == 1
        if negative && y == 0 { return nil }
        guard y < UInt64(sampleMagnitudeLimit) else { return nil }
        return negative ? -Int64(y) : Int64(y)
    }

    static func sampleBig(t: BigInt, s: BigInt, using generator: inout some RandomNumberGenerator) -> Int64? {
        let u = BigInt.random(below: t, using: &generator)
        guard ExactCoins.bernoulliExpMinusUnit(u, t, using: &generator) else { return nil }
        var v: BigInt = 0
        while ExactCoins.bernoulliExpMinusUnit64(1, 1, using: &generator) { v += 1 }
        let y = (u + t * v) / s
        let negative = ExactCoins.bernoulli(1 as UInt128, 2, using: &generator)
        if negative && y.isZero { return nil }
        guard y < BigInt(sampleMagnitudeLimit), let magnitude = y.intValue else { return nil }
        return negative ? -Int64(magnitude) : Int64(magnitude)
    }
}

/// Exact discrete Gaussian sampler: P(x) ∝ exp(−x²/(2σ²)) on the integers (CKS20 Algorithm 3).
public struct DiscreteGaussianSampler: Sendable {
    /// σ² = p/q.
    public let sigmaSquared: ExactRational
    private let p: BigInt
    private let q: BigInt
    private let t: BigInt
    private let small: (p: UInt128, q: UInt128, t: UInt128, d: UInt128)?

    /// - Parameter sigmaSquared: the variance parameter σ² > 0 (integer units), σ at most 2^48.
    public init(sigmaSquared: ExactRational) throws {
        guard sigmaSquared.numerator.signum > 0, sigmaSquared <= maximumScale * maximumScale else {
            throw DifferentialPrivacyError.invalidParameter(
                name: "discrete Gaussian σ²", value: sigmaSquared.description,
                reason: "must be positive with σ at most 2^48 grid units")
        }
        self.sigmaSquared = sigmaSquared
        p = sigmaSquared.numerator
        q = sigmaSquared.denominator
        // ⌊σ⌋ = ⌊√⌊σ²⌋⌋, and t = ⌊σ⌋ + 1.
        t = sigmaSquared.floor.squareRoot + 1
        let d = 2 * p * q * t * t
        if p.bitWidth <= 62, q.bitWidth <= 62, t.bitWidth <= 62, d.bitWidth <= 126,
            let p128 = UInt128(exactly: p), let q128 = UInt128(exactly: q),
            let t128 = UInt128(exactly: t), let d128 = UInt128(exactly: d)
        {
            small = (p128, q128, t128, d128)
        } else {
            small = nil
        }
    }

    /// One draw.
    public func sample(using generator: inout some RandomNumberGenerator) -> Int64 {
        while true {
            if let small {
                // Y ~ discrete Laplace with scale t.
                guard let y = DiscreteLaplaceSampler.sample64(t: UInt64(small.t), s: 1, using: &generator) else { continue }
                // Accept with probability exp(−(|Y| − σ²/t)²/(2σ²)) = exp(−(|Y|qt − p)²/(2pqt²)).
                let (a, o1) = UInt128(y.magnitude).multipliedReportingOverflow(by: small.q * small.t)
                if !o1 {
                    let diff = a >= small.p ? a - small.p : small.p - a
                    let (n, o2) = diff.multipliedReportingOverflow(by: diff)
                    if !o2 {
                        if ExactCoins.bernoulliExpMinus(n, small.d, using: &generator) { return y }
                        continue
                    }
                }
                if accept(BigInt(y.magnitude), using: &generator) { return y }
            } else {
                guard let y = DiscreteLaplaceSampler.sampleBig(t: t, s: 1, using: &generator) else { continue }
                if accept(BigInt(y.magnitude), using: &generator) { return y }
            }
        }
    }

    private func accept(_ magnitude: BigInt, using generator: inout some RandomNumberGenerator) -> Bool {
        let diff = magnitude * q * t - p
        return ExactCoins.bernoulliExpMinus(diff * diff, 2 * p * q * t * t, using: &generator)
    }
}
