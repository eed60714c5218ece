import Attention
import Catalog
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Logging
import Manifest

/// A whole federation on this machine: provisioned into a temporary folder (CA, certificates, a
/// real threshold key), the aggregator and every party as separate tasks talking gRPC over
/// loopback with mutual TLS, one round with the real cryptography and privacy accounting, and the
/// outputs written. What `fedshare simulate` and `fedshare bench e2e` run.
public struct LocalFederation: Sendable {
    /// What to run.
    public struct Configuration: Sendable {
        /// The federation's manifest; its anchors and encoder must lie beside or below it.
        public var manifest: FederationManifest
        /// Each party's data file (parties absent here take no part).
        public var data: [Int: URL]
        /// Parties that take part with a partial result (already checked against `manifest`)
        /// instead of their data.
        public var precomputed: [Int: PartialAttention] = [:]
        /// Changes to `manifest`. The aggregator is always 127.0.0.1; a threshold left `nil`
        /// becomes the manifest's (at most the number of parties) raised to the smallest safe one
        /// (2t > parties).
        public var overrides = FederationManifest.Overrides()
        /// Parties that stop answering at a phase.
        public var drops: [Int: RoundPhase] = [:]
        /// Who decrypts in Paillier mode.
        public var committee: DecryptionCommittee = .threshold
        /// Add no differential-privacy noise (recorded in result.json).
        public var noNoise = false
        /// A folder of `world-N.jsonl` (or `.csv`) catalogs each party publishes on joining.
        public var catalogs: URL?
        /// Run the round as an analyst's request with this scope: each party counts only its
        /// records whose item matches it in its own catalog (needs `catalogs` and the manifest's
        /// item_column), under the manifest's `[policy]`.
        public var scope: CatalogQuery?
        /// Capacities for `allocation.csv`.
        public var capacities: URL?
        /// Where the outputs go.
        public var outputFolder: URL
        /// The scratch folder for the manifest copy, kits, ledgers and catalogs (created; the
        /// caller removes it).
        public var workFolder: URL

        public init(manifest: FederationManifest, data: [Int: URL], outputFolder: URL, workFolder: URL) {
            self.manifest = manifest
            self.data = data
            self.outputFolder = outputFolder
            self.workFolder = workFolder
        }
    }

    /// Where the run is, for a progress display.
    public enum Progress: Sendable {
        case provisioning(Provisioner.Progress)
        /// Provisioning is done; the round starts with this many parties.
        case roundStarted(parties: Int)
        case party(Int, PartyRuntime.Progress)
    }

    /// What the run produced.
    public struct Report: Sendable {
        /// The manifest the kits hold (with the overrides).
        public var manifest: FederationManifest
        public var parties: [Int]
        public var provisioning: Provisioner.Report
        public var round: AggregatorRuntime.Report
        public var result: RoundResult
        /// What `RoundOutputs.write` recorded in result.json.
        public var summary: RoundOutputs.Summary
        /// Each party's local attention (from its data or its partial result), in the round's scope.
        public var contributions: [Int: AttentionResult]
        /// The analyst's request the round answered (with a scope).
        public var request: RoundRequest?
        /// Parties whose run ended other than with the release, and why.
        public var partyNotes: [Int: String]
        /// The release against the clear sum, which only a local federation can know.
        public var againstClear: ClearComparison
        /// Entries per world in the aggregator's federation directory (when parties published catalogs).
        public var catalogWorlds: [String: Int]?
        public var provisioningSeconds: Double
        public var localAttentionSeconds: Double
    }

    /// ‖released − clear‖ / ‖clear‖ (Frobenius) of the post-processed and the raw release.
    public struct ClearComparison: Sendable, Encodable {
        /// The file holding the clear sum, in the output folder.
        public var file: String
        public var postProcessed: Double
        public var raw: Double
    }

    /// The analyst a scoped local run provisions and requests as.
    public static let analyst = "simulate"

    /// The file with the clear sum that `run` writes beside the release.
    public static let clearFile = "attention-clear.csv"

