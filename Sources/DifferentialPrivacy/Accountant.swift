import Foundation

/// The composition theorems fedshare can charge with.
public enum AccountantKind: String, Codable, Sendable, CaseIterable, Hashable {
    /// Sum of per-release (ε, δ): pure events add Δ₁/b exactly; Gaussian events share δ equally.
    case basic
    /// Kairouz–Oh–Viswanath optimal composition (homogeneous; heterogeneous pure via Thm 3.5).
    case advanced
    /// Rényi DP summed over dp-accounting's default orders, converted as dp-accounting does.
    case rdp
    /// Exact composition of continuous Gaussians (one Gaussian with σ_eff), Balle–Wang curve.
    case exact
    /// The smallest of all the above that apply.
    case best

    public init(parsing text: String) throws {
        guard let kind = AccountantKind(rawValue: text) else {
            throw DifferentialPrivacyError.unknownKind(field: "accountant", value: text)
        }
        self = kind
    }
}

/// What a history costs: the (ε, δ) guarantee and how it was obtained.
public struct PrivacySpend: Codable, Sendable, Equatable {
    public var epsilon: Double
    public var delta: Double
    /// The accountant that produced the bound (for `best`, the winner).
    public var accountant: AccountantKind
    /// The optimal Rényi order (RDP only).
    public var order: Double?
    /// The exact rational ε when it was computed without floating point (pure basic composition).
    public var exactEpsilon: ExactRational?

    enum CodingKeys: String, CodingKey { case epsilon, delta, accountant, order }

    public init(
        epsilon: Double, delta: Double, accountant: AccountantKind, order: Double? = nil,
        exactEpsilon: ExactRational? = nil
    ) {
        self.epsilon = epsilon
        self.delta = delta
        self.accountant = accountant
        self.order = order
        self.exactEpsilon = exactEpsilon
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epsilon = try c.decode(Double.self, forKey: .epsilon)
        delta = try c.decode(Double.self, forKey: .delta)
        accountant = try c.decode(AccountantKind.self, forKey: .accountant)
        order = try c.decodeIfPresent(Double.self, forKey: .order)
        exactEpsilon = nil
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epsilon, forKey: .epsilon)
        try c.encode(delta, forKey: .delta)
        try c.encode(accountant, forKey: .accountant)
        try c.encodeIfPresent(order, forKey: .order)
    }
}

/// Computes ε(δ) of a history of mechanism events. Stateless: every number is recomputed from
/// the events (never from a stored ε).
public enum PrivacyAccountant {
    /// dp-accounting's `DEFAULT_RDP_ORDERS`: 1.1, 1.2, …, 10.9, 11, 12, …, 63, 128, 256, 512, 1024.
    public static let defaultOrders: [Double] = {
        var orders: [Double] = []
        for x in 1...99 { orders.append(1 + Double(x) / 10.0) }
        for x in 11...63 { orders.append(Double(x)) }
        orders.append(contentsOf: [128, 256, 512, 1024])
        return orders
    }()

    /// ε at `delta` for `events`, by `accountant`.
    /// - Throws: `notApplicable` when the accountant cannot bound this history (for `best`,
    ///   only when none can), `invalidParameter` on a malformed event.
    public static func spend(
        of events: [MechanismEvent], delta: Double,
        accountant: AccountantKind
    ) throws -> PrivacySpend {
        guard delta >= 0, delta <= 1, !delta.isNaN else {
            throw DifferentialPrivacyError.invalidParameter(name: "delta", value: "\(delta)", reason: "must be in [0, 1]")
        }
        for event in events { try event.validate() }
        switch accountant {
        case .basic: return try basic(events, delta: delta)
        case .advanced: return try advanced(events, delta: delta)
        case .rdp: return try rdp(events, delta: delta)
        case .exact: return try exact(events, delta: delta)
        case .best:
            var best: PrivacySpend?
            var reasons: [String] = []
            for kind in [AccountantKind.basic, .exact, .rdp, .advanced] {
                do {
                    let candidate = try spend(of: events, delta: delta, accountant: kind)
                    if best == nil || candidate.epsilon < best!.epsilon { best = candidate }
                } catch let DifferentialPrivacyError.notApplicable(_, reason) {
                    reasons.append("\(kind.rawValue): \(reason)")
                }
            }
            guard let best else {
                throw DifferentialPrivacyError.notApplicable(accountant: "best", reason: reasons.joined(separator: "; "))
            }
            return best
        }
    }

    // MARK: Basic composition

