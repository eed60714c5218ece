import Arithmetic

/// A noise mechanism as a user asks for it, in the units of the released values.
public enum NoiseMechanism: Sendable, Hashable, Codable {
    /// Laplace noise of scale b; charged against the L1 sensitivity.
    case laplace(scale: Double)
    /// Gaussian noise of standard deviation σ; charged against the L2 sensitivity.
    case gaussian(sigma: Double)

    /// b or σ.
    public var noise: Double {
        switch self {
        case .laplace(let scale): return scale
        case .gaussian(let sigma): return sigma
        }
    }

    /// The continuous kind the calculator and dp-accounting model.
    public var kind: MechanismKind {
        switch self {
        case .laplace: return .laplace
        case .gaussian: return .gaussian
        }
    }

    /// The discrete kind fedshare realises on the grid.
    public var discreteKind: MechanismKind {
        switch self {
        case .laplace: return .discreteLaplace
        case .gaussian: return .discreteGaussian
        }
    }

    func validate() throws {
        guard noise.isFinite, noise > 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "noise", value: "\(noise)", reason: "must be a positive finite number")
        }
    }
}

/// Noise on the fixed-point grid of a `FixedPointCodec`, shared among parties.
///
/// Construction (Papers/privacy.md, "Distributed noise"):
/// - Gaussian σ: each party adds discrete Gaussian noise of variance σ²/t (t = threshold) in
///   grid units, its variance rounded *up* to a short rational so the exact sampler stays on
///   128-bit integers. Any t honest shares together carry variance ≥ σ²; the sum of t discrete
///   Gaussians is accounted with Kairouz–Liu–Steinke 2021 (Prop. 14), and more than t shares
///   are a post-processing of t of them.
/// - Laplace b: each party adds a full discrete Laplace of scale b (sums of discrete Laplace
///   are not discrete Laplace); one honest share already gives ε = Δ₁/b.
///
/// Grid rounding is charged in the sensitivity: encoding rounds each coordinate by at most
/// half a step, so two neighbouring inputs differ after encoding by at most Δ·2^f + c in L1 and
/// Δ·2^f + √c in L2, where c is the number of coordinates a neighbour can change.
public enum DistributedNoise {
    /// One party's noise share: `count` integers in grid units (2^-f) to add to its encoded
    /// values before encryption or masking.
    /// - Parameters:
    ///   - mechanism: the total noise the released sum must carry.
    ///   - parties: n, the number of parties that add shares (≥ threshold).
    ///   - threshold: t, the number of honest shares the guarantee assumes (1 ≤ t ≤ n).
    ///   - codec: the grid.
    ///   - count: how many values (G × M for an attention matrix).
    ///   - generator: the CSPRNG in production: `BufferedSecureRandom` (100× faster than
    ///     `SecureRandom` word by word, same source).
    public static func share(
        for mechanism: NoiseMechanism, parties: Int, threshold: Int, codec: FixedPointCodec,
        count: Int, using generator: inout some RandomNumberGenerator
    ) throws -> [Int64] {
        try validate(mechanism: mechanism, parties: parties, threshold: threshold, count: count)
        var noise = [Int64](repeating: 0, count: count)
        switch mechanism {
        case .laplace:
            let sampler = try DiscreteLaplaceSampler(scale: laplaceScale(mechanism, codec: codec))
            for index in noise.indices { noise[index] = sampler.sample(using: &generator) }
        case .gaussian:
            let sampler = try DiscreteGaussianSampler(sigmaSquared: shareVariance(mechanism, threshold: threshold, codec: codec))
            for index in noise.indices { noise[index] = sampler.sample(using: &generator) }
        }
        return noise
    }

    /// The event to record for a release of the sum of at least `threshold` honest shares.
    /// - Parameters:
    ///   - sensitivity: Δ₁ (Laplace) or Δ₂ (Gaussian) of the real-valued sum, for `relation`.
    ///   - dimension: the number of noisy coordinates.
    ///   - affectedCoordinates: how many coordinates one neighbour can change (defaults to all).
    public static func event(
        for mechanism: NoiseMechanism, threshold: Int, sensitivity: Double, dimension: Int,
        affectedCoordinates: Int? = nil, codec: FixedPointCodec, count: Int = 1
    ) throws -> MechanismEvent {
        try mechanism.validate()
        let changed = affectedCoordinates ?? dimension
        guard changed >= 0, changed <= dimension else {
            throw DifferentialPrivacyError.invalidParameter(
                name: "affected coordinates", value: "\(changed)",
                reason: "must be between 0 and the dimension \(dimension)")
        }
        let grid = gridSensitivity(sensitivity, mechanism: mechanism, affectedCoordinates: changed, codec: codec)
        let event: MechanismEvent
        switch mechanism {
        case .laplace(let b):
            event = MechanismEvent(
                mechanism: .discreteLaplace, noise: b * codec.scale, sensitivity: grid,
                dimension: dimension, shares: 1, count: count)
        case .gaussian(let sigma):
            event = MechanismEvent(
                mechanism: .discreteGaussian, noise: sigma * codec.scale, sensitivity: grid,
                dimension: dimension, shares: threshold, count: count)
        }
        try event.validate()
        return event
    }

