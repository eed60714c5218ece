import DifferentialPrivacy
import Foundation

/// What the noise in a release is, in the result's own units: what `simulate` prints,
/// `result.json` records (`noise`) and the heatmap's caption states.
///
/// Every number is computed from the plan (public) and the released values, so stating it is
/// post-processing and costs no privacy.
public struct ReleaseNoise: Codable, Sendable, Equatable {
    /// One released matrix (the attention matrix, or the vector of counts).
    public struct Matrix: Codable, Sendable, Equatable {
        /// The file whose cells carry this noise: the raw release (`attention.csv` and `counts.csv`
        /// are post-processed from it).
        public var file: String
        public var cells: Int
        /// The standard deviation of the noise in each cell, in the result's units (records).
        public var sigmaPerCell: Double
        /// The released total: the sum of the raw released counts (unbiased), at least 1.
        public var releasedTotal: Double
        /// releasedTotal / cells: the mean cell.
        public var typicalCell: Double
        /// The expected relative error against the released totals: the noise's root mean
        /// square per cell over the mean cell, σ / typicalCell (√(E‖noise‖²) / total·√cells).
        public var relativeError: Double
    }

    public var attention: Matrix
    public var counts: Matrix
    /// The largest rounding error of a released cell: each contributor rounds each value to the
    /// grid step 2^-f, by at most half a step.
    public var roundingBound: Double
    /// True when the noise dominates the attention matrix: σ per cell at least the typical cell.
    public var dominates: Bool
    /// One line saying so and naming the levers, when ``dominates``.
    public var warning: String?

    /// The noise of `result`, released under `plan`.
    public init(result: RoundResult, plan: RoundPlan) {
        let contributors = max(1, result.contributors.count)
        let step = 1 / Double(sign: .plus, exponent: result.fractionalBits, significand: 1)
        let sigma = result.noNoise ? 0 : Self.sigmaPerCell(plan: plan, contributors: contributors)
        let total = max(1, result.noisyCounts.reduce(0, +))
        func matrix(_ file: String, cells: Int) -> Matrix {
            let typical = total / Double(max(1, cells))
            return Matrix(
                file: file, cells: cells, sigmaPerCell: sigma, releasedTotal: total, typicalCell: typical,
                relativeError: sigma / typical)
        }
        attention = matrix("attention-raw.csv", cells: result.groups.count * result.anchors.count)
        counts = matrix("counts-raw.csv", cells: result.groups.count)
        roundingBound = Double(contributors) * step / 2
        dominates = attention.relativeError >= 1
        warning =
            dominates
            ? "Noise dominates: σ = \(Self.format(sigma)) per cell against a typical cell of \(Self.format(attention.typicalCell)) "
                + "(\(Self.percent(attention.relativeError)) error); to see the signal use more records per group, "
                + "a larger ε ([privacy] epsilon), or fewer groups or anchors"
            : nil
    }

    /// The standard deviation per released cell, in real units, of the sum of `contributors`
    /// noise shares: σ·√(m/t) for Gaussian shares of variance σ²/t, and √m times one discrete
    /// Laplace share's standard deviation for Laplace shares.
    public static func sigmaPerCell(plan: RoundPlan, contributors: Int) -> Double {
        let m = Double(max(1, contributors))
        switch plan.mechanism {
        case .gaussian(let sigma):
            return sigma * (m / Double(plan.threshold)).squareRoot()
        case .laplace(let b):
            // The discrete Laplace of scale s (grid units) has variance 2q/(1 − q)², q = e^(−1/s).
            let s = b * plan.codec.scale
            let oneMinusQ = -expm1(-1 / s)
            let variance = 2 * (1 - oneMinusQ) / (oneMinusQ * oneMinusQ)
            return (m * variance).squareRoot() / plan.codec.scale
        }
    }

    /// One line for a terminal: σ and the relative error of each matrix.
    public var summaryLine: String {
        "σ = \(Self.format(attention.sigmaPerCell)) per cell (records) in the raw release (\(attention.file), \(counts.file)); "
            + "relative error \(Self.percent(attention.relativeError)) of a typical attention cell (\(Self.format(attention.typicalCell))), "
            + "\(Self.percent(counts.relativeError)) of a typical count (\(Self.format(counts.typicalCell)))"
    }

    static func format(_ value: Double) -> String {
        value == 0 ? "0" : (abs(value) >= 1000 || abs(value) < 0.01 ? String(format: "%.3g", value) : String(format: "%.2f", value))
    }

    static func percent(_ value: Double) -> String {
        value >= 10 ? String(format: "%.0f %%", value * 100) : String(format: "%.1f %%", value * 100)
    }
}