    static func basic(_ events: [MechanismEvent], delta: Double) throws -> PrivacySpend {
        var pure = ExactRational(0)
        var approximate = 0.0
        let gaussianReleases = events.filter { !$0.mechanism.isPure }.reduce(0) { $0 + $1.count }
        if gaussianReleases > 0 && delta == 0 {
            throw DifferentialPrivacyError.notApplicable(accountant: "basic", reason: "Gaussian releases need δ > 0")
        }
        let share = gaussianReleases > 0 ? delta / Double(gaussianReleases) : 0
        for event in events {
            if event.mechanism.isPure {
                pure = pure + pureEpsilonExact(event) * ExactRational(event.count)
            } else {
                approximate += Double(event.count) * (try singleEpsilon(event, delta: share))
            }
        }
        let epsilon = pure.doubleValue + approximate
        return PrivacySpend(
            epsilon: epsilon, delta: delta, accountant: .basic,
            exactEpsilon: gaussianReleases == 0 ? pure : nil)
    }

    /// Δ₁/b of one pure release, exactly (both are the exact values of their doubles).
    static func pureEpsilonExact(_ event: MechanismEvent) -> ExactRational {
        guard let sensitivity = ExactRational(exactly: event.sensitivity),
            let noise = ExactRational(exactly: event.noise), !noise.isZero
        else { return ExactRational(0) }
        return sensitivity / noise
    }

    /// ε(δ) of one release of an approximate-DP event.
    static func singleEpsilon(_ event: MechanismEvent, delta: Double) throws -> Double {
        switch event.mechanism {
        case .laplace, .discreteLaplace:
            return event.sensitivity / event.noise
        case .gaussian:
            if event.sensitivity == 0 { return 0 }
            return AnalyticGaussian.epsilon(noiseMultiplier: event.noise / event.sensitivity, delta: delta)
        case .discreteGaussian:
            var single = event
            single.count = 1
            let curve = defaultOrders.map { rdp(of: single, order: $0) }
            return convert(orders: defaultOrders, rdp: curve, delta: delta).epsilon
        }
    }

    // MARK: Advanced composition

    static func advanced(_ events: [MechanismEvent], delta: Double) throws -> PrivacySpend {
        let releases = events.reduce(0) { $0 + $1.count }
        guard releases > 0 else { return PrivacySpend(epsilon: 0, delta: delta, accountant: .advanced) }
        if events.allSatisfy({ $0.mechanism.isPure }) {
            let epsilons = events.map { $0.sensitivity / $0.noise }
            if Set(epsilons).count == 1 {
                guard let epsilon = optimalHomogeneous(epsilon: epsilons[0], delta: 0, count: releases, totalDelta: delta) else {
                    throw DifferentialPrivacyError.notApplicable(accountant: "advanced", reason: "no ε achieves this δ")
                }
                return PrivacySpend(epsilon: epsilon, delta: delta, accountant: .advanced)
            }
            guard delta > 0 else {
                throw DifferentialPrivacyError.notApplicable(accountant: "advanced", reason: "heterogeneous composition needs δ > 0")
            }
            // Kairouz–Oh–Viswanath Theorem 3.5 (as diffprivlib's BudgetAccountant.total), slack δ.
            var sum = 0.0
            var tanhSum = 0.0
            var squareSum = 0.0
            for (event, epsilon) in zip(events, epsilons) {
                let k = Double(event.count)
                sum += k * epsilon
                tanhSum += k * epsilon * (1 - exp(-epsilon)) / (1 + exp(-epsilon))
                squareSum += k * epsilon * epsilon
            }
            let drv = tanhSum + (2 * squareSum * log(1 / delta)).squareRoot()
            let kov = tanhSum + (2 * squareSum * log(M_E + squareSum.squareRoot() / delta)).squareRoot()
            return PrivacySpend(epsilon: min(sum, drv, kov), delta: delta, accountant: .advanced)
        }
        // Gaussian releases: only a homogeneous history, each release (ε₀, δ/(2k)).
        let first = events[0]
        let homogeneous = events.allSatisfy {
            $0.mechanism == first.mechanism && $0.noise * first.sensitivity == first.noise * $0.sensitivity
                && (first.mechanism != .discreteGaussian
                    || ($0.noise == first.noise && $0.dimension == first.dimension && $0.shares == first.shares))
        }
        guard homogeneous, delta > 0 else {
            throw DifferentialPrivacyError.notApplicable(
                accountant: "advanced", reason: "Gaussian releases are composed only when identical and δ > 0")
        }
        let delta0 = delta / Double(2 * releases)
        let epsilon0 = try singleEpsilon(first, delta: delta0)
        guard let epsilon = optimalHomogeneous(epsilon: epsilon0, delta: delta0, count: releases, totalDelta: delta) else {
            throw DifferentialPrivacyError.notApplicable(accountant: "advanced", reason: "no ε achieves this δ")
        }
        return PrivacySpend(epsilon: epsilon, delta: delta, accountant: .advanced)
    }