    public var configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Provisions the federation, runs one round and writes the outputs.
    /// - Throws: the manifest's, provisioning's, the attention computation's or the transport's
    ///   errors; ``FederationError/partyInput(party:problem:)`` naming the party at fault, or
    ///   ``FederationError/localRun(_:)`` for a round that released nothing.
    public func run(progress: (@Sendable (Progress) -> Void)? = nil) async throws -> Report {
        let start = ContinuousClock.now
        let configuration = self.configuration
        let work = configuration.workFolder
        let partyIDs = configuration.overrides.parties ?? configuration.manifest.parties.sorted()
        let manifest = try writeManifest(parties: partyIDs, into: work.appendingPathComponent("federation"))

        // A temporary provisioning: CA, certificates, the threshold key, kits.
        var options = Provisioner.Options()
        options.keyBits = configuration.overrides.keyBits
        let kitsFolder = work.appendingPathComponent("kits")
        let provisioning = try await Task.detached {
            try Provisioner.provision(manifest: manifest, to: kitsFolder, options: options) { progress?(.provisioning($0)) }
        }.value
        let provisioned = ContinuousClock.now
        let aggregatorKit = try FederationKit.load(from: kitsFolder.appendingPathComponent("aggregator"))
        var partyKits: [Int: FederationKit] = [:]
        for party in partyIDs { partyKits[party] = try FederationKit.load(from: kitsFolder.appendingPathComponent("party-\(party)")) }

        let catalogs = try configuration.catalogs.map { try importCatalogs(from: $0, parties: partyIDs, into: work.appendingPathComponent("catalogs")) } ?? [:]
        let analystKit = try configuration.scope.map { _ in try FederationKit.load(from: kitsFolder.appendingPathComponent("analyst-\(Self.analyst)")) }
        let request = configuration.scope.map { RoundRequest.new(manifestHash: manifest.digest, analyst: Self.analyst, scope: $0) }

        // Each party's answer to the round (its local attention in the scope, or a decline under
        // its policy), from its own data or its precomputed partial result.
        var answers: [Int: ContributionAnswer] = [:]
        var contributions: [Int: AttentionResult] = [:]
        for party in partyIDs {
            guard let url = configuration.data[party], let kit = partyKits[party] else { continue }
            let source: ContributionSource =
                if let partial = configuration.precomputed[party] { .fixed(partial.sums.result) } else {
                    .data(manifest: kit.manifest, dataURL: url, catalogPath: catalogs[party]?.path, policy: kit.manifest.policy)
                }
            do { answers[party] = try source.answer(request) } catch let error as AttentionError {
                throw FederationError.partyInput(party: party, problem: error.description)
            } catch let error as CatalogError {
                throw FederationError.partyInput(party: party, problem: error.description)
            }
            if case .contribute(let contribution)? = answers[party] { contributions[party] = contribution }
        }
        let attentionDone = ContinuousClock.now

        // The round, over gRPC with mutual TLS on loopback.
        progress?(.roundStarted(parties: partyIDs.count))
        let logger = Self.quietLogger
        var runtimeOptions = AggregatorRuntime.Options()
        runtimeOptions.noNoise = configuration.noNoise
        runtimeOptions.committee = configuration.committee
        runtimeOptions.joinDeadline = .seconds(30)
        runtimeOptions.phaseDeadline = .seconds(60)
        runtimeOptions.serving = request != nil
        let ledgers = work.appendingPathComponent("ledgers")
        try FileManager.default.createDirectory(at: ledgers, withIntermediateDirectories: true)
        let runtime = try AggregatorRuntime(
            kit: aggregatorKit, ledger: try PrivacyLedger(path: ledgers.appendingPathComponent("aggregator.sqlite").path),
            store: try RoundStore(path: ledgers.appendingPathComponent("rounds.sqlite").path), options: runtimeOptions, logger: logger)
        let directory = try FederationDirectory(
            path: ledgers.appendingPathComponent("catalog-directory.sqlite").path,
            kit: aggregatorKit, logger: logger)
        let server = try AggregatorServer(
            kit: aggregatorKit, listen: HostPort(host: "127.0.0.1", port: 0), logger: logger,
            sessions: runtime.sessionHandler, status: runtime.statusProvider, directory: directory,
            requests: runtime.requestHandler)
        let noNoise = configuration.noNoise
        let drops = configuration.drops
        let partyProgress: @Sendable (Int, PartyRuntime.Progress) -> Void = { party, step in progress?(.party(party, step)) }
        let (round, outcomes) = try await withThrowingTaskGroup(of: Void.self) { group -> (AggregatorRuntime.Report, [Int: String]) in
            group.addTask { try await server.serve() }
            defer { server.shutdown() }
            let address = try await server.listeningAddress
            // With a scope, the analyst's signed request travels to the aggregator over gRPC too.
            if let request, let analystKit {
                let signed = Fedshare_V1_SignedRoundRequest(try request.signed(by: analystKit.signer()))
                group.addTask {
                    _ = try await PartyConnection(kit: analystKit, aggregator: address, logger: logger).request(signed, timeout: .seconds(600))
                }
            }
            let requested = request != nil
            async let round = requested ? runtime.runRequestedRound() : runtime.runRound()
            let outcomes = await withTaskGroup(of: (Int, String?).self) { tasks in
                for party in partyIDs {
                    guard let kit = partyKits[party], let answer = answers[party] else { continue }
                    if drops[party] == .join {
                        await runtime.partyLeft(party, reason: "stopped answering at join (simulated)")
                        continue
                    }
                    let ledgerPath = ledgers.appendingPathComponent("party-\(party).sqlite").path
                    let dropAt = drops[party]
                    let catalog = catalogs[party]
                    tasks.addTask {
                        do {
                            let connection = try PartyConnection(kit: kit, aggregator: address, logger: logger)
                            if let catalog {
                                _ = try await CatalogPublisher(kit: kit).publish(
                                    catalog, matching: try kit.manifest.catalogSelection(), over: connection)
                            }
                            let outcome = try await PartyRuntime.run(
                                kit: kit, connection: connection, source: ContributionSource { _ in answer },
                                ledger: try PrivacyLedger(path: ledgerPath), options: .init(allowNoNoise: noNoise),
                                dropAt: dropAt, progress: { partyProgress(party, $0) })
                            switch outcome {
                            case .released: return (party, nil)
                            case .aborted(_, let reason, _): return (party, "aborted: \(reason)")
                            case .refused(let reason): return (party, "refused: \(reason)")
                            }
                        } catch let drop as SimulatedDrop {
                            return (party, drop.description)
                        } catch {
                            return (party, "\(error)")
                        }
                    }
                }
                var notes: [Int: String] = [:]
                for await (party, note) in tasks { notes[party] = note }
                return notes
            }
            guard let report = try await round else { throw FederationError.localRun("the aggregator stopped before the round") }
            server.shutdown()
            try await group.waitForAll()
            return (report, outcomes)
        }

        // The outputs, and the clear sum beside them.
        guard let result = round.result else {
            if case .aborted(let phase, let reason, let missing) = round.outcome {
                throw FederationError.localRun(
                    "the round aborted in phase \(phase.rawValue): \(reason)"
                        + (missing.isEmpty ? "" : " (missing parties: \(missing.map(String.init).joined(separator: ", ")))"))
            }
            throw FederationError.localRun("the round did not release a result: \(round.outcome)")
        }
        let capacities = try configuration.capacities.map { try Allocation.readCapacities(from: $0) }
        let outURL = configuration.outputFolder
        let summary = try RoundOutputs.write(
            result, plan: round.plan, to: outURL, capacities: capacities, phaseSeconds: round.phaseSeconds, request: request)
        let againstClear = try writeClearSum(result: result, contributions: contributions)
        return Report(
            manifest: manifest, parties: partyIDs, provisioning: provisioning, round: round, result: result, summary: summary,
            contributions: contributions, request: request, partyNotes: outcomes, againstClear: againstClear,
            catalogWorlds: catalogs.isEmpty ? nil : try directory.catalog.stats().worlds,
            provisioningSeconds: Self.seconds(provisioned - start), localAttentionSeconds: Self.seconds(attentionDone - provisioned))
    }

