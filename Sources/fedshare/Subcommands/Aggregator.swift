import ArgumentParser
import Attention
import Catalog
import DifferentialPrivacy
import Federation
import Foundation
import Logging

/// `fedshare aggregator`: the federation's only server.
struct Aggregator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aggregator",
        abstract: "Run the federation's aggregator: admit parties, drive rounds, publish results.",
        discussion: """
            Listens (gRPC over HTTP/2, mutual TLS) on the manifest's aggregator address or \
            --listen, and admits only parties whose certificate comes from the federation CA and \
            names the party id they claim. Runs rounds in the manifest's mode with per-phase \
            deadlines: a round goes on without parties that drop while at least t remain, and \
            aborts naming the missing parties otherwise. The federation ledger commits the \
            charge before a result leaves; round state is kept in SQLite: a restart marks an \
            interrupted round aborted and starts the next (parties reconnect on their own); its \
            charge is cancelled if nothing that opens the sum existed, and kept otherwise. Writes attention.csv, \
            counts.csv, allocation.csv, result.json and heatmap.svg. Keeps the federation catalog \
            directory (--directory): each party's signed catalog, verified and filed under its \
            world, answered to parties' signed queries (fedshare catalog query --kit). With --serve it runs \
            no round on its own: it waits for analysts' signed requests (fedshare request), checks each \
            (its analyst's certificate, the manifest's [analysts], the per-analyst cap) before any party \
            hears of it, runs one round per request with the parties connected (fedshare party --serve), \
            answers the analyst and writes round-N/ under --out; SIGINT or SIGTERM stops it after the \
            round in progress. Logs go to standard error \
            (level: --log-level, or the FEDSHARE_LOG_LEVEL environment variable) and never \
            contain secrets (key shares, mask seeds, raw contributions) at any level.
            """)

    @OptionGroup
    var kit: KitOptions

    @Option(name: .long, help: "HOST:PORT to listen on (default: the manifest's aggregator address).")
    var listen: String?

    @Option(name: .long, help: "Output folder (with --rounds above 1, one round-N/ folder per round).")
    var out = "fedshare-results"

    @Option(name: .long, help: "Rounds to run before exiting (0: until interrupted).")
    var rounds = 1

    @Flag(name: .long, help: "Serve analysts' requests (fedshare request): one round per request, until SIGINT or SIGTERM.")
    var serve = false

    @Option(name: .long, help: "Seconds the join phase waits for every party.")
    var joinTimeout = 300

    @Option(name: .long, help: "Seconds every later phase waits for silent parties.")
    var phaseTimeout = 120

    @Option(
        name: .long,
        help: "Who decrypts (Paillier): threshold (the first t contributors; another is asked only when one fails) or everyone (every contributor at once).")
    var decryptionCommittee = DecryptionCommittee.threshold

    @OptionGroup
    var ledger: LedgerOptions

    @Option(name: .long, help: "The federation catalog directory: every party's published catalog (default: <kit>/catalog-directory.sqlite).")
    var directory: String?

    @Option(name: .long, help: "Capacities CSV (node,capacity) for allocation.csv.")
    var capacities: String?

    @Flag(name: .long, help: "Print one JSON object per finished round on standard output.")
    var json = false

    @OptionGroup
    var logging: LoggingOptions

    /// Fault tests (scripts/netns-harness.sh): the process stops itself (SIGSTOP) when a round
    /// enters this phase, so that the harness kills it at exactly that point.
    @Option(help: .hidden) var stopAt: String?

    func validate() throws {
        guard rounds >= 0 else { throw ValidationError("--rounds must be 0 or more") }
        if serve, rounds != 1 { throw ValidationError("--serve runs one round per request; leave out --rounds") }
        guard (1...86_400).contains(joinTimeout), (1...86_400).contains(phaseTimeout) else {
            throw ValidationError("--join-timeout and --phase-timeout must be between 1 and 86400 seconds")
        }
    }

    func run() async throws {
        let logger = try logging.logger("fedshare.aggregator", fallback: .info)
        let loaded = try kit.load()
        guard loaded.role == .aggregator else { throw CLIError("\(loaded.folder.path): this is \(loaded.role)'s kit; the aggregator needs aggregator/") }
        for warning in loaded.warnings { StatusLine.warn(warning) }
        let address = try listen.map { try HostPort(parsing: $0, field: "--listen") }
        let capacityList = try capacities.map { path -> [Allocation.Capacity] in
            return try Allocation.readCapacities(from: URL(fileURLWithPath: path))
        }
        let federationLedger = try PrivacyLedger(path: ledger.path(in: loaded))
        let store = try RoundStore(path: loaded.folder.appendingPathComponent("rounds.sqlite").path)
        let interrupted = try store.recoverInterrupted(ledger: federationLedger)
        for record in interrupted {
            logger.warning(
                "a round was interrupted by a restart; marked aborted",
                metadata: [
                    "round": "\(record.round)", "reason": "\(record.reason ?? "")",
                ])
        }
        var options = AggregatorRuntime.Options()
        options.joinDeadline = .seconds(joinTimeout)
        options.phaseDeadline = .seconds(phaseTimeout)
        options.committee = decryptionCommittee
        options.serving = serve
        if let stopAt {
            options.onPhase = { phase in
                if phase.rawValue == stopAt { raise(SIGSTOP) }
            }
        }
        let runtime = try AggregatorRuntime(kit: loaded, ledger: federationLedger, store: store, options: options, logger: logger)
        let catalogDirectory = try FederationDirectory(
            path: directory ?? loaded.folder.appendingPathComponent("catalog-directory.sqlite").path, kit: loaded, logger: logger)
        let server = try AggregatorServer(
            kit: loaded, listen: address, logger: logger,
            sessions: runtime.sessionHandler, status: runtime.statusProvider,
            directory: catalogDirectory, requests: serve ? runtime.requestHandler : nil)
        let rounds = self.rounds
        let out = self.out
        // The server runs in its own task: after the last round it gets a grace period to
        // close, and the command returns even if a stream whose link died still holds it.
        let (stopped, serverStopped) = AsyncStream<Void>.makeStream()
        let serving = Task {
            defer { serverStopped.finish() }
            try await server.serve()
        }
        var abortedRound: CLIError?
        do {
            defer { server.shutdown() }
            let bound = try await server.listeningAddress
            logger.info(
                "listening",
                metadata: [
                    "address": "\(bound)", "federation": "\(loaded.manifest.name)",
                    "mode": "\(loaded.manifest.crypto.mode.rawValue)",
                ])
            if serve {
                let termination = Termination { signal in
                    logger.notice("stopping after the round in progress", metadata: ["signal": "\(signal)"])
                    Task { await runtime.close() }
                }
                defer { withExtendedLifetime(termination) {} }
                while let report = try await runtime.runRequestedRound() {
                    let folder = URL(fileURLWithPath: out).appendingPathComponent("round-\(report.round)")
                    if let failure = try publish(report, to: folder, capacities: capacityList) { StatusLine.warn(failure.description) }
                }
            }
            var done = 0
            while !serve, rounds == 0 || done < rounds {
                let report = try await runtime.runRound()
                done += 1
                let folder = URL(fileURLWithPath: out).appendingPathComponent(rounds == 1 ? "" : "round-\(report.round)")
                guard let failure = try publish(report, to: folder, capacities: capacityList) else { continue }
                if rounds == 1 {
                    abortedRound = failure
                } else {
                    StatusLine.warn(failure.description)
                }
            }
            await runtime.close()
        }
        // A graceful shutdown waits for every open stream; a party whose link died can hold
        // one open until keepalive notices, so the wait is bounded.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in stopped {} }
            group.addTask { try? await Task.sleep(for: .seconds(5)) }
            await group.next()
            group.cancelAll()
        }
        serving.cancel()
        // With one round, an abort is this command's failure (the parties still connected
        // have read the abort notice during the graceful shutdown above).
        if let abortedRound { throw abortedRound }
    }

    /// Writes a released round's outputs into `folder` and prints its line (or JSON); returns
    /// the abort of a round that released nothing.
    func publish(_ report: AggregatorRuntime.Report, to folder: URL, capacities: [Allocation.Capacity]?) throws -> CLIError? {
        let analyst = report.request.map { " for analyst \($0.analyst) (request \($0.id))" } ?? ""
        switch report.outcome {
        case .released(let result):
            let summary = try RoundOutputs.write(
                result, plan: report.plan, to: folder, capacities: capacities, phaseSeconds: report.phaseSeconds, request: report.request)
            if json {
                try printJSON(summary)
                return nil
            }
            print(
                "round \(report.round)\(analyst) released: contributors \(result.contributors.map(String.init).joined(separator: ", "))"
                    + (result.dropped.isEmpty ? "" : "; dropped " + result.dropped.map { "party \($0.party) at \($0.phase.rawValue)" }.joined(separator: ", "))
                    + "; outputs in \(folder.standardizedFileURL.path)")
            if let noise = summary.noise, !result.noNoise {
                print("round \(report.round) noise: \(noise.summaryLine)")
                if let warning = noise.warning { StatusLine.warn("round \(report.round): \(warning)") }
            }
            return nil
        case .aborted(let phase, let reason, let missing):
            return CLIError(
                "round \(report.round)\(analyst) aborted in phase \(phase.rawValue): \(reason)"
                    + (missing.isEmpty ? "" : " (missing parties: \(missing.map(String.init).joined(separator: ", ")))"))
        case .refused(let reason):
            throw CLIError("round \(report.round) refused: \(reason)")
        }
    }
}