    /// Kairouz–Oh–Viswanath Theorem 3.3 (dp-accounting `advanced_composition`): the smallest
    /// ε₀(k − 2i) such that k-fold (ε₀, δ₀) is (ε₀(k − 2i), totalDelta)-DP, or nil.
    ///
    /// δ_i = Σ_{l<i} C(k,l)(e^{ε₀(k−l)} − e^{ε₀(k−2i+l)})/(1+e^{ε₀})^k is rewritten as
    /// F(i−1) − e^{ε₀(k−2i)}·G(i−1) with F, G the CDFs of Binomial(k, 1−p) and Binomial(k, p),
    /// p = e^{ε₀}/(1+e^{ε₀}), computed in log space: O(k) instead of O(k²), no overflow.
    public static func optimalHomogeneous(epsilon: Double, delta: Double, count k: Int, totalDelta: Double) -> Double? {
        guard k >= 1 else { return 0 }
        let logP = -log1p(exp(-epsilon))  // ln p
        let logQ = -epsilon - log1p(exp(-epsilon))  // ln(1 − p)
        let logBinomial: (Int) -> Double = { l in
            lgamma(Double(k) + 1) - lgamma(Double(l) + 1) - lgamma(Double(k - l) + 1)
        }
        // Prefix log-sums of the two binomial pmfs for l = 0 … k/2.
        let half = k / 2
        var logF = [Double](repeating: -.infinity, count: half + 1)
        var logG = [Double](repeating: -.infinity, count: half + 1)
        func logAdd(_ a: Double, _ b: Double) -> Double {
            if a == -.infinity { return b }
            if b == -.infinity { return a }
            let m = max(a, b)
            return m + log1p(exp(min(a, b) - m))
        }
        var runningF = -Double.infinity
        var runningG = -Double.infinity
        for l in 0...half {
            let c = logBinomial(l)
            runningF = logAdd(runningF, c + Double(k - l) * logP + Double(l) * logQ)
            runningG = logAdd(runningG, c + Double(l) * logP + Double(k - l) * logQ)
            logF[l] = runningF
            logG[l] = runningG
        }
        let logOneMinusDelta0k = Double(k) * log1p(-delta)
        for i in stride(from: half, through: 0, by: -1) {
            var deltaI = 0.0
            if i > 0 {
                deltaI = exp(logF[i - 1]) - exp(epsilon * Double(k - 2 * i) + logG[i - 1])
                // The difference above cancels to zero or below when δ_i is tiny, which would let
                // a pure target (δ = 0) accept i ≥ 1. The l = 0 term alone is a lower bound on
                // δ_i that needs no cancellation: (e^{ε₀k} − e^{ε₀(k−2i)})/(1+e^{ε₀})^k > 0.
                let firstTerm = exp(epsilon * Double(k) - Double(k) * log1p(exp(epsilon))) * -expm1(-2 * epsilon * Double(i))
                deltaI = max(deltaI, firstTerm)
            }
            // 1 − (1 − δ₀)^k (1 − δ_i), written so that a tiny δ_i is not rounded away.
            let composedDelta = deltaI + (1 - deltaI) * -expm1(logOneMinusDelta0k)
            if composedDelta <= totalDelta {
                return epsilon * Double(k - 2 * i)
            }
        }
        return nil
    }

    // MARK: Rényi DP

    static func rdp(_ events: [MechanismEvent], delta: Double) throws -> PrivacySpend {
        let curve = rdpCurve(of: events)
        let (epsilon, order) = convert(orders: defaultOrders, rdp: curve, delta: delta)
        if epsilon == .infinity {
            throw DifferentialPrivacyError.notApplicable(accountant: "rdp", reason: "no finite ε at δ = \(delta)")
        }
        return PrivacySpend(epsilon: epsilon, delta: delta, accountant: .rdp, order: order)
    }

    /// The composed RDP curve over `orders` (RDP adds per order).
    public static func rdpCurve(of events: [MechanismEvent], orders: [Double] = defaultOrders) -> [Double] {
        var total = [Double](repeating: 0, count: orders.count)
        for event in events {
            for (index, order) in orders.enumerated() {
                total[index] += Double(event.count) * rdp(of: event, order: order)
            }
        }
        return total
    }

