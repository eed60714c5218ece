import ArgumentParser
import Attention
import Catalog
import DifferentialPrivacy
import Federation
import Foundation
import Logging
import Manifest
import Synchronization

/// `fedshare party`: one party of a federation, for one round.
struct Party: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "party",
        abstract: "Run one party of a federation: for one round, or serving every round (--serve).",
        discussion: """
            Computes the party's local attention from its data (or takes a partial result \
            precomputed by `fedshare attention --partial-out` or the Spark job, Integrations/spark, \
            after checking it against its manifest), dials the aggregator (gRPC, \
            mutual TLS with the kit's certificate; retries with backoff while it is unreachable), \
            checks the round's parameters against its own manifest, reserves the privacy cost in \
            its own ledger (refusing when its cap would be exceeded), adds its noise share, \
            encrypts (Paillier) or masks (secure aggregation) its contribution, takes part in \
            decryption or unmasking, and commits the charge before its opening share leaves. \
            With --serve the party stays connected (reconnecting on its own) and answers every round \
            the aggregator opens for an analyst's request until SIGINT or SIGTERM: it checks the \
            analyst's signature, applies its policy (the manifest's [policy], or --policy), selects \
            its records whose item (the manifest's item_column) matches the request's filters in its \
            own --catalog, reading --data afresh each round, and declines (at no cost) what its \
            policy does not answer. Progress on a terminal; --json prints JSON lines. Logs go to standard error (level: \
            --log-level, or the FEDSHARE_LOG_LEVEL environment variable) and never contain \
            secrets at any level.
            """)

    @Option(name: .long, help: "This party's id (as in the manifest and its certificate).")
    var id: Int

    @OptionGroup
    var kit: KitOptions

    @Option(name: .long, help: "This party's data file (.csv, .tsv, .jsonl, .ndjson or .npy).")
    var data: String?

    @Option(name: .long, help: "Instead of --data: this party's partial result (fedshare attention --partial-out, or the Spark job's partial.json).")
    var precomputed: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "This world's catalog (from fedshare catalog import): published, signed, to the federation directory on joining (the entries the manifest's [catalog] selects, or all).",
            valueName: "FILE.sqlite"))
    var catalog: String?

    @Option(name: .long, help: "The aggregator's HOST:PORT (default: the manifest's).")
    var aggregator: String?

    @OptionGroup
    var ledger: LedgerOptions

    @Option(name: .long, help: "Also write the released result here (attention.csv, counts.csv, …).")
    var out: String?

    @Option(name: .long, help: "Seconds to keep retrying while the aggregator is unreachable (also after a lost connection).")
    var retryFor = 120

    @Flag(name: .long, help: "Stay connected and answer every round (analysts' requests) until SIGINT or SIGTERM.")
    var serve = false

    @Option(
        name: .long,
        help: ArgumentHelp("This world's own request policy: a TOML file with a [policy] table whose keys override the manifest's.", valueName: "FILE"))
    var policy: String?

    @Option(name: .long, help: "Lost connections to survive: after one, the party settles its ledger and joins the next round.")
    var reconnects = 20

    @Flag(name: .long, help: "Print JSON lines (progress events, then the result) on standard output.")
    var json = false

    @OptionGroup
    var logging: LoggingOptions

    /// Fault tests (scripts/netns-harness.sh): when the first aggregator message arrives after
    /// this phase, the process stops itself (SIGSTOP) once before handling it, so that the
    /// harness can cut its link with nothing else in flight: the party then answers into a
    /// dead link and is silent for the next phase.
    @Option(help: .hidden) var stopAfter: String?

    func validate() throws {
        guard id >= 1 else { throw ValidationError("--id must be a positive party id") }
        guard (data == nil) != (precomputed == nil) else { throw ValidationError("give --data or --precomputed (one of them)") }
        guard (0...86_400).contains(retryFor) else { throw ValidationError("--retry-for must be between 0 and 86400 seconds") }
        guard (0...1000).contains(reconnects) else { throw ValidationError("--reconnects must be between 0 and 1000") }
        if serve, precomputed != nil { throw ValidationError("--serve reads --data afresh for every round; it cannot serve a --precomputed result") }
    }

    struct Event: Encodable {
        var event: String
        var party: Int
        var detail: String?
        var contributors: [Int]?
        var dropped: [String]?
        var round: UInt64?
        /// After a lost connection: what happened to this party's reservation.
        var ledger: String?
        /// Progress events: items of the step finished, of `total`.
        var done: Int?
        var total: Int?
    }

    func run() async throws {
        let loaded = try kit.load()
        guard let kitParty = loaded.partyID else {
            throw CLIError("\(loaded.folder.path): this is \(loaded.role)'s kit; a party needs its own party-N/ kit")
        }
        guard kitParty == id else {
            throw CLIError(
                "--id \(id): the kit in \(loaded.folder.path) holds party \(kitParty)'s certificate; a party can only claim the id its certificate names")
        }
        for warning in loaded.warnings { StatusLine.warn(warning) }
        let json = self.json
        let id = self.id
        let reconnects = self.reconnects
        let stopAfter = self.stopAfter
        let stopOnce = Mutex(true)
        let lastTenth = Mutex([PartyRound.Work: Int]())
        @Sendable func emit(_ event: Event) {
            if json { try? printJSON(event) }
        }
        let source: ContributionSource
        let records: Int
        if let precomputed {
            let url = URL(fileURLWithPath: precomputed)
            let partial = try PartialAttention.read(from: url)
            try partial.check(against: loaded.manifest, file: url.lastPathComponent)
            let contribution = partial.sums.result
            try RoundPlan(manifest: loaded.manifest).checkEncodable(contribution, parties: loaded.manifest.parties.count)
            (source, records) = (.fixed(contribution), partial.records)
        } else {
            // Read once now, so that bad data fails before the party connects.
            let dataURL = URL(fileURLWithPath: data ?? "")
            let contribution = try LocalAttention.compute(manifest: loaded.manifest, dataURL: dataURL)
            let worldPolicy = try policy.map { try RequestPolicy.load(from: URL(fileURLWithPath: $0), over: loaded.manifest.policy) } ?? loaded.manifest.policy
            source = .data(
                manifest: loaded.manifest, dataURL: dataURL, catalogPath: catalog, policy: worldPolicy, first: serve ? nil : contribution)
            records = contribution.report.recordsUsed
        }
        emit(Event(event: "attention", party: id, detail: "\(records) records"))
        let logger = try logging.logger("fedshare.party", fallback: json ? .error : .info)
        let line = StatusLine(enabled: !json)
        defer { line.finish() }
        let address = try aggregator.map { try HostPort(parsing: $0, field: "--aggregator") }
        let connection = try PartyConnection(
            kit: loaded, aggregator: address, retry: RetryPolicy(giveUpAfter: .seconds(retryFor)),
            logger: logger)
        if let catalog {
            let receipt = try await CatalogPublisher(kit: loaded).publish(
                try Catalog(path: catalog, access: .readOnly), matching: try loaded.manifest.catalogSelection(), over: connection)
            if json {
                emit(Event(event: "catalog", party: id, detail: "\(receipt.entries) entries published as world \(receipt.world)"))
            } else {
                line.finish()
                print("party \(id): published \(receipt.entries) catalog entries as world \(receipt.world)")
            }
        }
        let ledgerPath = ledger.path(in: loaded)
        let partyLedger = try PrivacyLedger(path: ledgerPath)
        let progress: @Sendable (PartyRuntime.Progress) -> Void = { step in
            switch step {
            case .connecting(let address):
                lastTenth.withLock { $0 = [:] }  // a new round after a reconnect reports afresh
                line.set("party \(id): connecting to the aggregator at \(address)")
                emit(Event(event: "connecting", party: id, detail: address))
            case .phase(let phase):
                line.set("party \(id): phase \(phase.rawValue)")
                emit(Event(event: "phase", party: id, detail: phase.rawValue))
            case .working(let work, let done, let total):
                line.set("party \(id): \(work.rawValue) \(StatusLine.bar(done: done, total: total))")
                // JSON lines: each tenth once, not every percent (reports may race).
                let tenth = total > 0 ? done * 10 / total : 10
                if lastTenth.withLock({ last in
                    defer { last[work] = max(last[work] ?? -1, tenth) }
                    return tenth > last[work] ?? -1
                }) {
                    emit(Event(event: "progress", party: id, detail: work.rawValue, done: done, total: total))
                }
            case .received(let phase):
                // The first aggregator message after this phase is held, unhandled.
                if phase.rawValue == stopAfter,
                    stopOnce.withLock({
                        let first = $0
                        $0 = false
                        return first
                    })
                {
                    raise(SIGSTOP)
                }
            case .reconnecting(let reason, let settlement):
                let ledgerNote = Self.describe(settlement)
                if json {
                    emit(Event(event: "reconnecting", party: id, detail: reason, ledger: ledgerNote))
                } else {
                    line.finish()
                    StatusLine.warn("party \(id): \(reason); \(ledgerNote); reconnecting for the next round")
                }
            }
        }
        let plan = try RoundPlan(manifest: loaded.manifest)
        guard serve else {
            let outcome = try await PartyRuntime.run(
                kit: loaded, connection: connection, source: source, ledger: partyLedger, reconnects: reconnects, progress: progress)
            line.finish()
            try conclude(outcome, plan: plan, out: out, ledgerPath: ledgerPath, emit: emit)
            return
        }
        // Serving: one round after another until a signal; each round's outputs in round-N/.
        let answered = AnsweredRequests()
        let rounds = Task {
            while !Task.isCancelled {
                do {
                    let outcome = try await PartyRuntime.run(
                        kit: loaded, connection: connection, source: source, ledger: partyLedger,
                        options: PartyRound.Options(answered: answered), reconnects: Int.max, progress: progress)
                    line.finish()
                    guard !Task.isCancelled else { break }
                    let round = if case .released(let result) = outcome { "round-\(result.round)" } else { "" }
                    do { try conclude(outcome, plan: plan, out: out.map { "\($0)/\(round)" }, ledgerPath: ledgerPath, emit: emit) } catch {
                        StatusLine.warn("\(error)")
                    }
                } catch let error as FederationError where !Task.isCancelled && error.isTransport {
                    line.finish()
                    StatusLine.warn("party \(id): \(error); trying again")
                    try? await Task.sleep(for: .seconds(5))
                }
            }
        }
        let termination = Termination { signal in
            logger.notice("stopping: the round in progress ends and the ledger is settled", metadata: ["signal": "\(signal)"])
            rounds.cancel()
        }
        defer { withExtendedLifetime(termination) {} }
        _ = await rounds.result
        line.finish()
        print("party \(id): stopped; ledger settled in \(ledgerPath)")
    }

    /// Reports how a round ended for this party (and writes its outputs into `out`); throws for
    /// a round that released nothing.
    func conclude(
        _ outcome: RoundOutcome, plan: RoundPlan, out: String?, ledgerPath: String, emit: (Event) -> Void
    ) throws {
        switch outcome {
        case .released(let result):
            var noise: ReleaseNoise?
            if let out {
                noise = try RoundOutputs.write(result, plan: plan, to: URL(fileURLWithPath: out)).noise
            }
            let dropped = result.dropped.map { "party \($0.party) at \($0.phase.rawValue)" }
            if json {
                emit(Event(event: "released", party: id, detail: out, contributors: result.contributors, dropped: dropped, round: result.round))
            } else {
                print(
                    "party \(id): round \(result.round) released; contributors \(result.contributors.map(String.init).joined(separator: ", "))"
                        + (dropped.isEmpty ? "" : "; dropped " + dropped.joined(separator: ", "))
                        + "; charge committed in \(ledgerPath)"
                        + (out.map { "; outputs in \($0)" } ?? ""))
                if let noise, !result.noNoise {
                    print("party \(id): noise \(noise.summaryLine)")
                    if let warning = noise.warning { StatusLine.warn("party \(id): \(warning)") }
                }
            }
        case .aborted(let phase, let reason, let missing):
            throw CLIError(
                "party \(id): the round aborted in phase \(phase.rawValue): \(reason)"
                    + (missing.isEmpty ? "" : " (missing parties: \(missing.map(String.init).joined(separator: ", ")))"))
        case .refused(let reason):
            throw CLIError("party \(id) refused the round: \(reason)")
        }
    }

    static func describe(_ settlement: PartyRound.LossSettlement) -> String {
        switch settlement {
        case .nothingReserved: return "nothing was reserved"
        case .cancelled(let id): return "reservation \(id) cancelled (nothing of this party's data had left)"
        case .committed(let id): return "reservation \(id) committed (its contribution had left; it counts as spent)"
        case .alreadyCommitted(let id): return "reservation \(id) was already committed"
        case .heldPending(let id, let reason): return "reservation \(id) stays pending, held against the cap (\(reason))"
        }
    }
}
