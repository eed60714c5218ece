import ArgumentParser
import Attention
import Federation
import Foundation
import Manifest
import Paillier
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `fedshare provision`: the one-time setup of a federation by its operator.
struct Provision: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "provision",
        abstract: "Set up a federation: its CA, certificates, threshold key and startup kits.",
        discussion: """
            Reads the federation manifest and writes into the output folder: ca/ (the federation \
            certificate authority: keep ca-key.pem offline), aggregator/ and party-N/ (one startup \
            kit per participant: the manifest and its files, the CA certificate, the participant's \
            certificate and private key, the threshold public key and, for parties, their key \
            share). In Paillier mode it deals a threshold key of the manifest's [crypto] key_bits \
            (t of n from [federation]); generating the safe primes can take minutes at 3072 bits. \
            The dealer's secrets are destroyed once the shares are written (trusted-dealer model). \
            Prints each certificate's SHA-256 fingerprint, for participants to compare out of band. \
            Refuses to replace an existing CA unless --force is given.
            """)

    @Option(name: .long, help: "The federation manifest (TOML).")
    var manifest: String

    @Option(name: .long, help: "The output folder (created if missing).")
    var out: String

    @Flag(name: .long, help: "Replace an existing CA and its kits (every old kit stops working).")
    var force = false

    @Option(name: .long, help: "Validity of the CA and certificates, in days (1…3650).")
    var validityDays = 365

    @Flag(name: .long, help: "Print a JSON report on standard output.")
    var json = false

    func validate() throws {
        guard (1...3650).contains(validityDays) else { throw ValidationError("--validity-days must be between 1 and 3650") }
    }

    func run() async throws {
        let loaded: FederationManifest
        do { loaded = try FederationManifest.load(from: URL(fileURLWithPath: manifest)) } catch let error as AttentionError {
            throw CLIError(error.description)
        }
        var options = Provisioner.Options()
        options.force = force
        options.validityDays = validityDays
        let report = try await Self.provision(manifest: loaded, to: URL(fileURLWithPath: out), options: options, quiet: false)
        for warning in report.warnings { StatusLine.warn(warning) }
        if json {
            try printJSON(report)
            return
        }
        Self.printReport(report)
    }

    /// Provisions on a worker thread, showing progress on a terminal (standard error).
    static func provision(manifest: FederationManifest, to folder: URL, options: Provisioner.Options, quiet: Bool) async throws -> Provisioner.Report {
        let line = StatusLine(enabled: !quiet)
        defer { line.finish() }
        let start = ContinuousClock.now
        let ticker = Task {
            while !Task.isCancelled {
                line.tick(elapsed: ContinuousClock.now - start)
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        defer { ticker.cancel() }
        let task = Task.detached { () throws -> Provisioner.Report in
            try Provisioner.provision(manifest: manifest, to: folder, options: options) { step in
                switch step {
                case .dealingKey(let bits, let parties, let threshold):
                    line.set("dealing a \(bits)-bit \(threshold)-of-\(parties) threshold key: searching for two \(bits / 2)-bit safe primes")
                case .dealer(.searchingPrimes), .dealer(.finished):
                    break
                case .dealer(let progress):
                    line.set("dealing the threshold key: \(progress.summary)")
                case .issuedCertificates(let count):
                    line.set("issued \(count) certificates; writing kits")
                case .wroteKits:
                    line.set("kits written")
                }
            }
        }
        do {
            return try await task.value
        } catch let error as ProvisioningError {
            throw CLIError(error.description)
        }
    }

    static func printReport(_ report: Provisioner.Report) {
        var lines: [String] = []
        let key = report.keyBits.map { bits in
            "threshold key \(bits)-bit" + (report.dealingSeconds.map { String(format: ", dealt in %.1f s", $0) } ?? "")
        } ?? "secure-aggregation mode: no threshold key"
        lines.append("Provisioned federation \(report.federation) in \(report.outputFolder) (\(key)).")
        lines.append("SHA-256 fingerprints (participants compare theirs out of band):")
        let width = ([report.ca] + report.kits).map(\.name.count).max() ?? 10
        for entry in [report.ca] + report.kits {
            lines.append("  " + entry.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + entry.fingerprint)
        }
        if let id = report.thresholdKeyID { lines.append("Threshold key id: \(id)") }
        lines.append("Valid until \(report.notValidAfter).")
        lines.append("Hand each participant its own folder (aggregator/, party-N/); keep ca/ca-key.pem offline.")
        print(lines.joined(separator: "\n"))
    }
}

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
            defer { state.drawn = false; state.text = "" }
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

    /// A warning line on standard error.
    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("fedshare: warning: \(text)\n".utf8))
    }
}
