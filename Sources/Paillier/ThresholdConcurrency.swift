import Dispatch
import Synchronization

/// Work spread over all cores for the threshold paths (partial decryption, proofs,
/// verification, dealing). Each item is independent; GMP only reads shared operands, and every
/// result goes into its own slot.
enum ThresholdConcurrency {
    /// `transform` applied to every element of `items`, in parallel, results in order.
    static func map<C: RandomAccessCollection, T: Sendable>(
        _ items: C, _ transform: @Sendable (C.Element) -> T
    ) -> [T] where C: Sendable, C.Index == Int {
        let count = items.count
        guard count > 1 else { return items.map(transform) }
        let start = items.startIndex
        let slots = ResultSlots<T>(count: count)
        DispatchQueue.concurrentPerform(iterations: count) { offset in
            slots.store(transform(items[start + offset]), at: offset)
        }
        return slots.collect()
    }

    /// A thread-safe counter for progress reports.
    final class Counter: Sendable {
        private let value = Mutex(0)

        /// Adds one and returns the new value.
        func increment() -> Int {
            value.withLock { value in
                value += 1
                return value
            }
        }
    }

    /// One write-once slot per item; each slot is written by exactly one iteration.
    private final class ResultSlots<T>: @unchecked Sendable {
        private let buffer: UnsafeMutableBufferPointer<T?>

        init(count: Int) {
            buffer = .allocate(capacity: count)
            buffer.initialize(repeating: nil)
        }

        deinit {
            buffer.deinitialize()
            buffer.deallocate()
        }

        func store(_ value: T, at index: Int) {
            buffer[index] = value
        }

        func collect() -> [T] {
            buffer.map { value in
                guard let value else { preconditionFailure("a parallel work item produced no result") }
                return value
            }
        }
    }
}
