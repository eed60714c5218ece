import Foundation
import Synchronization

/// Work run on a thread of its own while the caller does something else; `value()` waits for
/// it. The caller may ask it to stop early (`stop()`); the work looks at the request where it
/// can and then throws.
final class WorkerThread<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let finished = DispatchSemaphore(value: 0)
    private let stopRequested = Atomic<Bool>(false)

    private init() {}

    /// Starts `work` on a new thread named `name`; `work` is given a function that says whether
    /// it has been asked to stop.
    static func start(_ name: String, _ work: @escaping @Sendable (_ shouldStop: () -> Bool) throws -> Value) -> WorkerThread {
        let worker = WorkerThread()
        let thread = Thread {
            let result = Result { try work { worker.stopRequested.load(ordering: .relaxed) } }
            worker.outcome.withLock { $0 = result }
            worker.finished.signal()
        }
        thread.name = name
        thread.start()
        return worker
    }

    /// Asks the work to stop early (it then throws `CancellationError`).
    func stop() { stopRequested.store(true, ordering: .relaxed) }

    /// Waits until the work has ended; returns its value or throws its error.
    func value() throws -> Value {
        finished.wait()
        finished.signal()  // a later call returns at once
        return try outcome.withLock { $0! }.get()
    }
}
