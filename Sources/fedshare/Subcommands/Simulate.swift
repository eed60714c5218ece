import ArgumentParser
import Attention
import Federation
import Foundation
import Manifest

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
            directory on joining. The filters of fedshare catalog query (--text, --where, --from, \
            --to, --near with --radius, --within) run the round as an analyst's request, as \
            fedshare request does against a serving federation: each party counts only its records \
            whose item (the manifest's item_column) matches them in its own catalog, under the \
            manifest's [policy].
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

    @Option(
        name: .long,
        help:
            "PARTY=FILE: that party takes part with this partial result (fedshare attention --partial-out, or the Spark job's) instead of its data (repeatable)."
    )
    var precomputed: [PrecomputedArgument] = []

    @Option(name: .long, help: "paillier or secagg (default: the manifest's).")
    var mode: ModeArgument?

    @Option(name: .long, help: "Number of parties (ids 1…N; data files are reused in turn).")
    var parties: Int?

    @Option(name: .long, help: "Parties needed to decrypt or unmask (default: the manifest's).")
    var threshold: Int?

    @Option(
        name: .long,
        help:
            "PARTY@PHASE: that party stops answering at that phase (repeatable). Phases: join, advertise, share, contribute, check, decrypt, unmask. At decrypt only the parties asked to decrypt stop (all of them with --decryption-committee everyone)."
    )
    var drop: [DropArgument] = []

    @Option(
        name: .long,
        help: "Who decrypts (Paillier): threshold (the first t contributors; another is asked only when one fails) or everyone (every contributor at once).")
    var decryptionCommittee = DecryptionCommittee.threshold

    @Flag(name: .long, help: "Add no differential-privacy noise (simulations only; recorded in result.json).")
    var noNoise = false

    @Option(name: .long, help: "Threshold Paillier modulus size for the temporary key (2048, 3072 or 4096).")
    var keyBits = 2048

    @Option(name: .long, help: "Output folder (default: fedshare-simulation).")
    var out = "fedshare-simulation"

    @OptionGroup
    var output: JSONOutputOptions

    @OptionGroup
    var filters: CatalogFilterOptions

    @Flag(name: .long, help: "Keep the temporary kits and ledgers (their folder is printed).")
    var keepKits = false

    func validate() throws {
        if example != nil && manifest != nil { throw ValidationError("give --example or --manifest, not both") }
        if manifest != nil && data.isEmpty { throw ValidationError("--manifest needs --data for each party") }
        if manifest == nil && !data.isEmpty { throw ValidationError("--data goes with --manifest") }
        try mode?.validate()
        if let parties, !(2...64).contains(parties) { throw ValidationError("--parties must be between 2 and 64") }
        if let threshold, threshold < 1 { throw ValidationError("--threshold must be at least 1") }
        guard [2048, 3072, 4096].contains(keyBits) else { throw ValidationError("--key-bits must be 2048, 3072 or 4096") }
        for spec in drop { try spec.validate() }
        for spec in precomputed { try spec.validate() }
    }

    func run() async throws {
        let start = ContinuousClock.now
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-simulate-\(UUID().uuidString)")
        defer { if !keepKits { try? FileManager.default.removeItem(at: work) } }

        // The federation: manifest and data files; the overrides apply in the kits' copy.
        let source = try resolveSource()
        let original = try FederationManifest.load(from: source.manifest)
        let partyIDs = parties.map { Array(1...$0) } ?? original.parties.sorted()
        let drops = try parseDrops(partyIDs: partyIDs)
        // Precomputed partial results are checked against the manifest given here (the kits'
        // copy carries the overrides, so its hash differs), before anything is provisioned.
        let precomputedFor = try loadPrecomputed(partyIDs: partyIDs, manifest: original)
        guard !source.data.isEmpty else { throw CLIError("no data files for the federation") }
        var dataFor: [Int: URL] = [:]
        for (index, party) in partyIDs.enumerated() { dataFor[party] = source.data[index % source.data.count] }
        if let threshold, threshold > partyIDs.count {
            throw CLIError("--threshold \(threshold) is above the number of parties (\(partyIDs.count))")
        }

        var configuration = LocalFederation.Configuration(
            manifest: original, data: dataFor,
            outputFolder: URL(fileURLWithPath: out), workFolder: work)
        configuration.overrides = FederationManifest.Overrides(
            parties: partyIDs, threshold: threshold, mode: mode?.mode, keyBits: keyBits)
        configuration.precomputed = precomputedFor
        configuration.drops = drops
        configuration.committee = decryptionCommittee
        configuration.noNoise = noNoise
        configuration.catalogs = source.manifest.deletingLastPathComponent().appendingPathComponent("catalog")
        configuration.capacities = source.capacities
        configuration.scope = try filters.scope()
        try await LocalFederation(configuration).runPrintingSummary(json: output.json, start: start, kits: keepKits ? work.path : nil)
    }

    // MARK: Inputs

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
        let loaded = try FederationManifest.load(from: manifestURL)
        try Self.generateDataIfNeeded(example: name, folder: folder, parties: loaded.parties, quiet: output.json)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        var data: [URL] = []
        for party in loaded.parties.sorted() {
            let suffixes = ["-\(party).csv", "-\(party).tsv", "-\(party).jsonl", "-\(party).npy"]
            guard let file = files.sorted().first(where: { name in suffixes.contains(where: { name.hasSuffix($0) }) }) else {
                throw CLIError(
                    "Examples/\(name): no data file for party \(party) (expected a file named like world-\(party).csv; see its README, some examples generate their data)"
                )
            }
            data.append(folder.appendingPathComponent(file))
        }
        let capacities = folder.appendingPathComponent("capacities.csv")
        return Source(
            manifest: manifestURL, data: data,
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
        if !quiet {
            FileHandle.standardError.write(Data("generating Examples/\(example)'s data once (python3 generate.py; deterministic, git-ignored)…\n".utf8))
        }
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
            guard !FileManager.default.fileExists(atPath: destination.path) else { continue }  // another run was first
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
        return try FederationManifest.load(from: url)
    }

    private func parseDrops(partyIDs: [Int]) throws -> [Int: RoundPhase] {
        var drops: [Int: RoundPhase] = [:]
        for spec in drop {
            guard let (party, phase) = spec.drop else { continue }  // validate() refused it
            guard partyIDs.contains(party) else { throw CLIError("--drop \(spec.text): party \(party) is not in the federation (parties \(partyIDs))") }
            drops[party] = phase
        }
        return drops
    }

    /// The `--precomputed PARTY=FILE` partial results, read and checked against `manifest`.
    private func loadPrecomputed(partyIDs: [Int], manifest: FederationManifest) throws -> [Int: PartialAttention] {
        var partials: [Int: PartialAttention] = [:]
        for spec in precomputed {
            guard let (party, url) = spec.file else { continue }  // validate() refused it
            let text = spec.text
            guard partyIDs.contains(party) else { throw CLIError("--precomputed \(text): party \(party) is not in the federation (parties \(partyIDs))") }
            guard partials[party] == nil else { throw CLIError("--precomputed \(text): party \(party) is given twice") }
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
}
