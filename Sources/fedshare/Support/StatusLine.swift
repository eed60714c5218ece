import Federation
import Foundation
import Paillier
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension ThresholdDealer.Progress {
    /// One line for a terminal.
    var summary: String {
        switch self {
        case .searchingPrimes(let bits): return "searching for two \(bits)-bit safe primes"
        case .primeFound(let found): return "\(found) of 2 safe primes found"
        case .restartingPrimeSearch: return "primes too close, searching again"
        case .dealingShares: return "making shares"
        case .verificationKeyReady(let party, let of): return "verification key \(party) of \(of)"
        case .finished: return "done"
        }
    }
}

/// One line of progress on standard error, redrawn in place on a terminal (and silent
/// otherwise, so logs and pipes stay clean).
final class StatusLine: Sendable {
    private struct State {
        var text = ""
        var elapsed: Duration = .zero
        var drawn = false
    }
    private let state = Mutex(State())
    let enabled: Bool

    init(enabled: Bool = true) {
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func set(_ text: String) {
        state.withLock { $0.text = text }
        redraw()
    }

    func tick(elapsed: Duration) {
        state.withLock { $0.elapsed = elapsed }
        redraw()
    }

    private func redraw() {
        guard enabled else { return }
        let line: String? = state.withLock { state in
            guard !state.text.isEmpty else { return nil }
            state.drawn = true
            let elapsed = state.elapsed == .zero ? "" : " (\(state.elapsed.components.seconds) s)"
            return "\r\u{1B}[2K\(state.text)\(elapsed)"
        }
        if let line { FileHandle.standardError.write(Data(line.utf8)) }
    }

    /// Clears the line.
    func finish() {
        guard enabled else { return }
        let drawn = state.withLock { state in
            defer {
                state.drawn = false
                state.text = ""
            }
            return state.drawn
        }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }

    /// `[=========>          ]  45% (132/294)`: a bar of `width` cells for a long step.
    static func bar(done: Int, total: Int, width: Int = 24) -> String {
        let fraction = total > 0 ? min(1, max(0, Double(done) / Double(total))) : 1
        let filled = Int(fraction * Double(width))
        let cells = String(repeating: "=", count: filled) + (filled < width ? ">" + String(repeating: " ", count: width - filled - 1) : "")
        let percent = String(Int(fraction * 100))
        return "[\(cells)] \(String(repeating: " ", count: 3 - percent.count))\(percent)% (\(done)/\(total))"
    }

    /// A provisioning step, in words.
    func show(_ step: Provisioner.Progress) {
        switch step {
        case .dealingKey(let bits, let parties, let threshold):
            set("dealing a \(bits)-bit \(threshold)-of-\(parties) threshold key: searching for two \(bits / 2)-bit safe primes")
        case .dealer(.searchingPrimes), .dealer(.finished):
            break
        case .dealer(let progress):
            set("dealing the threshold key: \(progress.summary)")
        case .issuedCertificates(let count):
            set("issued \(count) certificates; writing kits")
        case .wroteKits:
            set("kits written")
        }
    }

    /// A warning line on standard error.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("fedshare: warning: \(text)\n".utf8))
    }
}