    /// The RDP of one release at `order` (event.count is ignored).
    public static func rdp(of event: MechanismEvent, order alpha: Double) -> Double {
        if event.sensitivity == 0 { return 0 }
        switch event.mechanism {
        case .gaussian:
            // dp-accounting: α / (2 m²) with m = σ/Δ₂.
            let m = event.noise / event.sensitivity
            return alpha / (2 * m * m)
        case .laplace:
            return laplaceRDP(epsilon: event.sensitivity / event.noise, order: alpha)
        case .discreteLaplace:
            // Any ε-DP mechanism is (α, min(ε, αε²/2))-RDP (Bun–Steinke 2016, Prop. 3.3).
            let epsilon = event.sensitivity / event.noise
            return min(epsilon, alpha * epsilon * epsilon / 2)
        case .discreteGaussian:
            let ratio = event.sensitivity / event.noise
            let gaussian = alpha * ratio * ratio / 2
            if event.shares <= 1 { return gaussian }  // CKS20: (Δ₂²/2σ²)-zCDP on Z^d.
            // Kairouz–Liu–Steinke 2021, Prop. 14: the sum of n discrete Gaussians of variance
            // σ²/n each (σ ≥ 1/2 per share), with τ = 10·Σ_{k<n} exp(−2π²(σ²/n)·k/(k+1)).
            let n = event.shares
            let perShareVariance = event.noise * event.noise / Double(n)
            var tau = 0.0
            for k in 1..<n {
                tau += exp(-2 * Double.pi * Double.pi * perShareVariance * Double(k) / Double(k + 1))
            }
            tau *= 10
            let d = Double(event.dimension)
            let first = gaussian + tau * d
            let root = ratio + tau * d.squareRoot()
            return min(first, alpha / 2 * root * root)
        }
    }

    /// Mironov 2017 Prop. 6, as dp-accounting `_laplace_rdp` (including its Taylor series for
    /// 1 < α < 1.1).
    static func laplaceRDP(epsilon eps: Double, order a: Double) -> Double {
        if a == 1 { return eps + expm1(-eps) }
        if a < 1.1 {
            let c = expm1(eps * (1 - 2 * a)) / (2 * a - 1)
            let v = -c * (a - 1)
            var sum = 0.0
            var power = 1.0
            for k in 1..<100 {
                sum += power / Double(k)
                power *= v
            }
            return eps + c * sum
        }
        return eps + log1p((a - 1) * expm1(eps * (1 - 2 * a)) / (2 * a - 1)) / (a - 1)
    }

    /// dp-accounting's `compute_epsilon`: the improved conversion (arXiv 2004.00010 Prop. 12),
    /// the KL shortcut, orders above 1.01 only; returns (ε, optimal order).
    public static func convert(orders: [Double], rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
        if delta == 0 {
            return rdp.allSatisfy { $0 == 0 } ? (0, 0) : (.infinity, 0)
        }
        var best = Double.infinity
        var bestOrder = orders.first ?? 0
        for (a, r) in zip(orders, rdp) {
            let epsilon: Double
            if r < 0 {
                epsilon = 0
            } else if delta * delta + expm1(-r) > 0 {
                epsilon = 0
            } else if a > 1.01 {
                epsilon = r + log1p(-1 / a) - log(delta * a) / (a - 1)
            } else {
                epsilon = .infinity
            }
            if epsilon < best {
                best = epsilon
                bestOrder = a
            }
        }
        return (max(0, best), bestOrder)
    }

    // MARK: Exact Gaussian composition

    static func exact(_ events: [MechanismEvent], delta: Double) throws -> PrivacySpend {
        guard events.allSatisfy({ $0.mechanism == .gaussian }) else {
            throw DifferentialPrivacyError.notApplicable(
                accountant: "exact", reason: "it composes continuous Gaussian releases only")
        }
        // k Gaussians compose to one Gaussian: 1/m_eff² = Σ count·(Δ/σ)².
        var inverseSquare = 0.0
        for event in events {
            let ratio = event.sensitivity / event.noise
            inverseSquare += Double(event.count) * ratio * ratio
        }
        if inverseSquare == 0 { return PrivacySpend(epsilon: 0, delta: delta, accountant: .exact) }
        let epsilon = AnalyticGaussian.epsilon(noiseMultiplier: 1 / inverseSquare.squareRoot(), delta: delta)
        if epsilon == .infinity {
            throw DifferentialPrivacyError.notApplicable(accountant: "exact", reason: "no finite ε at δ = \(delta)")
        }
        return PrivacySpend(epsilon: epsilon, delta: delta, accountant: .exact)
    }
}
