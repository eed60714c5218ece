import Foundation

/// The noise mechanism of a privacy event, as the accountant models it.
///
/// The continuous kinds (`gaussian`, `laplace`) are the textbook mechanisms, modelled exactly
/// as Google's dp-accounting models `GaussianDpEvent` and `LaplaceDpEvent`; they are what
/// `fedshare privacy` computes and what a release made outside fedshare records. The discrete
/// kinds are what fedshare actually adds (exact samplers on the fixed-point grid); their noise
/// parameter and sensitivity are in integer (grid) units, and the accountant only uses bounds
/// proven for the discrete mechanisms (see Papers/privacy.md).
public enum MechanismKind: String, Codable, Sendable, CaseIterable, Hashable {
    /// Continuous Gaussian: noise = σ, sensitivity = L2.
    case gaussian
    /// Continuous Laplace: noise = scale b, sensitivity = L1.
    case laplace
    /// Discrete Gaussian on Z^d (CKS20), possibly distributed over `shares` parties: noise =
    /// σ of the summed noise, sensitivity = L2, both in grid units.
    case discreteGaussian = "discrete_gaussian"
    /// Discrete Laplace on Z^d: noise = scale b, sensitivity = L1, both in grid units.
    case discreteLaplace = "discrete_laplace"

    /// Parses a stored or typed name; unknown names are refused, never guessed.
    public init(parsing text: String) throws {
        guard let kind = MechanismKind(rawValue: text) else {
            throw DifferentialPrivacyError.unknownKind(field: "mechanism", value: text)
        }
        self = kind
    }

    /// Whether the mechanism is pure ε-DP (ε = Δ₁/b).
    public var isPure: Bool { self == .laplace || self == .discreteLaplace }
}

/// Which datasets are neighbours; the sensitivity recorded must be the one for this relation
/// (replace-one typically doubles it: google/differential-privacy#378).
public enum NeighbouringRelation: String, Codable, Sendable, CaseIterable, Hashable {
    case addOrRemoveOne = "add_or_remove_one"
    case replaceOne = "replace_one"

    public init(parsing text: String) throws {
        guard let relation = NeighbouringRelation(rawValue: text) else {
            throw DifferentialPrivacyError.unknownKind(field: "neighbouring relation", value: text)
        }
        self = relation
    }
}

/// The privacy-relevant description of one release (or `count` identical releases): what the
/// accountant needs, and nothing derived from it. ε is always recomputed from these fields.
public struct MechanismEvent: Codable, Sendable, Hashable {
    public var mechanism: MechanismKind
    /// σ (Gaussian kinds) or the Laplace scale b.
    public var noise: Double
    /// Δ₂ (Gaussian kinds) or Δ₁ (Laplace kinds), for `relation`.
    public var sensitivity: Double
    /// The number of coordinates the noise is added to (G × M for an attention matrix).
    public var dimension: Int
    /// For `discreteGaussian`: the number of independent noise shares guaranteed to be in the
    /// released sum (the threshold t); 1 for a single noise source.
    public var shares: Int
    /// How many times this release happens.
    public var count: Int

    public init(
        mechanism: MechanismKind, noise: Double, sensitivity: Double, dimension: Int = 1,
        shares: Int = 1, count: Int = 1
    ) {
        self.mechanism = mechanism
        self.noise = noise
        self.sensitivity = sensitivity
        self.dimension = dimension
        self.shares = shares
        self.count = count
    }

    /// Checks every field's range.
    public func validate() throws {
        func bad(_ name: String, _ value: String, _ reason: String) -> DifferentialPrivacyError {
            .invalidParameter(name: name, value: value, reason: reason)
        }
        guard noise.isFinite, noise > 0 else { throw bad("noise", "\(noise)", "must be a positive finite number") }
        guard sensitivity.isFinite, sensitivity >= 0 else {
            throw bad("sensitivity", "\(sensitivity)", "must be a non-negative finite number")
        }
        guard dimension >= 1 else { throw bad("dimension", "\(dimension)", "must be at least 1") }
        guard shares >= 1 else { throw bad("shares", "\(shares)", "must be at least 1") }
        guard count >= 1 else { throw bad("count", "\(count)", "must be at least 1") }
        if mechanism == .discreteGaussian, shares > 1 {
            // Kairouz–Liu–Steinke 2021 Prop. 14 needs each share's σ ≥ 1/2 (grid units).
            let perShare = noise / Double(shares).squareRoot()
            guard perShare >= 0.5 else {
                throw bad("noise", "\(noise)", "each of the \(shares) shares needs σ ≥ 1/2 grid units")
            }
        }
    }
}
