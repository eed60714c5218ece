import ArgumentParser
import Attention
import Federation
import Foundation
import Manifest

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
            share), and analyst-NAME/ for each name in the manifest's [analysts] (the manifest, \
            the CA certificate, the analyst's certificate and private key; no key share). In Paillier mode it deals a threshold key of the manifest's [crypto] key_bits \
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

    @OptionGroup
    var output: JSONOutputOptions

    func validate() throws {
        guard (1...3650).contains(validityDays) else { throw ValidationError("--validity-days must be between 1 and 3650") }
    }

    func run() async throws {
        let loaded = try FederationManifest.load(from: URL(fileURLWithPath: manifest))
        var options = Provisioner.Options()
        options.force = force
        options.validityDays = validityDays
        let report = try await Self.provision(manifest: loaded, to: URL(fileURLWithPath: out), options: options, quiet: false)
        for warning in report.warnings { StatusLine.warn(warning) }
        if output.json {
            try printJSON(report)
            return
        }
        Self.printReport(report)
    }

    /// Provisions on a worker thread, showing progress on a terminal (standard error).
    private static func provision(manifest: FederationManifest, to folder: URL, options: Provisioner.Options, quiet: Bool) async throws -> Provisioner.Report {
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
            try Provisioner.provision(manifest: manifest, to: folder, options: options) { line.show($0) }
        }
        return try await task.value
    }

    static func printReport(_ report: Provisioner.Report) {
        var lines: [String] = []
        let key =
            report.keyBits.map { bits in
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
        let analysts = report.kits.contains { $0.name.hasPrefix("analyst-") } ? ", analyst-NAME/" : ""
        lines.append("Hand each participant its own folder (aggregator/, party-N/\(analysts)); keep ca/ca-key.pem offline.")
        print(lines.joined(separator: "\n"))
    }
}
