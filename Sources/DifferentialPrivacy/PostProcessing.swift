/// Post-processing of a noisy release into values a person can read.
///
/// Every function here reads only released values and public constants, never the data, so by
/// the post-processing property of differential privacy (Dwork–Roth 2014, Prop. 2.1) its output
/// is exactly as private as the release it reads: it costs no ε and needs no ledger entry
/// (Papers/privacy.md §8).
public enum PostProcessing {
    /// The Euclidean projection of `values` onto the scaled simplex {x : x ≥ 0, Σx = total}: the
    /// point of that set nearest to `values` (Held–Wolfe–Crowder 1974; Duchi et al. 2008).
    ///
    /// x_i = max(v_i − θ, 0), with θ chosen so that Σx = total. Cells the noise pushed below
    /// zero come out as 0, and the rest move by one common shift, so the row's total is the
    /// given one. A `total` of 0 or less (or not finite) gives all zeros.
    /// - Complexity: O(n log n).
    public static func projectOntoSimplex(_ values: [Double], total: Double) -> [Double] {
        guard !values.isEmpty else { return [] }
        guard total.isFinite, total > 0 else { return [Double](repeating: 0, count: values.count) }
        // Non-finite inputs cannot come from a decoded grid value; read them as 0 rather than
        // letting one poison θ.
        let finite = values.map { $0.isFinite ? $0 : 0 }
        let sorted = finite.sorted(by: >)
        var running = 0.0
        var theta = (sorted[0] - total)
        for (index, value) in sorted.enumerated() {
            running += value
            let candidate = (running - total) / Double(index + 1)
            // The support is the longest prefix whose smallest element stays above its θ.
            if value - candidate > 0 { theta = candidate } else { break }
        }
        var projected = finite.map { max($0 - theta, 0) }
        // Floating-point rounding can leave Σx a few ulps from `total`; put the remainder on the
        // largest cell, which stays positive (it holds at least total/n).
        let sum = projected.reduce(0, +)
        if sum != total, let largest = projected.indices.max(by: { projected[$0] < projected[$1] }) {
            projected[largest] = max(0, projected[largest] + (total - sum))
        }
        return projected
    }

    /// Noisy counts as the nearest non-negative integers (the Euclidean projection onto ℕ).
    public static func nonNegativeCounts(_ noisy: [Double]) -> [Int] {
        noisy.map { value in
            guard value.isFinite, value > 0 else { return 0 }
            return value >= 0x1p62 ? Int(1 << 62) : Int(value.rounded(.toNearestOrEven))
        }
    }

    /// Each row of a row-major `matrix` (`columns` wide) projected onto the simplex scaled by
    /// its row's total (``projectOntoSimplex(_:total:)``).
    /// - Precondition: `matrix.count == rowTotals.count * columns`.
    public static func consistentRows(_ matrix: [Double], columns: Int, rowTotals: [Double]) -> [Double] {
        precondition(columns >= 0 && matrix.count == rowTotals.count * columns, "shape mismatch")
        guard columns > 0 else { return [] }
        var result: [Double] = []
        result.reserveCapacity(matrix.count)
        for (row, total) in rowTotals.enumerated() {
            result += projectOntoSimplex(Array(matrix[(row * columns)..<((row + 1) * columns)]), total: total)
        }
        return result
    }
}
