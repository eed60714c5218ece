import Foundation
import Primitives

/// Measures how many times per second `operation` runs, on one thread or on every core.
enum Throughput {
    /// Runs `operation` repeatedly for about `seconds` on each of `threads` threads; returns
    /// operations per second over all threads.
    static func measure(seconds: Double, threads: Int = 1, _ operation: @Sendable () -> Void) -> Double {
        // One warm-up call outside the timing (table building, page faults).
        operation()
        let counts = LockedBox(0)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            var local = 0
            let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
            repeat {
                operation()
                local += 1
            } while DispatchTime.now().uptimeNanoseconds < deadline
            counts.update { $0 += local }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(counts.value) / elapsed
    }

    /// Wall-clock seconds taken by `body`.
    static func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
