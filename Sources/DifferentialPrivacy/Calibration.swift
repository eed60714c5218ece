/// The bound a calibration was certified with: the one the accountant itself uses for that
/// mechanism, so that the noise calibrated for a target is the noise the ledger charges at most
/// that target for.
public enum CalibrationBound: String, Codable, Sendable, CaseIterable, Hashable {
    /// Pure DP: count·Δ₁/b, composed exactly in rationals (Laplace kinds).
    case pureLaplace = "pure-laplace"
    /// The exact (ε, δ) curve of the continuous Gaussian (Balle & Wang 2018).
    case analyticGaussian = "analytic-gaussian"
    /// The RDP curve of one discrete Gaussian (Canonne–Kamath–Steinke 2020), converted to
    /// (ε, δ) as dp-accounting does.
    case discreteGaussianRDP = "discrete-gaussian-rdp"
    /// The RDP curve of a sum of `shares` discrete Gaussians (Kairouz–Liu–Steinke 2021,
    /// Prop. 14), converted to (ε, δ) as dp-accounting does.
    case distributedDiscreteGaussianRDP = "distributed-discrete-gaussian-rdp"

    /// One line naming the bound and where it comes from.
    public var summary: String {
        switch self {
        case .pureLaplace:
            return "pure DP, ε = count·Δ₁/b, checked in exact rationals"
        case .analyticGaussian:
            return "the exact (ε, δ) curve of the continuous Gaussian (Balle–Wang 2018)"
        case .discreteGaussianRDP:
            return "the Rényi-DP curve of the discrete Gaussian (Canonne–Kamath–Steinke 2020), converted as dp-accounting does"
        case .distributedDiscreteGaussianRDP:
            return "the Rényi-DP curve of a sum of discrete Gaussian shares (Kairouz–Liu–Steinke 2021, Prop. 14), converted as dp-accounting does"
        }
    }
}

/// A noise parameter together with the guarantee the accountant certifies for it.
public struct CalibratedNoise: Sendable, Equatable {
    /// σ (Gaussian kinds) or the Laplace scale b, in the units of the sensitivity.
    public let noise: Double
    /// The event with `noise` filled in: what a ledger records for these releases.
    public let event: MechanismEvent
    /// What the `best` accountant certifies for `event` at the target δ: ε ≤ the target.
    public let spend: PrivacySpend
    /// The bound the noise was searched against.
    public let bound: CalibrationBound
}

/// The noise a release needs for a target (ε, δ).
public enum Calibration {
    /// The smallest noise parameter for which `count` releases of `mechanism` with
    /// `sensitivity` are (ε, δ)-DP by the bound the accountant certifies for that mechanism.
    ///
    /// Laplace kinds: b = count·Δ₁/ε, raised by an ulp where the exact rational Δ₁/b would
    /// exceed ε/count. Gaussian: the analytic Gaussian mechanism (Balle & Wang 2018), not
    /// √(2 ln(1.25/δ))/ε. Discrete Gaussian: the smallest σ the accountant's RDP bound accepts,
    /// for `dimension` coordinates and `shares` summed noise shares (see ``calibrate(_:epsilon:delta:)``).
    public static func noise(
        for mechanism: MechanismKind, epsilon: Double, delta: Double = 0,
        sensitivity: Double, count: Int = 1, dimension: Int = 1, shares: Int = 1
    ) throws -> Double {
        let template = MechanismEvent(
            mechanism: mechanism, noise: 1, sensitivity: sensitivity, dimension: dimension,
            shares: shares, count: count)
        return try calibrate(template, epsilon: epsilon, delta: delta).noise
    }

