import Foundation
import Testing
import _TestSupport

@testable import DifferentialPrivacy

/// ε values against Google's dp-accounting 0.6.0 (Tests/TestVectors/dp_accounting_vectors.py).
@Suite struct AccountantTests {
    struct Vectors: Decodable {
        struct Gaussian: Decodable {
            let sigma, sensitivity: Double
            let count: Int
            let delta, rdp, order, exact: Double
            let advanced: Double?
        }
        struct Laplace: Decodable {
            let scale, sensitivity: Double
            let count: Int
            let delta, rdp, order, basic: Double
            let advanced: Double?
        }
        struct Calibration: Decodable { let epsilon, delta, sigma: Double }
        let gaussian: [Gaussian]
        let laplace: [Laplace]
        let calibration: [Calibration]
    }

    static let vectors: Vectors? = try? TestVectors.load(Vectors.self, from: "dp_accounting.json")

    static func relative(_ a: Double, _ b: Double) -> Double {
        if a == b { return 0 }
        return abs(a - b) / max(abs(a), abs(b))
    }

    static func epsilon(_ event: MechanismEvent, _ delta: Double, _ kind: AccountantKind) throws -> PrivacySpend {
        try PrivacyAccountant.spend(of: [event], delta: delta, accountant: kind)
    }

    @Test func vectorsLoad() throws {
        let vectors = try #require(Self.vectors)
        #expect(vectors.gaussian.count >= 100 && vectors.laplace.count >= 60 && vectors.calibration.count >= 30)
    }

