import Foundation

/// The standard normal distribution, for accounting and calibration only (floating point is
/// fine there; it never touches the noise path).
public enum StandardNormal {
    private static let logSqrtTwoPi = 0.918_938_533_204_672_741_78

    /// Φ(x).
    public static func cdf(_ x: Double) -> Double {
        0.5 * erfc(-x / 2.0.squareRoot())
    }

    /// ln Φ(x), accurate to a few ulps over the whole line (scipy's `log_ndtr` to ~1e-15).
    ///
    /// For x ≥ −5, ln(½·erfc(−x/√2)) (erfc is accurate to an ulp, and log1p keeps precision as
    /// Φ → 1). Below, the Laplace continued fraction of the Mills ratio:
    /// Φ(−z) = φ(z) / (z + 1/(z + 2/(z + 3/(z + …)))), which converges fast for z > 5.
    public static func logCDF(_ x: Double) -> Double {
        if x.isNaN { return .nan }
        if x == .infinity { return 0 }
        if x == -.infinity { return -.infinity }
        if x > 0 {
            return log1p(-0.5 * erfc(x / 2.0.squareRoot()))
        }
        if x >= -5 {
            return log(0.5 * erfc(-x / 2.0.squareRoot()))
        }
        let z = -x
        var fraction = z
        for k in stride(from: 200, through: 1, by: -1) {
            fraction = z + Double(k) / fraction
        }
        return -0.5 * z * z - logSqrtTwoPi - log(fraction)
    }
}

/// The Gaussian mechanism's exact privacy curve (Balle & Wang 2018, Theorem 8), in units of
/// the noise multiplier m = σ/Δ₂.
public enum AnalyticGaussian {
    /// ln δ(ε) for noise multiplier m: δ = Φ(1/(2m) − εm) − e^ε Φ(−1/(2m) − εm), computed as
    /// x + log1p(−exp(y − x)) with x = ln Φ(·), y = ε + ln Φ(·) (as dp-accounting does).
    public static func logDelta(noiseMultiplier m: Double, epsilon: Double) -> Double {
        let tStar = epsilon * m + 1 / (2 * m)
        let x = StandardNormal.logCDF(1 / m - tStar)
        let y = epsilon + StandardNormal.logCDF(-tStar)
        return y <= x ? x + log1p(-exp(y - x)) : -.infinity
    }

    /// The smallest ε with δ(ε) ≤ `delta` for noise multiplier m (0 when (0, δ) already holds).
    public static func epsilon(noiseMultiplier m: Double, delta: Double) -> Double {
        if delta >= 1 { return 0 }
        if m == 0 || delta <= 0 { return .infinity }
        if m == .infinity { return 0 }
        let target = log(delta)
        if logDelta(noiseMultiplier: m, epsilon: 0) < target { return 0 }
        var low = 0.0
        var high = 1.0
        while logDelta(noiseMultiplier: m, epsilon: high) > target {
            low = high
            high *= 10
            if high > 1e300 { return .infinity }
        }
        // Bisection to the last bit; δ(ε) is decreasing, so `high` always satisfies δ ≤ target
        // and is what we return (the safe side).
        for _ in 0..<200 {
            let middle = 0.5 * (low + high)
            if middle <= low || middle >= high { break }
            if logDelta(noiseMultiplier: m, epsilon: middle) > target { low = middle } else { high = middle }
        }
        return high
    }

    /// The smallest noise multiplier m = σ/Δ₂ for which the Gaussian mechanism is (ε, δ)-DP
    /// (the upper end of a bisection that brackets the root to the last bit: the safe side).
    public static func noiseMultiplier(epsilon: Double, delta: Double) -> Double {
        if delta >= 1 || epsilon == .infinity { return 0 }
        if delta <= 0 { return .infinity }
        let target = log(delta)
        var low = 0.1
        var high = 1.0
        while logDelta(noiseMultiplier: low, epsilon: epsilon) < target {
            high = low
            low /= 10
            if low < 1e-300 { return 0 }
        }
        while logDelta(noiseMultiplier: high, epsilon: epsilon) > target {
            low = high
            high *= 10
            if high > 1e300 { return .infinity }
        }
        for _ in 0..<200 {
            let middle = 0.5 * (low + high)
            if middle <= low || middle >= high { break }
            if logDelta(noiseMultiplier: middle, epsilon: epsilon) > target { low = middle } else { high = middle }
        }
        return high
    }
}