    /// The smallest noise for `template` (its `noise` is ignored) whose ε at `delta`, as the
    /// `best` accountant computes it, is at most `epsilon`; with that certified spend.
    ///
    /// - Laplace kinds: b = count·Δ₁/ε, then checked in exact rationals (the ledger compares
    ///   pure histories exactly) and raised by an ulp at a time until Δ₁·count/b ≤ ε.
    /// - `gaussian`: Balle–Wang's exact curve, m solved by bisection to the last bit (upper end).
    /// - `discreteGaussian`: bisection over σ on the accountant's own ε(σ) (CKS20 RDP, or KLS21
    ///   when shares > 1), which is non-increasing in σ; the upper end of the final bracket
    ///   (adjacent doubles) is returned, so the accountant certifies it.
    ///
    /// Every result is checked once more against ``PrivacyAccountant/spend(of:delta:accountant:)``.
    /// - Throws: `invalidParameter` for a non-positive ε, a δ outside (0, 1) for the Gaussian
    ///   kinds, a negative sensitivity or a count, dimension or shares below 1.
    public static func calibrate(_ template: MechanismEvent, epsilon: Double, delta: Double = 0) throws -> CalibratedNoise {
        guard epsilon.isFinite, epsilon > 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "epsilon", value: "\(epsilon)", reason: "must be positive and finite")
        }
        let sensitivity = template.sensitivity
        guard sensitivity.isFinite, sensitivity >= 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "sensitivity", value: "\(sensitivity)", reason: "must be non-negative")
        }
        guard template.count >= 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "count", value: "\(template.count)", reason: "must be at least 1")
        }
        guard template.dimension >= 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "dimension", value: "\(template.dimension)", reason: "must be at least 1")
        }
        guard template.shares >= 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "shares", value: "\(template.shares)", reason: "must be at least 1")
        }
        if !template.mechanism.isPure {
            guard delta > 0, delta < 1 else {
                throw DifferentialPrivacyError.invalidParameter(
                    name: "delta", value: "\(delta)",
                    reason: "the Gaussian mechanisms need 0 < δ < 1")
            }
        } else {
            guard delta >= 0, delta < 1 else {
                throw DifferentialPrivacyError.invalidParameter(name: "delta", value: "\(delta)", reason: "must be in [0, 1)")
            }
        }
        // Zero sensitivity needs no noise; the smallest valid event still records a positive one.
        let positiveSensitivity = sensitivity > 0 ? sensitivity : Double.leastNormalMagnitude

        var event = template
        let bound: CalibrationBound
        switch template.mechanism {
        case .laplace, .discreteLaplace:
            bound = .pureLaplace
            guard let target = ExactRational(exactly: epsilon) else {
                throw DifferentialPrivacyError.invalidParameter(name: "epsilon", value: "\(epsilon)", reason: "must be finite")
            }
            var b = Double(template.count) * positiveSensitivity / epsilon
            guard b.isFinite, b > 0 else {
                throw DifferentialPrivacyError.invalidParameter(name: "epsilon", value: "\(epsilon)", reason: "needs a noise scale beyond the largest double")
            }
            event.noise = b
            while PrivacyAccountant.pureEpsilonExact(event) * ExactRational(template.count) > target {
                b = b.nextUp
                event.noise = b
            }
        case .gaussian:
            bound = .analyticGaussian
            let m = AnalyticGaussian.noiseMultiplier(epsilon: epsilon, delta: delta)
            event.noise = positiveSensitivity * Double(template.count).squareRoot() * m
            event.noise = try smallestCertified(event, from: event.noise, epsilon: epsilon, delta: delta)
        case .discreteGaussian:
            bound = template.shares > 1 ? .distributedDiscreteGaussianRDP : .discreteGaussianRDP
            // Start where the continuous Gaussian's exact curve would put σ: the RDP bound is
            // never tighter, so the certified σ lies at or above (found by doubling, then bisection).
            let m = AnalyticGaussian.noiseMultiplier(epsilon: epsilon, delta: delta)
            let start = positiveSensitivity * Double(template.count).squareRoot() * m
            event.noise = try bisect(event, below: start, epsilon: epsilon, delta: delta)
        }
        let spend = try PrivacyAccountant.spend(of: [event], delta: delta, accountant: .best)
        guard spend.epsilon <= epsilon else {
            // Unreachable by construction; refuse rather than release under an uncertified ε.
            throw DifferentialPrivacyError.invalidParameter(
                name: "epsilon", value: "\(epsilon)",
                reason: "the calibrated noise \(event.noise) is certified only for ε = \(spend.epsilon)")
        }
        return CalibratedNoise(noise: event.noise, event: event, spend: spend, bound: bound)
    }

    /// ε at `delta` of `event` with noise `noise` by the `best` accountant, or +∞ when no
    /// accountant certifies it (for example a share below the ½-grid-unit floor of KLS21).
    static func certifiedEpsilon(_ event: MechanismEvent, noise: Double, delta: Double) -> Double {
        var candidate = event
        candidate.noise = noise
        guard let spend = try? PrivacyAccountant.spend(of: [candidate], delta: delta, accountant: .best) else { return .infinity }
        return spend.epsilon
    }

    /// `noise` if the accountant certifies it at `epsilon`, else the smallest larger noise that it
    /// certifies (a closed-form calibration can land an ulp on the wrong side of the target).
    static func smallestCertified(_ event: MechanismEvent, from noise: Double, epsilon: Double, delta: Double) throws -> Double {
        if certifiedEpsilon(event, noise: noise, delta: delta) <= epsilon { return noise }
        return try bisect(event, below: noise, epsilon: epsilon, delta: delta)
    }

    /// Bisection over the noise on the accountant's ε(noise), which is non-increasing: finds
    /// adjacent doubles lo < hi with ε(lo) > target ≥ ε(hi) and returns hi.
    /// - Parameter guess: a starting point (any positive noise).
    static func bisect(_ event: MechanismEvent, below guess: Double, epsilon: Double, delta: Double) throws -> Double {
        var hi = max(guess, .leastNormalMagnitude)
        var lo = hi
        // Bracket: hi certified, lo not.
        var steps = 0
        while certifiedEpsilon(event, noise: hi, delta: delta) > epsilon {
            lo = hi
            hi *= 2
            steps += 1
            guard hi.isFinite, steps < 2100 else {
                throw DifferentialPrivacyError.invalidParameter(
                    name: "epsilon", value: "\(epsilon)",
                    reason: "no finite noise is certified for it at δ = \(delta)")
            }
        }
        if lo == hi {
            steps = 0
            repeat {
                lo /= 2
                steps += 1
                if lo == 0 || steps > 2100 { return hi }  // certified at every noise tried
            } while certifiedEpsilon(event, noise: lo, delta: delta) <= epsilon
        }
        while lo.nextUp < hi {
            // The midpoint of the bit patterns for wide brackets keeps the loop to ~64 steps.
            let mid = lo * 2 < hi ? (lo * hi).squareRoot() : lo + (hi - lo) / 2
            let middle = (mid > lo && mid < hi) ? mid : lo.nextUp
            if certifiedEpsilon(event, noise: middle, delta: delta) <= epsilon { hi = middle } else { lo = middle }
        }
        return hi
    }
}