    /// Writes the manifest with the overrides into `folder`, beside copies of the files it
    /// names, and loads it back (so it is checked as any manifest is).
    private func writeManifest(parties: [Int], into folder: URL) throws -> FederationManifest {
        let original = configuration.manifest
        var overrides = configuration.overrides
        overrides.parties = parties
        overrides.aggregator = "127.0.0.1:7443"
        if configuration.scope != nil, !original.analysts.names.contains(Self.analyst) {
            overrides.analysts = original.analysts.names + [Self.analyst]
        }
        // Both modes need 2t > parties (the manifest refuses less: a deviating aggregator could
        // open a round twice or unmask one party's input), so the default rises.
        if overrides.threshold == nil { overrides.threshold = max(min(original.threshold, parties.count), parties.count / 2 + 1) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // The anchors and encoder keep their places relative to the manifest.
        let base = original.url.deletingLastPathComponent().standardizedFileURL.path
        func copy(_ url: URL) throws -> String {
            let path = url.standardizedFileURL.path
            guard let relative = PathContainment.relative(path, under: base) else {
                throw FederationError.localRun("\(path): simulate needs the manifest's files beside it or below it")
            }
            let destination = folder.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: url, to: destination)
            return relative
        }
        let anchors = try copy(original.attention.anchorsURL)
        let encoder = try original.attention.encoderURL.map(copy)
        let text = original.applying(overrides).tomlText(anchorsPath: anchors, encoderPath: encoder)
        let url = folder.appendingPathComponent("manifest.toml")
        try Data(text.utf8).write(to: url)
        return try FederationManifest.load(from: url)
    }

