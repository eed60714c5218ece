/// The noise a release needs for a target (ε, δ).
public enum Calibration {
    /// The smallest noise parameter for which `count` releases of `mechanism` with
    /// `sensitivity` are (ε, δ)-DP.
    ///
    /// Laplace: b = count·Δ₁/ε (basic composition of pure DP; δ unused). Gaussian: the analytic
    /// Gaussian mechanism (Balle & Wang 2018), not √(2 ln(1.25/δ))/ε: σ = Δ₂·√count·m(ε, δ),
    /// where m solves δ(m) = δ for one Gaussian (k Gaussians of σ are one of σ/√k); the
    /// bisection returns the upper end, so the answer errs on the safe side.
    public static func noise(for mechanism: MechanismKind, epsilon: Double, delta: Double = 0,
                             sensitivity: Double, count: Int = 1) throws -> Double {
        guard epsilon.isFinite, epsilon > 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "epsilon", value: "\(epsilon)", reason: "must be positive and finite")
        }
        guard sensitivity.isFinite, sensitivity >= 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "sensitivity", value: "\(sensitivity)", reason: "must be non-negative")
        }
        guard count >= 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "count", value: "\(count)", reason: "must be at least 1")
        }
        switch mechanism {
        case .laplace, .discreteLaplace:
            return Double(count) * sensitivity / epsilon
        case .gaussian, .discreteGaussian:
            guard delta > 0, delta < 1 else {
                throw DifferentialPrivacyError.invalidParameter(name: "delta", value: "\(delta)",
                                                                reason: "the Gaussian mechanism needs 0 < δ < 1")
            }
            let m = AnalyticGaussian.noiseMultiplier(epsilon: epsilon, delta: delta)
            return sensitivity * Double(count).squareRoot() * m
        }
    }
}
