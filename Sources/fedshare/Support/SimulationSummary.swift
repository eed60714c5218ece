import Federation
import Foundation

/// What `fedshare simulate` and `fedshare bench e2e` print after a local federation's round:
/// one JSON object (`--json`) or lines of text.
struct SimulationSummary: Encodable {
    struct Seconds: Encodable {
        struct Phase: Encodable {
            var phase: String
            var seconds: Double
        }
        var provisioning: Double
        var localAttention: Double
        var phases: [Phase]
        var total: Double
        var keyDealing: Double?
    }
    struct Bytes: Encodable {
        var party: Int
        var sent: Int
        var received: Int
    }
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
    var againstClear: LocalFederation.ClearComparison
    var seconds: Seconds
    var bytesPerParty: [Bytes]
    var partyNotes: [String]
    var outputFolder: String
    var outputs: [String]
    var ledgerEntryID: Int64
    var kits: String?
    /// Entries per world in the aggregator's federation directory (when the example has catalogs).
    var catalogWorlds: [String: Int]?
    /// The analyst's request the round answered (with catalog filters), as result.json records it.
    var request: RoundOutputs.Summary.Request?
    /// Records each party counted (in the request's scope).
    var recordsPerParty: [String: Int]

    /// The summary of a local federation's run; `total` is the command's whole time.
    init(_ report: LocalFederation.Report, noNoise: Bool, total: Double, outputFolder: URL, kits: String?) {
        let manifest = report.manifest
        let result = report.result
        federation = manifest.name
        mode = manifest.crypto.mode.rawValue
        parties = report.parties
        threshold = manifest.threshold
        contributors = result.contributors
        dropped = result.dropped.map { "party \($0.party) at \($0.phase.rawValue): \($0.reason)" }
        keyBits = report.provisioning.keyBits
        keyFingerprint = result.keyFingerprint
        privacy = Self.privacyLine(report.summary.privacyCost, mechanism: manifest.privacy.mechanism.rawValue)
        self.noNoise = noNoise
        noise = report.summary.noise
        againstClear = report.againstClear
        seconds = .init(
            provisioning: report.provisioningSeconds, localAttention: report.localAttentionSeconds,
            phases: report.round.phaseSeconds.filter { $0.phase != .done && $0.phase != .aborted }
                .map { .init(phase: $0.phase.rawValue, seconds: $0.seconds) },
            total: total, keyDealing: report.provisioning.dealingSeconds)
        bytesPerParty = report.parties.map { .init(party: $0, sent: report.round.bytesSent[$0] ?? 0, received: report.round.bytesReceived[$0] ?? 0) }
        partyNotes = report.partyNotes.map { "party \($0.key): \($0.value)" }.sorted()
        self.outputFolder = outputFolder.standardizedFileURL.path
        outputs = RoundOutputs.fileNames + [LocalFederation.clearFile]
        ledgerEntryID = result.ledgerEntryID
        self.kits = kits
        catalogWorlds = report.catalogWorlds
        request = report.summary.request
        recordsPerParty = Dictionary(uniqueKeysWithValues: report.contributions.map { ("party-\($0.key)", $0.value.report.recordsUsed) })
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

    var text: String {
        func list(_ ids: [Int]) -> String { ids.map(String.init).joined(separator: ", ") }
        var lines: [String] = []
        lines.append(
            "Simulated federation \(federation): \(parties.count) parties (\(list(parties))), threshold \(threshold), mode \(mode)"
                + (mode == "paillier" ? ", \(keyBits.map { "\($0)-bit" } ?? "?") threshold Paillier key" : ""))
        lines.append("Transport: gRPC over HTTP/2 on loopback, mutual TLS with a temporary federation CA")
        if let request {
            let filters = [
                request.text.map { "text \"\($0)\"" }, request.where.map { "where " + $0.joined(separator: ", ") },
                request.from.map { "from \($0)" }, request.to.map { "to \($0)" },
                request.near.map { "within \(request.radius ?? 0) of \($0.map { "\($0)" }.joined(separator: ","))" },
                request.within.map { "inside \($0.map { "\($0)" }.joined(separator: ","))" },
            ].compactMap { $0 }
            let counted = recordsPerParty.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            lines.append("Request \(request.id) (analyst \(request.analyst)): \(filters.joined(separator: "; ")); records counted: \(counted)")
        }
        lines.append("Contributors: \(list(contributors))" + (dropped.isEmpty ? "" : "; dropped: " + dropped.joined(separator: "; ")))
        lines.append("Privacy cost: \(privacy)" + (noNoise ? " — NO NOISE ADDED (--no-noise; recorded in result.json)" : ""))
        if let noise, !noNoise {
            lines.append("Noise: \(noise.summaryLine)")
            if let warning = noise.warning { lines.append("WARNING: \(warning)") }
        }
        lines.append(
            "Against the clear sum (only a simulation holds every party's data; in \(againstClear.file)): relative error "
                + String(format: "%.1f %% post-processed, %.1f %% raw (Frobenius norm)", againstClear.postProcessed * 100, againstClear.raw * 100))
        lines.append(
            "Release: attention.csv and counts.csv are post-processed (non-negative, each row summing to its count; "
                + "no privacy cost); the raw unbiased release is in attention-raw.csv and counts-raw.csv")
        var timing = String(format: "Time: provisioning %.1f s", seconds.provisioning)
        if let dealing = seconds.keyDealing { timing += String(format: " (key dealing %.1f s)", dealing) }
        timing += String(format: ", local attention %.2f s", seconds.localAttention)
        for phase in seconds.phases { timing += String(format: ", %@ %.2f s", phase.phase, phase.seconds) }
        timing += String(format: "; total %.1f s", seconds.total)
        lines.append(timing)
        if !partyNotes.isEmpty { lines.append("Parties: " + partyNotes.joined(separator: "; ")) }
        if let catalogWorlds {
            lines.append(
                "Catalog: the federation directory holds "
                    + catalogWorlds.sorted { $0.key < $1.key }
                    .map { "\($0.value) entries of \($0.key)" }.joined(separator: ", ") + " (published, signed, on joining)")
        }
        lines.append("Outputs: \(outputFolder)/ (\(outputs.joined(separator: ", ")))")
        if let kits { lines.append("Temporary kits and ledgers kept in \(kits)") }
        return lines.joined(separator: "\n")
    }
}

extension LocalFederation {
    /// Runs the federation, with progress on a terminal unless `json`, and prints the summary
    /// (JSON or text) on standard output.
    /// - Parameters:
    ///   - start: when the command started (the summary's total time counts from it).
    ///   - kits: the kept kits' folder, to mention in the summary.
    func runPrintingSummary(json: Bool, start: ContinuousClock.Instant, kits: String?) async throws {
        let display = LocalFederationProgress(enabled: !json)
        defer { display.finish() }
        let report = try await run { display.show($0) }
        display.finish()
        let total = ContinuousClock.now - start
        let view = SimulationSummary(
            report, noNoise: configuration.noNoise,
            total: Double(total.components.seconds) + Double(total.components.attoseconds) * 1e-18,
            outputFolder: configuration.outputFolder, kits: kits)
        if json { try printJSON(view) } else { print(view.text) }
    }
}