    /// Each party's catalog: `folder/world-N.jsonl` (or `.csv`) imported into a fresh catalog
    /// file under `work`; parties without such a file publish nothing.
    private func importCatalogs(from folder: URL, parties: [Int], into work: URL) throws -> [Int: Catalog] {
        var catalogs: [Int: Catalog] = [:]
        for party in parties {
            let candidates = ["jsonl", "csv"].map { folder.appendingPathComponent("world-\(party).\($0)") }
            guard let file = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else { continue }
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            do {
                let catalog = try Catalog(path: work.appendingPathComponent("party-\(party).sqlite").path, access: .create)
                try catalog.importEntries(try EntryFile.read(path: file.path, displayName: "catalog/\(file.lastPathComponent)"))
                catalogs[party] = catalog
            } catch let error as CatalogError {
                throw FederationError.partyInput(party: party, problem: error.description)
            }
        }
        return catalogs
    }

    /// A local federation alone holds every party's data: it writes the clear sum beside the
    /// release and says how far the release is from it (a demonstration; no real deployment can).
    private func writeClearSum(result: RoundResult, contributions: [Int: AttentionResult]) throws -> ClearComparison {
        var clearMatrix = [Double](repeating: 0, count: result.groups.count * result.anchors.count)
        for party in result.contributors {
            guard let contribution = contributions[party] else { continue }
            for (index, value) in contribution.matrix.enumerated() { clearMatrix[index] += value }
        }
        let url = configuration.outputFolder.appendingPathComponent(Self.clearFile)
        do {
            try Data(LabelledMatrix(corner: "group", rowLabels: result.groups, columnLabels: result.anchors, values: clearMatrix).csv().utf8)
                .write(to: url, options: .atomic)
        } catch {
            throw FederationError.localRun("\(url.path): cannot write: \(error.localizedDescription)")
        }
        let clearNorm = clearMatrix.map { $0 * $0 }.reduce(0, +).squareRoot()
        func relativeError(_ released: [Double]) -> Double {
            zip(released, clearMatrix).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / max(clearNorm, .leastNormalMagnitude)
        }
        return ClearComparison(file: Self.clearFile, postProcessed: relativeError(result.postProcessed.matrix), raw: relativeError(result.matrix))
    }

    /// Transport notes (retries) stay quiet: the caller reports the outcome.
    static var quietLogger: Logger {
        var logger = Logger(label: "fedshare.local-federation")
        logger.logLevel = .error
        return logger
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
}
