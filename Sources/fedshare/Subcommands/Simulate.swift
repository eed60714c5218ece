import ArgumentParser
import Attention
import Catalog
import DifferentialPrivacy
import Federation
import Foundation
import Logging
import Manifest
import Synchronization

/// `fedshare simulate`: a whole federation on this machine, over real gRPC and real TLS.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a whole federation on this machine: the aggregator and every party.",
        discussion: """
            Provisions a temporary federation (CA, certificates, a real threshold Paillier key), \
            starts the aggregator and every party as separate actors talking gRPC over loopback \
            with mutual TLS, runs one round with the real cryptography and privacy accounting, \
            and writes the outputs (attention.csv, counts.csv, allocation.csv, result.json, \
            heatmap.svg). With no arguments it runs Examples/three-worlds in Paillier mode. When \
            the manifest's folder has catalog/world-N.jsonl (or .csv) files, each party imports \
            its own into a catalog and publishes it, signed, to the aggregator's federation \
            directory on joining.
            --parties N above the number of data files reuses them in turn. The threshold key \
            is dealt at --key-bits (default 2048, the smallest production size, to keep the \
            demonstration quick); --no-noise exists only here and is recorded in result.json.
            """)

    @Option(name: .long, help: "A bundled example under Examples/ (default: three-worlds).")
    var example: String?

    @Option(name: .long, help: "A federation manifest (instead of --example); give --data once per party.")
    var manifest: String?

    @Option(name: .long, help: "A party's data file, in the order of the manifest's party ids (repeatable).")
    var data: [String] = []

    @Option(name: .long, help: "PARTY=FILE: that party takes part with this partial result (fedshare attention --partial-out, or the Spark job's) instead of its data (repeatable).")
    var precomputed: [String] = []

    @Option(name: .long, help: "paillier or secagg (default: the manifest's).")
    var mode: String?

    @Option(name: .long, help: "Number of parties (ids 1…N; data files are reused in turn).")
    var parties: Int?

    @Option(name: .long, help: "Parties needed to decrypt or unmask (default: the manifest's).")
    var threshold: Int?

    @Option(name: .long, help: "PARTY@PHASE: that party stops answering at that phase (repeatable). Phases: join, advertise, share, contribute, check, decrypt, unmask. At decrypt only the parties asked to decrypt stop (all of them with --decryption-committee everyone).")
    var drop: [String] = []

    @Option(name: .long, help: "Who decrypts (Paillier): threshold (the first t contributors; another is asked only when one fails) or everyone (every contributor at once).")
    var decryptionCommittee = DecryptionCommittee.threshold

    @Flag(name: .long, help: "Add no differential-privacy noise (simulations only; recorded in result.json).")
    var noNoise = false

    @Option(name: .long, help: "Threshold Paillier modulus size for the temporary key (2048, 3072 or 4096).")
    var keyBits = 2048

    @Option(name: .long, help: "Output folder (default: fedshare-simulation).")
    var out = "fedshare-simulation"

    @Flag(name: .long, help: "Print a JSON summary on standard output.")
    var json = false

    @Flag(name: .long, help: "Keep the temporary kits and ledgers (their folder is printed).")
    var keepKits = false

    func validate() throws {
        if example != nil && manifest != nil { throw ValidationError("give --example or --manifest, not both") }
        if manifest != nil && data.isEmpty { throw ValidationError("--manifest needs --data for each party") }
        if manifest == nil && !data.isEmpty { throw ValidationError("--data goes with --manifest") }
        if let mode, !["paillier", "secagg"].contains(mode) { throw ValidationError("--mode must be paillier or secagg") }
        if let parties, !(2...64).contains(parties) { throw ValidationError("--parties must be between 2 and 64") }
        if let threshold, threshold < 1 { throw ValidationError("--threshold must be at least 1") }
        guard [2048, 3072, 4096].contains(keyBits) else { throw ValidationError("--key-bits must be 2048, 3072 or 4096") }
    }

    func run() async throws {
        let start = ContinuousClock.now
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-simulate-\(UUID().uuidString)")
        defer { if !keepKits { try? FileManager.default.removeItem(at: work) } }
        do {
            try await simulate(work: work, start: start)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
    }

    private func simulate(work: URL, start: ContinuousClock.Instant) async throws {
        // 1. The federation: manifest (with the overrides) and data files.
        let source = try resolveSource()
        let original = try loadManifest(source.manifest)
        let partyIDs = parties.map { Array(1...$0) } ?? original.parties.sorted()
        let drops = try parseDrops(partyIDs: partyIDs)
        // Precomputed partial results are checked against the manifest given here (the kits'
        // copy carries the overrides, so its hash differs), before anything is provisioned.
        let precomputedFor = try loadPrecomputed(partyIDs: partyIDs, manifest: original)
        guard !source.data.isEmpty else { throw CLIError("no data files for the federation") }
        var dataFor: [Int: URL] = [:]
        for (index, party) in partyIDs.enumerated() { dataFor[party] = source.data[index % source.data.count] }
        let manifestURL = try writeManifest(original, source: source.manifest, parties: partyIDs, into: work.appendingPathComponent("federation"))
        let manifest = try loadManifest(manifestURL)

        // 2. A temporary provisioning: CA, certificates, the threshold key, kits.
        var options = Provisioner.Options()
        options.keyBits = keyBits
        let report = try await Provision.provision(manifest: manifest, to: work.appendingPathComponent("kits"), options: options, quiet: json)
        let provisioned = ContinuousClock.now
        let aggregatorKit = try loadKit(work.appendingPathComponent("kits/aggregator"))
        var partyKits: [Int: FederationKit] = [:]
        for party in partyIDs { partyKits[party] = try loadKit(work.appendingPathComponent("kits/party-\(party)")) }

        // 3. Each party's local attention, from its own data or its precomputed partial result.
        var contributions: [Int: AttentionResult] = [:]
        for party in partyIDs {
            guard let url = dataFor[party], let kit = partyKits[party] else { continue }
            if let partial = precomputedFor[party] {
                contributions[party] = partial.sums.result
                continue
            }
            do { contributions[party] = try LocalAttention.compute(manifest: kit.manifest, dataURL: url) } catch let error as AttentionError {
                throw CLIError("party \(party): \(error.description)")
            }
        }
        let attentionDone = ContinuousClock.now
        let catalogs = try importCatalogs(from: source.manifest.deletingLastPathComponent().appendingPathComponent("catalog"),
                                          parties: partyIDs, into: work.appendingPathComponent("catalogs"))

        // 4. The round, over gRPC with mutual TLS on loopback.
        let logger = Status.quietLogger
        var runtimeOptions = AggregatorRuntime.Options()
        runtimeOptions.noNoise = noNoise
        runtimeOptions.committee = decryptionCommittee
        runtimeOptions.joinDeadline = .seconds(30)
        runtimeOptions.phaseDeadline = .seconds(60)
        let ledgers = work.appendingPathComponent("ledgers")
        try FileManager.default.createDirectory(at: ledgers, withIntermediateDirectories: true)
        let runtime = try AggregatorRuntime(
            kit: aggregatorKit, ledger: try PrivacyLedger(path: ledgers.appendingPathComponent("aggregator.sqlite").path),
            store: try RoundStore(path: ledgers.appendingPathComponent("rounds.sqlite").path), options: runtimeOptions, logger: logger)
        let directory = try FederationDirectory(path: ledgers.appendingPathComponent("catalog-directory.sqlite").path,
                                                kit: aggregatorKit, logger: logger)
        let server = try AggregatorServer(kit: aggregatorKit, listen: HostPort(host: "127.0.0.1", port: 0), logger: logger,
                                          sessions: runtime.sessionHandler, status: runtime.statusProvider, directory: directory)
        let line = StatusLine(enabled: !json)
        defer { line.finish() }
        line.set("running the round: \(partyIDs.count) parties over gRPC with mutual TLS")
        let noNoise = self.noNoise
        // The long steps of every party, summed into one bar per step.
        let working = Mutex([Int: (work: PartyRound.Work, done: Int, total: Int)]())
        let partyCount = partyIDs.count
        let show: @Sendable (Int, PartyRuntime.Progress) -> Void = { party, progress in
            guard case .working(let work, let done, let total) = progress else { return }
            let text = working.withLock { state in
                state[party] = (work, done, total)
                let same = state.values.filter { $0.work == work }
                return "running the round: \(work.rawValue), \(same.count) of \(partyCount) parties "
                    + StatusLine.bar(done: same.map(\.done).reduce(0, +), total: same.map(\.total).reduce(0, +))
            }
            line.set(text)
        }
        let (roundReport, outcomes) = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            defer { server.shutdown() }
            let address = try await server.listeningAddress
            async let round = runtime.runRound()
            let outcomes = await withTaskGroup(of: (Int, String?).self) { tasks in
                for party in partyIDs {
                    guard let kit = partyKits[party], let contribution = contributions[party] else { continue }
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
                                kit: kit, connection: connection, contribution: contribution,
                                ledger: try PrivacyLedger(path: ledgerPath), options: .init(allowNoNoise: noNoise), dropAt: dropAt,
                                progress: { show(party, $0) })
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
                var all: [Int: String?] = [:]
                for await (party, note) in tasks { all[party] = note }
                return all
            }
            let report = try await round
            server.shutdown()
            try await group.waitForAll()
            return (report, outcomes)
        }
        line.finish()

        // 5. Outputs and the summary.
        let outURL = URL(fileURLWithPath: out)
        guard let result = roundReport.result else {
            if case .aborted(let phase, let reason, let missing) = roundReport.outcome {
                throw CLIError("the round aborted in phase \(phase.rawValue): \(reason)" + (missing.isEmpty ? "" : " (missing parties: \(missing.map(String.init).joined(separator: ", ")))"))
            }
            throw CLIError("the round did not release a result: \(roundReport.outcome)")
        }
        let capacities = try source.capacities.map { url -> [Allocation.Capacity] in
            do { return try Allocation.readCapacities(from: url) } catch let error as AttentionError { throw CLIError(error.description) }
        }
        let summary = try RoundOutputs.write(result, plan: roundReport.plan, to: outURL, capacities: capacities,
                                             phaseSeconds: roundReport.phaseSeconds)
        // Simulate alone holds every party's data: it writes the clear sum beside the release and
        // says how far the release is from it (a demonstration; no real deployment can).
        var clearMatrix = [Double](repeating: 0, count: result.groups.count * result.anchors.count)
        for party in result.contributors {
            guard let contribution = contributions[party] else { continue }
            for (index, value) in contribution.matrix.enumerated() { clearMatrix[index] += value }
        }
        let clearFile = "attention-clear.csv"
        do {
            try Data(LabelledMatrix(corner: "group", rowLabels: result.groups, columnLabels: result.anchors, values: clearMatrix).csv().utf8)
                .write(to: outURL.appendingPathComponent(clearFile), options: .atomic)
        } catch {
            throw CLIError("\(outURL.appendingPathComponent(clearFile).path): cannot write: \(error.localizedDescription)")
        }
        let clearNorm = clearMatrix.map { $0 * $0 }.reduce(0, +).squareRoot()
        func relativeError(_ released: [Double]) -> Double {
            zip(released, clearMatrix).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / max(clearNorm, .leastNormalMagnitude)
        }
        let comparison = Summary.Comparison(file: clearFile, postProcessed: relativeError(result.postProcessed.matrix),
                                            raw: relativeError(result.matrix))
        let total = ContinuousClock.now - start
        let view = Summary(
            federation: manifest.name, mode: manifest.crypto.mode.rawValue, parties: partyIDs, threshold: manifest.threshold,
            contributors: result.contributors, dropped: result.dropped.map { "party \($0.party) at \($0.phase.rawValue): \($0.reason)" },
            keyBits: report.keyBits, keyFingerprint: result.keyFingerprint,
            privacy: Self.privacyLine(summary.privacyCost, mechanism: manifest.privacy.mechanism.rawValue),
            noNoise: noNoise, noise: summary.noise, againstClear: comparison,
            seconds: .init(provisioning: seconds(provisioned - start), localAttention: seconds(attentionDone - provisioned),
                           phases: roundReport.phaseSeconds.filter { $0.phase != .done && $0.phase != .aborted }.map { .init(phase: $0.phase.rawValue, seconds: $0.seconds) },
                           total: seconds(total), keyDealing: report.dealingSeconds),
            bytesPerParty: partyIDs.map { .init(party: $0, sent: roundReport.bytesSent[$0] ?? 0, received: roundReport.bytesReceived[$0] ?? 0) },
            partyNotes: outcomes.compactMap { party, note in note.map { "party \(party): \($0)" } }.sorted(),
            outputFolder: outURL.standardizedFileURL.path, outputs: RoundOutputs.fileNames + [clearFile],
            ledgerEntryID: result.ledgerEntryID, kits: keepKits ? work.path : nil,
            catalogWorlds: catalogs.isEmpty ? nil : try directory.catalog.stats().worlds)
        if json { try printJSON(view) } else { print(view.text) }
    }

    // MARK: Inputs

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
                throw CLIError("party \(party): \(error.description)")
            }
        }
        return catalogs
    }

    struct Source {
        var manifest: URL
        var data: [URL]
        var capacities: URL?
    }

    private func resolveSource() throws -> Source {
        if let manifest {
            return Source(manifest: URL(fileURLWithPath: manifest), data: data.map { URL(fileURLWithPath: $0) }, capacities: nil)
        }
        let name = example ?? "three-worlds"
        guard let folder = Self.findExample(name) else {
            throw CLIError("example \"\(name)\" not found: looked for Examples/\(name) in the current folder and above, and beside the fedshare executable")
        }
        let manifestURL = folder.appendingPathComponent("manifest.toml")
        let loaded = try loadManifest(manifestURL)
        try Self.generateDataIfNeeded(example: name, folder: folder, parties: loaded.parties, quiet: json)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var data: [URL] = []
        for party in loaded.parties.sorted() {
            let suffixes = ["-\(party).csv", "-\(party).tsv", "-\(party).jsonl", "-\(party).npy"]
            guard let file = files.sorted().first(where: { name in suffixes.contains(where: { name.hasSuffix($0) }) }) else {
                throw CLIError("Examples/\(name): no data file for party \(party) (expected a file named like world-\(party).csv; see its README, some examples generate their data)")
            }
            data.append(folder.appendingPathComponent(file))
        }
        let capacities = folder.appendingPathComponent("capacities.csv")
        return Source(manifest: manifestURL, data: data,
                      capacities: FileManager.default.fileExists(atPath: capacities.path) ? capacities : nil)
    }

    /// An example whose data is generated (a `generate.py` beside its manifest, the data files
    /// git-ignored) gets it made on first use: `python3 generate.py` into a scratch folder, then
    /// each `world-N.csv` moved into place (a rename, so a concurrent run never reads half a file).
    static func generateDataIfNeeded(example: String, folder: URL, parties: [Int], quiet: Bool) throws {
        let script = folder.appendingPathComponent("generate.py")
        let wanted = parties.map { "world-\($0).csv" }
        let missing = wanted.filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard !missing.isEmpty, FileManager.default.fileExists(atPath: script.path) else { return }
        let scratch = folder.appendingPathComponent(".generating-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        if !quiet { FileHandle.standardError.write(Data("generating Examples/\(example)'s data once (python3 generate.py; deterministic, git-ignored)…\n".utf8)) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--worlds", String(parties.max() ?? 1), "--out", scratch.path]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do { try process.run() } catch {
            throw CLIError("Examples/\(example): cannot run python3 to generate the data (\(error.localizedDescription)); run python3 \(script.path) by hand")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: message, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? "exit status \(process.terminationStatus)"
            throw CLIError("Examples/\(example): generating the data failed (python3 \(script.lastPathComponent), which needs numpy): \(last)")
        }
        for name in missing {
            let destination = folder.appendingPathComponent(name)
            guard !FileManager.default.fileExists(atPath: destination.path) else { continue } // another run was first
            do { try FileManager.default.moveItem(at: scratch.appendingPathComponent(name), to: destination) } catch {
                guard FileManager.default.fileExists(atPath: destination.path) else {
                    throw CLIError("Examples/\(example): cannot move the generated \(name) into \(folder.path): \(error.localizedDescription)")
                }
            }
        }
    }

    /// Examples/NAME in the current folder or above, or above the executable (a build folder).
    static func findExample(_ name: String) -> URL? {
        guard !name.contains("/"), !name.isEmpty else { return nil }
        var starts = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        starts.append(executable.deletingLastPathComponent())
        for start in starts {
            var folder = start.standardizedFileURL
            for _ in 0..<8 {
                let candidate = folder.appendingPathComponent("Examples").appendingPathComponent(name)
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("manifest.toml").path) { return candidate }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        return nil
    }

    private func loadManifest(_ url: URL) throws -> FederationManifest {
        do { return try FederationManifest.load(from: url) } catch let error as AttentionError { throw CLIError(error.description) }
    }

    private func loadKit(_ url: URL) throws -> FederationKit {
        do { return try FederationKit.load(from: url) } catch let error as ProvisioningError { throw CLIError(error.description) }
    }

    private func parseDrops(partyIDs: [Int]) throws -> [Int: RoundPhase] {
        var drops: [Int: RoundPhase] = [:]
        for text in drop {
            let parts = text.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, let party = Int(parts[0]), let phase = RoundPhase(rawValue: String(parts[1])),
                  [.join, .advertise, .share, .contribute, .check, .decrypt, .unmask].contains(phase)
            else { throw CLIError("--drop \(text): expected PARTY@PHASE with a phase among join, advertise, share, contribute, check, decrypt, unmask") }
            guard partyIDs.contains(party) else { throw CLIError("--drop \(text): party \(party) is not in the federation (parties \(partyIDs))") }
            drops[party] = phase
        }
        return drops
    }

    /// The `--precomputed PARTY=FILE` partial results, read and checked against `manifest`.
    private func loadPrecomputed(partyIDs: [Int], manifest: FederationManifest) throws -> [Int: PartialAttention] {
        var partials: [Int: PartialAttention] = [:]
        for text in precomputed {
            guard let equals = text.firstIndex(of: "="), let party = Int(text[..<equals]), text.index(after: equals) < text.endIndex else {
                throw CLIError("--precomputed \(text): expected PARTY=FILE (a party id and a partial result file)")
            }
            guard partyIDs.contains(party) else { throw CLIError("--precomputed \(text): party \(party) is not in the federation (parties \(partyIDs))") }
            guard partials[party] == nil else { throw CLIError("--precomputed \(text): party \(party) is given twice") }
            let url = URL(fileURLWithPath: String(text[text.index(after: equals)...]))
            do {
                let partial = try PartialAttention.read(from: url)
                try partial.check(against: manifest, file: url.lastPathComponent)
                partials[party] = partial
            } catch let error as AttentionError {
                throw CLIError("party \(party): \(error.description)")
            }
        }
        return partials
    }

    /// The manifest for this simulation: the original text with the overrides, beside copies of
    /// the files it names. The aggregator address becomes loopback.
    private func writeManifest(_ manifest: FederationManifest, source: URL, parties: [Int], into folder: URL) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard var text = try? String(contentsOf: source, encoding: .utf8) else { throw CLIError("\(source.path): cannot read") }
        let chosenMode = mode ?? manifest.crypto.mode.rawValue
        var chosenThreshold = threshold ?? min(manifest.threshold, parties.count)
        // Both modes need 2t > parties (the manifest refuses less: a deviating aggregator could
        // open a round twice or unmask one party's input), so the default rises.
        if threshold == nil { chosenThreshold = max(chosenThreshold, parties.count / 2 + 1) }
        guard chosenThreshold <= parties.count else { throw CLIError("--threshold \(chosenThreshold) is above the number of parties (\(parties.count))") }
        text = Self.replace(key: "parties", in: "federation", with: "[\(parties.map(String.init).joined(separator: ", "))]", text: text)
        text = Self.replace(key: "threshold", in: "federation", with: "\(chosenThreshold)", text: text)
        text = Self.replace(key: "aggregator", in: "federation", with: "\"127.0.0.1:7443\"", text: text)
        text = Self.replace(key: "mode", in: "crypto", with: "\"\(chosenMode)\"", text: text)
        text = Self.replace(key: "key_bits", in: "crypto", with: "\(keyBits)", text: text)
        let base = source.deletingLastPathComponent().standardizedFileURL.path
        for url in [manifest.attention.anchorsURL, manifest.attention.encoderURL].compactMap({ $0 }) {
            let path = url.standardizedFileURL.path
            guard let relative = PathContainment.relative(path, under: base) else {
                throw CLIError("\(path): simulate needs the manifest's files beside it or below it")
            }
            let destination = folder.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: url, to: destination)
        }
        let url = folder.appendingPathComponent("manifest.toml")
        try Data(text.utf8).write(to: url)
        return url
    }

    /// Sets `key = value` in table `[table]` of a TOML text (replacing the line, or adding it,
    /// adding the table if needed).
    static func replace(key: String, in table: String, with value: String, text: String) -> String {
        var lines = text.components(separatedBy: "\n")
        var current = ""
        var tableLine: Int?
        var nextTableLine: Int?
        for (index, line) in lines.enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") {
                if current == table, nextTableLine == nil { nextTableLine = index }
                current = String(trimmed.dropFirst().prefix { $0 != "]" })
                if current == table { tableLine = index }
                continue
            }
            if current == table, trimmed.hasPrefix(key), trimmed.dropFirst(key.count).trimmingCharacters(in: .whitespaces).hasPrefix("=") {
                lines[index] = "\(key) = \(value)"
                return lines.joined(separator: "\n")
            }
        }
        if let tableLine {
            lines.insert("\(key) = \(value)", at: tableLine + 1)
        } else {
            lines.append("[\(table)]")
            lines.append("\(key) = \(value)")
        }
        _ = nextTableLine
        return lines.joined(separator: "\n")
    }

    /// The certified cost of one release, as result.json records it: the ε the accountant gives
    /// for the recorded event (what `fedshare privacy epsilon` recomputes from it), the target
    /// it was calibrated to, and the noise actually added.
    static func privacyLine(_ cost: RoundOutputs.Summary.Cost, mechanism: String) -> String {
        let deltaText = cost.delta == 0 ? "" : ", δ = \(cost.delta)"
        let parameter = cost.mechanism == "discrete_gaussian" ? "σ" : "b"
        return "\(mechanism) ε = \(cost.epsilon)\(deltaText) per release (\(cost.unit)-level), certified by the "
            + "\(cost.accountant) accountant for \(cost.mechanism) \(parameter) = \(cost.noise), sensitivity \(cost.sensitivity), "
            + "dimension \(cost.dimension)" + (cost.mechanism == "discrete_gaussian" ? ", \(cost.shares) shares" : "")
            + " (\(cost.noiseUnits); target ε = \(cost.targetEpsilon))"
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    // MARK: Summary

    struct Summary: Encodable {
        struct Seconds: Encodable {
            struct Phase: Encodable { var phase: String; var seconds: Double }
            var provisioning: Double
            var localAttention: Double
            var phases: [Phase]
            var total: Double
            var keyDealing: Double?
        }
        struct Bytes: Encodable { var party: Int; var sent: Int; var received: Int }
        var federation: String
        var mode: String
        var parties: [Int]
        var threshold: Int
        var contributors: [Int]
        var dropped: [String]
        var keyBits: Int?
        var keyFingerprint: String
        var privacy: String
        var noNoise: Bool
        /// The noise in result units, per released matrix, as result.json records it.
        var noise: ReleaseNoise?
        /// The release against the clear sum, which only a simulation can know.
        struct Comparison: Encodable {
            var file: String
            /// ‖released − clear‖ / ‖clear‖ (Frobenius) of attention.csv and attention-raw.csv.
            var postProcessed: Double
            var raw: Double
        }
        var againstClear: Comparison
        var seconds: Seconds
        var bytesPerParty: [Bytes]
        var partyNotes: [String]
        var outputFolder: String
        var outputs: [String]
        var ledgerEntryID: Int64
        var kits: String?
        /// Entries per world in the aggregator's federation directory (when the example has catalogs).
        var catalogWorlds: [String: Int]?

        var text: String {
            func list(_ ids: [Int]) -> String { ids.map(String.init).joined(separator: ", ") }
            var lines: [String] = []
            lines.append("Simulated federation \(federation): \(parties.count) parties (\(list(parties))), threshold \(threshold), mode \(mode)"
                         + (mode == "paillier" ? ", \(keyBits.map { "\($0)-bit" } ?? "?") threshold Paillier key" : ""))
            lines.append("Transport: gRPC over HTTP/2 on loopback, mutual TLS with a temporary federation CA")
            lines.append("Contributors: \(list(contributors))" + (dropped.isEmpty ? "" : "; dropped: " + dropped.joined(separator: "; ")))
            lines.append("Privacy cost: \(privacy)" + (noNoise ? " — NO NOISE ADDED (--no-noise; recorded in result.json)" : ""))
            if let noise, !noNoise {
                lines.append("Noise: \(noise.summaryLine)")
                if let warning = noise.warning { lines.append("WARNING: \(warning)") }
            }
            lines.append("Against the clear sum (only a simulation holds every party's data; in \(againstClear.file)): relative error "
                         + String(format: "%.1f %% post-processed, %.1f %% raw (Frobenius norm)", againstClear.postProcessed * 100, againstClear.raw * 100))
            lines.append("Release: attention.csv and counts.csv are post-processed (non-negative, each row summing to its count; "
                         + "no privacy cost); the raw unbiased release is in attention-raw.csv and counts-raw.csv")
            var timing = String(format: "Time: provisioning %.1f s", seconds.provisioning)
            if let dealing = seconds.keyDealing { timing += String(format: " (key dealing %.1f s)", dealing) }
            timing += String(format: ", local attention %.2f s", seconds.localAttention)
            for phase in seconds.phases { timing += String(format: ", %@ %.2f s", phase.phase, phase.seconds) }
            timing += String(format: "; total %.1f s", seconds.total)
            lines.append(timing)
            if !partyNotes.isEmpty { lines.append("Parties: " + partyNotes.joined(separator: "; ")) }
            if let catalogWorlds {
                lines.append("Catalog: the federation directory holds " + catalogWorlds.sorted { $0.key < $1.key }
                    .map { "\($0.value) entries of \($0.key)" }.joined(separator: ", ") + " (published, signed, on joining)")
            }
            lines.append("Outputs: \(outputFolder)/ (\(outputs.joined(separator: ", ")))")
            if let kits { lines.append("Temporary kits and ledgers kept in \(kits)") }
            return lines.joined(separator: "\n")
        }
    }
}
