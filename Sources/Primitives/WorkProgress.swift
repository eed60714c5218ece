import Synchronization

/// Counts finished items of a long batch step (encrypting, partial decryption, unmasking) for a
/// progress display; workers on any thread call ``advance(by:)``.
///
/// `report(done, total)` is called at most once per percent (and always for the last item), on
/// the thread that crossed the step, never while a lock is held. It must be quick and must not
/// throw: a slow display would slow the cryptography.
public final class WorkProgress: Sendable {
    public let total: Int
    private let done = Mutex((count: 0, reported: 0))
    private let report: @Sendable (_ done: Int, _ total: Int) -> Void

    public init(total: Int, report: @escaping @Sendable (_ done: Int, _ total: Int) -> Void) {
        self.total = max(0, total)
        self.report = report
    }

    /// Records `count` more finished items.
    public func advance(by count: Int = 1) {
        let crossed: Int? = done.withLock { state in
            state.count = min(total, state.count + count)
            let percent = state.count * 100 / max(1, total)
            guard state.count == total ? state.reported < total : percent > state.reported * 100 / max(1, total)
            else { return nil }
            state.reported = state.count
            return state.count
        }
        if let crossed { report(crossed, total) }
    }
}