    /// The sensitivity in grid units after rounding both neighbours to the grid (rounded up).
    public static func gridSensitivity(
        _ sensitivity: Double, mechanism: NoiseMechanism, affectedCoordinates: Int,
        codec: FixedPointCodec
    ) -> Double {
        let scaled = sensitivity * codec.scale  // exact: a power-of-two scaling
        switch mechanism {
        case .laplace: return (scaled + Double(affectedCoordinates)).nextUp
        case .gaussian: return (scaled + Double(affectedCoordinates).squareRoot().nextUp).nextUp
        }
    }

    static func validate(mechanism: NoiseMechanism, parties: Int, threshold: Int, count: Int) throws {
        try mechanism.validate()
        guard threshold >= 1, threshold <= parties else {
            throw DifferentialPrivacyError.invalidParameter(
                name: "threshold", value: "\(threshold)",
                reason: "must be between 1 and the number of parties \(parties)")
        }
        guard count >= 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "count", value: "\(count)", reason: "must not be negative")
        }
    }

    /// b·2^f, exactly.
    static func laplaceScale(_ mechanism: NoiseMechanism, codec: FixedPointCodec) throws -> ExactRational {
        guard let b = ExactRational(exactly: mechanism.noise) else {
            throw DifferentialPrivacyError.invalidParameter(name: "noise", value: "\(mechanism.noise)", reason: "must be finite")
        }
        return b * ExactRational(BigInt.powerOfTwo(codec.fractionalBits))
    }

    /// (σ·2^f)²/t rounded up to a multiple of 2^-k, with k chosen so the numerator has about 32
    /// significant bits or more (relative increase ≤ 2^-32): more noise than asked, never less.
    static func shareVariance(_ mechanism: NoiseMechanism, threshold: Int, codec: FixedPointCodec) throws -> ExactRational {
        guard let sigma = ExactRational(exactly: mechanism.noise) else {
            throw DifferentialPrivacyError.invalidParameter(name: "noise", value: "\(mechanism.noise)", reason: "must be finite")
        }
        let grid = sigma * ExactRational(BigInt.powerOfTwo(codec.fractionalBits))
        let variance = grid * grid / ExactRational(threshold)
        let integerBits = variance.floor.bitWidth
        let k = max(0, 32 - integerBits)
        let scale = BigInt.powerOfTwo(k)
        return ExactRational((variance * ExactRational(scale)).ceiling, scale)
    }
}

/// Central (single-source) mechanisms on real-valued matrices.
public enum MatrixMechanism {
    /// Encodes `values` on the codec's grid, adds exact discrete noise, and returns the noisy
    /// integers, their decoded values, and the event to record (grid units, rounding charged).
    public static func release(
        _ values: [Double], mechanism: NoiseMechanism, sensitivity: Double,
        codec: FixedPointCodec, affectedCoordinates: Int? = nil,
        using generator: inout some RandomNumberGenerator
    ) throws
        -> (encoded: [Int64], decoded: [Double], event: MechanismEvent)
    {
        let event = try DistributedNoise.event(
            for: mechanism, threshold: 1, sensitivity: sensitivity,
            dimension: max(1, values.count), affectedCoordinates: affectedCoordinates,
            codec: codec)
        let noise = try DistributedNoise.share(
            for: mechanism, parties: 1, threshold: 1, codec: codec,
            count: values.count, using: &generator)
        var encoded: [Int64] = []
        encoded.reserveCapacity(values.count)
        for (index, value) in values.enumerated() {
            let (sum, overflow) = try codec.encode(value).addingReportingOverflow(noise[index])
            guard !overflow else {
                throw DifferentialPrivacyError.invalidParameter(
                    name: "value[\(index)]", value: "\(value)",
                    reason: "too large for the grid once noise is added")
            }
            encoded.append(sum)
        }
        return (encoded, encoded.map(codec.decode), event)
    }
}
