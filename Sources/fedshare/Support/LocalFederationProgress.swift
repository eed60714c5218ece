import Federation
import Foundation
import Synchronization

/// A local federation's progress on standard error (a terminal only): the provisioning steps
/// with the time spent, then the parties' long steps, summed into one bar per step.
final class LocalFederationProgress: Sendable {
    private let provisioning: StatusLine
    private let round: StatusLine
    private let ticker: Task<Void, Never>
    private let working = Mutex([Int: (work: PartyRound.Work, done: Int, total: Int)]())
    private let parties = Mutex(0)

    init(enabled: Bool) {
        let provisioning = StatusLine(enabled: enabled)
        self.provisioning = provisioning
        round = StatusLine(enabled: enabled)
        let start = ContinuousClock.now
        ticker = Task {
            while !Task.isCancelled {
                provisioning.tick(elapsed: ContinuousClock.now - start)
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    func show(_ progress: LocalFederation.Progress) {
        switch progress {
        case .provisioning(let step):
            provisioning.show(step)
        case .roundStarted(let count):
            ticker.cancel()
            provisioning.finish()
            parties.withLock { $0 = count }
            round.set("running the round: \(count) parties over gRPC with mutual TLS")
        case .party(let party, .working(let work, let done, let total)):
            let partyCount = parties.withLock { $0 }
            let text = working.withLock { state in
                state[party] = (work, done, total)
                let same = state.values.filter { $0.work == work }
                return "running the round: \(work.rawValue), \(same.count) of \(partyCount) parties "
                    + StatusLine.bar(done: same.map(\.done).reduce(0, +), total: same.map(\.total).reduce(0, +))
            }
            round.set(text)
        case .party:
            break
        }
    }

    /// Clears the lines.
    func finish() {
        ticker.cancel()
        provisioning.finish()
        round.finish()
    }
}
