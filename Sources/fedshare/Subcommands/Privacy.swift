import ArgumentParser
import DifferentialPrivacy
import Foundation

/// `fedshare privacy …`: the accountant as a calculator.
struct Privacy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute the privacy cost of releases, or the noise a target cost needs.",
        subcommands: [Epsilon.self, Calibrate.self, SampleReleases.self]
    )

    /// `fedshare privacy epsilon`.
    struct Epsilon: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print ε(δ) of `count` releases of one noise mechanism.",
            discussion: """
                For gaussian, --noise is σ and --sensitivity the L2 sensitivity; for laplace, --noise is \
                the scale b and --sensitivity the L1 sensitivity. Accountants: basic (sum; Gaussian \
                releases share δ equally), advanced (Kairouz–Oh–Viswanath), rdp (dp-accounting's orders \
                and conversion), exact (composed Gaussians are one Gaussian; Balle–Wang curve), best \
                (the smallest that applies; the default). The discrete kinds (discrete_gaussian, \
                discrete_laplace) take grid units and are what fedshare's ledger records.
                """)

        @Option(help: "gaussian, laplace, discrete_gaussian or discrete_laplace.") var mechanism: String
        @Option(help: "σ (Gaussian) or the Laplace scale b.") var noise: Double
        @Option(help: "L2 (Gaussian) or L1 (Laplace) sensitivity.") var sensitivity: Double = 1
        @Option(help: "Number of releases composed.") var count: Int = 1
        @Option(help: "Target δ (required for Gaussian; 0 if omitted for Laplace).") var delta: Double?
        @Option(help: "basic, advanced, rdp, exact or best.") var accountant: String = "best"
        @Option(help: "Coordinates the noise is added to (discrete Gaussian shares only).") var dimension: Int = 1
        @Option(help: "Noise shares summed (distributed discrete Gaussian).") var shares: Int = 1
        @OptionGroup var output: JSONOutputOptions

        func run() throws {
            let kind = try MechanismKind(parsing: mechanism)
            let accountantKind = try AccountantKind(parsing: accountant)
            guard let delta = delta ?? (kind.isPure ? 0 : nil) else {
                throw CLIError("--delta is required for the \(mechanism) mechanism")
            }
            let event = MechanismEvent(
                mechanism: kind, noise: noise, sensitivity: sensitivity, dimension: dimension,
                shares: shares, count: count)
            let spend = try PrivacyAccountant.spend(of: [event], delta: delta, accountant: accountantKind)
            if output.json {
                try printJSON(spend)
            } else {
                var line = "ε = \(spend.epsilon) at δ = \(spend.delta) (\(spend.accountant.rawValue) accountant"
                if let order = spend.order { line += ", optimal order \(order)" }
                print(line + ")")
            }
        }
    }

    /// `fedshare privacy calibrate`.
    struct Calibrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the noise parameter that makes releases (ε, δ)-DP.",
            discussion: """
                The noise is the smallest the accountant itself certifies at the target (what \
                `fedshare privacy epsilon` gives back for it is at most ε), and the line names the \
                bound used. laplace and discrete_laplace: b = count·Δ₁/ε, checked in exact rationals. \
                gaussian: the analytic Gaussian mechanism (Balle–Wang 2018), rounded up; count releases \
                of σ compose exactly to one of σ/√count. discrete_gaussian (what fedshare adds, in grid \
                units, summed over --shares parties across --dimension coordinates): bisection over σ \
                on the accountant's Rényi-DP bound (Canonne–Kamath–Steinke 2020; Kairouz–Liu–Steinke \
                2021 when --shares > 1).
                """)

        @Option(help: "gaussian, laplace, discrete_gaussian or discrete_laplace.") var mechanism: String
        @Option(help: "Target ε.") var epsilon: Double
        @Option(help: "Target δ (the Gaussian kinds).") var delta: Double = 0
        @Option(help: "L2 (Gaussian kinds) or L1 (Laplace kinds) sensitivity.") var sensitivity: Double = 1
        @Option(help: "Number of releases the target covers.") var count: Int = 1
        @Option(help: "Coordinates the noise is added to (discrete_gaussian only).") var dimension: Int = 1
        @Option(help: "Noise shares summed (discrete_gaussian only).") var shares: Int = 1
        @OptionGroup var output: JSONOutputOptions

        struct Output: Encodable {
            let noise: Double
            let epsilon: Double
            let delta: Double
            let accountant: String
            let bound: String
        }

        func validate() throws {
            guard let kind = MechanismKind(rawValue: mechanism) else {
                throw ValidationError("--mechanism must be gaussian, laplace, discrete_gaussian or discrete_laplace, not '\(mechanism)'")
            }
            if kind != .discreteGaussian && (dimension != 1 || shares != 1) {
                throw ValidationError("--dimension and --shares apply to discrete_gaussian only")
            }
        }

        func run() throws {
            let kind = try MechanismKind(parsing: mechanism)
            let template = MechanismEvent(
                mechanism: kind, noise: 1, sensitivity: sensitivity, dimension: dimension,
                shares: shares, count: count)
            let calibrated = try Calibration.calibrate(template, epsilon: epsilon, delta: delta)
            if output.json {
                try printJSON(
                    Output(
                        noise: calibrated.noise, epsilon: calibrated.spend.epsilon, delta: calibrated.spend.delta,
                        accountant: calibrated.spend.accountant.rawValue, bound: calibrated.bound.rawValue))
            } else {
                print(
                    "\(kind.isPure ? "b" : "σ") = \(calibrated.noise) (certified ε = \(calibrated.spend.epsilon) at δ = "
                        + "\(calibrated.spend.delta) by the \(calibrated.spend.accountant.rawValue) accountant; bound: "
                        + "\(calibrated.bound.summary))")
            }
        }
    }
}
