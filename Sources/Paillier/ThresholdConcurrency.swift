import Primitives

/// Work spread over all cores for the threshold paths (partial decryption, proofs,
/// verification, dealing). Each item is independent; GMP only reads shared operands, and every
/// result goes into its own slot.
enum ThresholdConcurrency {
    /// `transform` applied to every index, on all cores, results in order (through
    /// `Primitives.Parallel`).
    static func map<T: Sendable>(_ indices: Range<Int>, _ transform: @Sendable (Int) -> T) -> [T] {
        // Parallel.map throws only what its transform throws, and this one cannot.
        (try? Parallel.map(Array(indices), transform)) ?? []
    }
}
