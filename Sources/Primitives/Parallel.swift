import Foundation

/// Data-parallel helpers that spread independent work over every core.
public enum Parallel {
    /// The number of worker threads used by default: the active processor count.
    public static var defaultWidth: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// `transform` applied to every element, computed in contiguous chunks on all cores;
    /// the first error thrown by any chunk is rethrown after all chunks finish.
    public static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], width: Int = Parallel.defaultWidth,
        _ transform: @Sendable (Element) throws -> Result
    ) throws -> [Result] {
        let count = elements.count
        if count == 0 { return [] }
        let workers = min(max(1, width), count)
        if workers == 1 { return try elements.map(transform) }
        let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            // Release the results too, not only the memory (fuzzing found every result leaked).
            results.deinitialize()
            results.deallocate()
        }
        let firstError = LockedBox<Error?>(nil)
        let shared = SendableBuffer(results)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let start = count * worker / workers
            let end = count * (worker + 1) / workers
            do {
                for index in start..<end {
                    shared.buffer[index] = try transform(elements[index])
                }
            } catch {
                firstError.update { if $0 == nil { $0 = error } }
            }
        }
        if let error = firstError.value { throw error }
        return results.map { $0! }
    }
}

/// A buffer handed to concurrent workers that write disjoint indices.
private struct SendableBuffer<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}

/// A value guarded by a lock.
public final class LockedBox<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()

    public init(_ value: Value) { stored = value }

    public var value: Value {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    public func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&stored)
    }
}
