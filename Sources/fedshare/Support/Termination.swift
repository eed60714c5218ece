import Dispatch
import Foundation
import Synchronization

/// SIGINT and SIGTERM, for the long-running commands (`--serve`): the first one calls `stop`
/// (which ends the command cleanly); a second one ends the process at once.
final class Termination {
    private let sources: [any DispatchSourceSignal]

    init(_ stop: @escaping @Sendable (_ signal: String) -> Void) {
        let fired = Mutex(false)
        sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let again = fired.withLock { fired in
                    defer { fired = true }
                    return fired
                }
                if again { exit(128 + number) }
                stop(name)
            }
            source.resume()
            return source
        }
    }

    deinit { for source in sources { source.cancel() } }
}