    @Test func gaussianMatchesDPAccounting() throws {
        let vectors = try #require(Self.vectors)
        for row in vectors.gaussian {
            let event = MechanismEvent(mechanism: .gaussian, noise: row.sigma, sensitivity: row.sensitivity, count: row.count)
            let rdp = try Self.epsilon(event, row.delta, .rdp)
            #expect(
                Self.relative(rdp.epsilon, row.rdp) <= 1e-6,
                "RDP σ=\(row.sigma) Δ=\(row.sensitivity) k=\(row.count) δ=\(row.delta): \(rdp.epsilon) vs \(row.rdp)")
            #expect(rdp.order == row.order, "RDP order σ=\(row.sigma) k=\(row.count)")
            let exact = try Self.epsilon(event, row.delta, .exact)
            #expect(
                Self.relative(exact.epsilon, row.exact) <= 1e-6,
                "exact σ=\(row.sigma) Δ=\(row.sensitivity) k=\(row.count) δ=\(row.delta): \(exact.epsilon) vs \(row.exact)")
            if let expected = row.advanced {
                let advanced = try Self.epsilon(event, row.delta, .advanced)
                #expect(Self.relative(advanced.epsilon, expected) <= 1e-6, "advanced σ=\(row.sigma) k=\(row.count): \(advanced.epsilon) vs \(expected)")
            }
            let best = try Self.epsilon(event, row.delta, .best)
            #expect(best.epsilon <= min(rdp.epsilon, exact.epsilon))
        }
    }

    @Test func laplaceMatchesDPAccounting() throws {
        let vectors = try #require(Self.vectors)
        for row in vectors.laplace {
            let event = MechanismEvent(mechanism: .laplace, noise: row.scale, sensitivity: row.sensitivity, count: row.count)
            let rdp = try Self.epsilon(event, row.delta, .rdp)
            #expect(
                Self.relative(rdp.epsilon, row.rdp) <= 1e-6,
                "RDP b=\(row.scale) Δ=\(row.sensitivity) k=\(row.count) δ=\(row.delta): \(rdp.epsilon) vs \(row.rdp)")
            #expect(rdp.order == row.order, "RDP order b=\(row.scale) k=\(row.count)")
            let basic = try Self.epsilon(event, row.delta, .basic)
            #expect(Self.relative(basic.epsilon, row.basic) <= 1e-12)
            if let expected = row.advanced {
                let advanced = try Self.epsilon(event, row.delta, .advanced)
                #expect(Self.relative(advanced.epsilon, expected) <= 1e-6, "advanced b=\(row.scale) k=\(row.count): \(advanced.epsilon) vs \(expected)")
            }
        }
    }

    @Test func calibrationMatchesAnalyticGaussian() throws {
        let vectors = try #require(Self.vectors)
        for row in vectors.calibration {
            let sigma = try Calibration.noise(for: .gaussian, epsilon: row.epsilon, delta: row.delta, sensitivity: 1)
            #expect(Self.relative(sigma, row.sigma) <= 1e-6, "ε=\(row.epsilon) δ=\(row.delta): \(sigma) vs \(row.sigma)")
            // The calibrated σ really gives (ε, δ): the safe side of the root.
            #expect(AnalyticGaussian.logDelta(noiseMultiplier: sigma, epsilon: row.epsilon) <= log(row.delta) + 1e-12)
        }
        // Reference values (differential-privacy.md §b.6 and §c.3).
        #expect(Self.relative(try Calibration.noise(for: .gaussian, epsilon: 1, delta: 1e-5, sensitivity: 1), 3.73063) < 1e-5)
        #expect(Self.relative(try Calibration.noise(for: .gaussian, epsilon: 1, delta: 0.78760074, sensitivity: 6, count: 25), 10) < 1e-6)
        #expect(try Calibration.noise(for: .laplace, epsilon: 3, sensitivity: 21, count: 10) == 70)
    }

    @Test func referenceValues() throws {
        // dp-accounting's own tests (differential-privacy.md §c.1, §c.3).
        let rdp = PrivacyAccountant.convert(orders: (2...32).map(Double.init), rdp: Array(repeating: 1.1, count: 31), delta: 1e-5)
        #expect(Self.relative(rdp.epsilon, 1.32783806176) < 1e-9 && rdp.order == 32)
        #expect(PrivacyAccountant.optimalHomogeneous(epsilon: 1, delta: 0, count: 30, totalDelta: 0) == 30)
        #expect(PrivacyAccountant.optimalHomogeneous(epsilon: 1, delta: 0.001, count: 30, totalDelta: 0.06) == 22)
        #expect(PrivacyAccountant.optimalHomogeneous(epsilon: 1, delta: 0.001, count: 30, totalDelta: 0.1) == 20)
        #expect(PrivacyAccountant.optimalHomogeneous(epsilon: 1, delta: 0.2, count: 1, totalDelta: 0.1) == nil)
        #expect(PrivacyAccountant.optimalHomogeneous(epsilon: 1, delta: 0.01, count: 30, totalDelta: 0.26) == nil)
        // Balle–Wang δ at ε = 1 for σ = 1 (§c.2.7).
        #expect(Self.relative(exp(AnalyticGaussian.logDelta(noiseMultiplier: 1, epsilon: 1)), 0.12693674) < 1e-6)
        // A single Laplace: basic 1.0 beats RDP's 1.00282 (§c.9).
        let single = try PrivacyAccountant.spend(
            of: [MechanismEvent(mechanism: .laplace, noise: 1, sensitivity: 1)],
            delta: 1e-5, accountant: .best)
        #expect(single.epsilon == 1 && single.accountant == .basic)
    }

    @Test func logCDFIsAccurate() {
        // scipy.special.log_ndtr.
        let cases: [(Double, Double)] = [
            (3, -0.0013508099647481925), (0.5, -0.36894641528865635), (0, -0.6931471805599453),
            (-1, -1.8410216450092634), (-4.9, -14.551182689355313), (-5.1, -15.588487091871468),
            (-10, -53.23128515051248), (-37, -689.0305855768908), (-100, -5005.524208694205),
            (-1000, -500007.8266948122),
        ]
        for (x, expected) in cases {
            #expect(Self.relative(StandardNormal.logCDF(x), expected) < 1e-13, "log Φ(\(x))")
        }
    }

    @Test func basicCompositionIsExactForPureEvents() throws {
        // 10 × ε = 0.1 is exactly 1 (OpenDP #2131: 1.0000000000000002 in floats).
        let event = MechanismEvent(mechanism: .laplace, noise: 10, sensitivity: 1, count: 10)
        let spend = try PrivacyAccountant.spend(of: [event], delta: 0, accountant: .basic)
        #expect(spend.exactEpsilon == ExactRational(1))
    }

    @Test func unknownKindsAndInapplicableAccountantsAreRefused() throws {
        #expect(throws: DifferentialPrivacyError.unknownKind(field: "mechanism", value: "staircase")) {
            try MechanismKind(parsing: "staircase")
        }
        #expect(throws: DifferentialPrivacyError.self) { try AccountantKind(parsing: "pld") }
        let laplace = MechanismEvent(mechanism: .laplace, noise: 1, sensitivity: 1)
        #expect(throws: DifferentialPrivacyError.self) { try PrivacyAccountant.spend(of: [laplace], delta: 1e-5, accountant: .exact) }
        let gaussian = MechanismEvent(mechanism: .gaussian, noise: 1, sensitivity: 1)
        #expect(throws: DifferentialPrivacyError.self) { try PrivacyAccountant.spend(of: [gaussian], delta: 0, accountant: .best) }
        #expect(throws: DifferentialPrivacyError.self) {
            try PrivacyAccountant.spend(of: [MechanismEvent(mechanism: .gaussian, noise: -1, sensitivity: 1)], delta: 1e-5, accountant: .rdp)
        }
    }

    @Test func discreteEventsUseDiscreteBounds() throws {
        // Discrete Gaussian, one source: same RDP as the Gaussian (CKS20), but no exact curve.
        let dg = MechanismEvent(mechanism: .discreteGaussian, noise: 65536, sensitivity: 65536 + 10, dimension: 100, count: 3)
        let g = MechanismEvent(mechanism: .gaussian, noise: 65536, sensitivity: 65536 + 10, count: 3)
        let a = try PrivacyAccountant.spend(of: [dg], delta: 1e-6, accountant: .rdp)
        let b = try PrivacyAccountant.spend(of: [g], delta: 1e-6, accountant: .rdp)
        #expect(a.epsilon == b.epsilon)
        #expect(throws: DifferentialPrivacyError.self) { try PrivacyAccountant.spend(of: [dg], delta: 1e-6, accountant: .exact) }
        // Distributed over 5 shares: τ is negligible at σ ≫ 1, so the cost is that of one source.
        var shared = dg
        shared.shares = 5
        let c = try PrivacyAccountant.spend(of: [shared], delta: 1e-6, accountant: .rdp)
        #expect(Self.relative(c.epsilon, a.epsilon) < 1e-12)
        // …but at σ ≈ 1 per share the KLS21 correction is charged.
        let small = MechanismEvent(mechanism: .discreteGaussian, noise: 2, sensitivity: 1, dimension: 10, shares: 4)
        let single = MechanismEvent(mechanism: .discreteGaussian, noise: 2, sensitivity: 1, dimension: 10, shares: 1)
        #expect(
            try PrivacyAccountant.spend(of: [small], delta: 1e-6, accountant: .rdp).epsilon
                > PrivacyAccountant.spend(of: [single], delta: 1e-6, accountant: .rdp).epsilon)
        // Discrete Laplace: pure ε = Δ/b exactly.
        let dl = MechanismEvent(mechanism: .discreteLaplace, noise: 1_048_576, sensitivity: 65_536, count: 4)
        #expect(try PrivacyAccountant.spend(of: [dl], delta: 0, accountant: .best).epsilon == 0.25)
    }
}

/// Found by the crash test: with a pure cap (δ = 0) and many small Laplace charges, the
/// optimal-composition δ_i cancelled to zero and `best` charged (k − 4)ε instead of kε.
@Test("optimal composition never certifies a pure target with fewer than k·ε")
func optimalCompositionPureTarget() throws {
    for k in [10, 63, 200, 1000] {
        let epsilon = PrivacyAccountant.optimalHomogeneous(epsilon: 0.1, delta: 0, count: k, totalDelta: 0)
        #expect(epsilon == 0.1 * Double(k), "k = \(k)")
    }
}
