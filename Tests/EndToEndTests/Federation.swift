import DifferentialPrivacy
import Federation
import FederationProtocol
import Foundation
import Testing

/// The phases a party reports (`{"event":"phase","detail":…}`) in each mode, in order.
func roundPhases(_ mode: String) -> [String] {
    mode == "paillier" ? ["join", "contribute", "decrypt"] : ["join", "advertise", "share", "contribute", "check", "unmask"]
}

/// One provisioned federation (a copy of Examples/three-worlds with 2048-bit keys in `mode`),
/// provisioned once and reused by every case: kits, data and the clear sum of the three parties'
/// `fedshare attention` runs.
struct ProvisionedFederation: Sendable {
    let mode: String
    let folder: URL
    let manifest: URL
    let kits: URL
    let data: [Int: URL]
    /// Each party's `fedshare attention` output (attention values then counts, as released).
    let clear: [Int: [Double]]
    let name = "three-worlds"
    let threshold = 2

    func kit(_ party: Int) -> URL { kits.appendingPathComponent("party-\(party)") }
    var aggregatorKit: URL { kits.appendingPathComponent("aggregator") }

    /// The clear sum over `parties` (attention values then counts).
    func clearSum(of parties: [Int]) -> [Double] {
        var sum = [Double](repeating: 0, count: clear[parties[0]]!.count)
        for party in parties { for (i, value) in clear[party]!.enumerated() { sum[i] += value } }
        return sum
    }
}

/// Provisions each mode's federation once per test run.
actor Federations {
    static let shared = Federations()
    /// One provisioning per key; suites running in parallel that ask for the same one while it is
    /// still being made wait for it (the actor is re-entered at the `await`).
    private var provisioned: [String: Task<ProvisionedFederation, any Error>] = [:]
    let root: URL

    init() {
        let temporary = FileManager.default.temporaryDirectory
        // Kits of earlier runs (a few hundred KB each) go once they are an hour old.
        let old = Date().addingTimeInterval(-3600)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] where name.hasPrefix("fedshare-e2e-") {
            let url = temporary.appendingPathComponent(name)
            if let modified = try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate, modified < old {
                try? FileManager.default.removeItem(at: url)
            }
        }
        root = temporary.appendingPathComponent("fedshare-e2e-\(UUID().uuidString)", isDirectory: true)
    }

    func federation(_ mode: String) async throws -> ProvisionedFederation {
        try await provisioning(mode, key: mode)
    }

    /// A second federation with the same manifest but its own CA (and key): its kits belong to no one here.
    func foreign(_ mode: String) async throws -> ProvisionedFederation {
        try await provisioning(mode, key: "foreign-" + mode)
    }

    private func provisioning(_ mode: String, key: String) async throws -> ProvisionedFederation {
        if let task = provisioned[key] { return try await task.value }
        let folder = root.appendingPathComponent(key, isDirectory: true)
        let task = Task { try await Self.provision(mode: mode, in: folder) }
        provisioned[key] = task
        return try await task.value
    }

    static func provision(mode: String, in folder: URL) async throws -> ProvisionedFederation {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let example = packageRoot.appendingPathComponent("Examples/three-worlds")
        for file in ["anchors.csv", "capacities.csv", "world-1.csv", "world-2.csv", "world-3.csv"] {
            try FileManager.default.copyItem(at: example.appendingPathComponent(file), to: folder.appendingPathComponent(file))
        }
        var text = try String(contentsOf: example.appendingPathComponent("manifest.toml"), encoding: .utf8)
        text = text.replacingOccurrences(of: "mode = \"paillier\"", with: "mode = \"\(mode)\"")
        text = text.replacingOccurrences(of: "key_bits = 3072", with: "key_bits = 2048")
        #expect(text.contains("mode = \"\(mode)\"") && text.contains("key_bits = 2048"), "the example manifest changed shape")
        let manifest = folder.appendingPathComponent("manifest.toml")
        try Data(text.utf8).write(to: manifest)
        let kits = folder.appendingPathComponent("kits")
        let provision = try await runFedshare(
            ["provision", "--manifest", manifest.path, "--out", kits.path, "--json"],
            in: folder, name: "provision", within: 300)
        guard provision.status == 0 else { throw HarnessError("fedshare provision failed: \(provision.stderr)") }
        var data: [Int: URL] = [:]
        var clear: [Int: [Double]] = [:]
        for party in 1...3 {
            let url = folder.appendingPathComponent("world-\(party).csv")
            data[party] = url
            let attention = folder.appendingPathComponent("clear-attention-\(party).csv")
            let counts = folder.appendingPathComponent("clear-counts-\(party).csv")
            let run = try await runFedshare(
                [
                    "attention", "--manifest", manifest.path, "--data", url.path, "--out", attention.path,
                    "--counts", counts.path,
                ], in: folder, name: "attention-\(party)")
            guard run.status == 0 else { throw HarnessError("fedshare attention failed: \(run.stderr)") }
            clear[party] = try readReleased(attention: attention, counts: counts)
        }
        return ProvisionedFederation(mode: mode, folder: folder, manifest: manifest, kits: kits, data: data, clear: clear)
    }
}

/// The numbers of a labelled CSV (header row and first column skipped).
func csvNumbers(_ url: URL) throws -> [Double] {
    let text = try String(contentsOf: url, encoding: .utf8)
    var values: [Double] = []
    for line in text.split(separator: "\n").dropFirst() {
        for field in line.split(separator: ",").dropFirst() {
            guard let value = Double(field) else { throw HarnessError("\(url.lastPathComponent): '\(field)' is not a number") }
            values.append(value)
        }
    }
    return values
}

/// The raw (unbiased) release: attention-raw.csv values then counts-raw.csv values.
func readReleased(attention: URL, counts: URL) throws -> [Double] {
    try csvNumbers(attention) + csvNumbers(counts)
}

/// One round on 127.0.0.1: an aggregator process on a free port (its own copy of the
/// aggregator kit, so its round store is its own), per-case ledgers and outputs, and the
/// party processes started for it.
final class RoundRun: @unchecked Sendable {
    let federation: ProvisionedFederation
    let folder: URL
    let port: Int
    let aggregator: FedshareProcess
    private(set) var parties: [Int: FedshareProcess] = [:]
    private var others: [FedshareProcess] = []
    private let statusConnection: PartyConnection

    var out: URL { folder.appendingPathComponent("out") }
    var aggregatorLedger: URL { folder.appendingPathComponent("federation-ledger.sqlite") }
    func ledger(_ party: Int) -> URL { folder.appendingPathComponent("ledger-party-\(party).sqlite") }
    var address: String { "127.0.0.1:\(port)" }

    init(
        _ federation: ProvisionedFederation, name: String, joinTimeout: Int = 30, phaseTimeout: Int = 30,
        aggregatorArguments: [String] = []
    ) async throws {
        self.federation = federation
        folder = federation.folder.appendingPathComponent("case-\(name)", isDirectory: true)
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let kit = folder.appendingPathComponent("aggregator-kit")
        try FileManager.default.copyItem(at: federation.aggregatorKit, to: kit)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: kit.appendingPathComponent("key.pem").path)
        port = try freeLoopbackPort()
        aggregator = try FedshareProcess(
            "aggregator",
            arguments: [
                "aggregator", "--kit", kit.path, "--listen", "127.0.0.1:\(port)", "--out", folder.appendingPathComponent("out").path,
                "--ledger", folder.appendingPathComponent("federation-ledger.sqlite").path, "--capacities",
                federation.folder.appendingPathComponent("capacities.csv").path,
                "--join-timeout", "\(joinTimeout)", "--phase-timeout", "\(phaseTimeout)", "--json",
            ] + aggregatorArguments, folder: folder)
        statusConnection = try PartyConnection(
            kit: try FederationKit.load(from: kit), aggregator: HostPort(host: "127.0.0.1", port: port),
            retry: RetryPolicy(giveUpAfter: .seconds(1)))
        let deadline = Date().addingTimeInterval(60)
        while !loopbackPortAccepts(port) {
            guard aggregator.process.isRunning else { throw HarnessError("the aggregator exited: \(aggregator.stderr.suffix(800))") }
            guard Date() < deadline else { throw HarnessError("the aggregator never listened on \(port)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Starts party `id` with its own kit, ledger and `--json`.
    @discardableResult
    func startParty(_ id: Int, _ extraArguments: [String] = []) throws -> FedshareProcess {
        let party = try FedshareProcess(
            "party-\(id)",
            arguments: [
                "party", "--id", "\(id)", "--kit", federation.kit(id).path, "--data", federation.data[id]!.path,
                "--aggregator", address, "--ledger", ledger(id).path, "--retry-for", "20", "--json",
            ] + extraArguments, folder: folder)
        parties[id] = party
        return party
    }

    /// Starts a process that is not one of the round's parties (an intruder).
    func startOther(_ name: String, _ arguments: [String]) throws -> FedshareProcess {
        let process = try FedshareProcess(name, arguments: arguments, folder: folder)
        others.append(process)
        return process
    }

    func status() async throws -> Fedshare_V1_StatusReply { try await statusConnection.status() }

    /// Waits until the aggregator's status satisfies `condition` (or the round is over, or the
    /// aggregator no longer answers).
    func waitForStatus(_ what: String, seconds: Double = 30, _ condition: (Fedshare_V1_StatusReply) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            guard aggregator.process.isRunning else { return }
            // An aggregator that stops answering is shutting down: its round is over.
            guard let reply = try? await status() else { return }
            if reply.currentRound == 0 || condition(reply) { return }
            guard Date() < deadline else { throw HarnessError("the aggregator never reported \(what); last status: \(reply)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until the aggregator has what `party` sent for `phase` (or moved past it).
    func waitUntilAnswered(_ party: Int, _ phase: String) async throws {
        let order = roundPhases(federation.mode)
        let wanted = order.firstIndex(of: phase) ?? 0
        try await waitForStatus("party \(party) answering \(phase)") { reply in
            let current = RoundPhase(wire: reply.phase).rawValue
            guard let index = order.firstIndex(of: current) else { return true }
            return index > wanted || (index == wanted && !reply.waitingFor.contains(UInt32(party)))
        }
    }

    /// Waits until `party` reported `phase` or, in Paillier's decrypt phase (where only the
    /// committee of t contributors is asked), until the aggregator is in it without waiting
    /// for `party`: a stand-in, which reports nothing until it is asked.
    func waitForPhaseOrStandBy(_ party: Int, _ phase: String, seconds: Double = 60) async throws {
        let process = try #require(parties[party])
        let deadline = Date().addingTimeInterval(seconds)
        while !process.phases.contains(phase) {
            if federation.mode == "paillier", phase == "decrypt", let reply = try? await status(),
                RoundPhase(wire: reply.phase) == .decrypt, !reply.waitingFor.contains(UInt32(party))
            {
                return
            }
            guard process.process.isRunning, Date() < deadline else {
                throw HarnessError("party \(party) neither reported \(phase) nor stood by within \(Int(seconds)) s; stdout: \(process.stdout.suffix(600))")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// The released summary (result.json), if any.
    func summary() throws -> RoundOutputs.Summary? {
        let url = out.appendingPathComponent("result.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try JSONDecoder().decode(RoundOutputs.Summary.self, from: Data(contentsOf: url))
    }

    func released() throws -> [Double] {
        try readReleased(attention: out.appendingPathComponent("attention-raw.csv"), counts: out.appendingPathComponent("counts-raw.csv"))
    }

    /// A ledger's budget for the federation's dataset, after checking its hash chain.
    func budget(ledger url: URL) throws -> DatasetBudget {
        let ledger = try PrivacyLedger(path: url.path, access: .readOnly)  // an audit: never creates one
        try ledger.verify()
        return try ledger.budget(dataset: federation.name)
    }

    /// "releases/pending" of a ledger, or "none" when the process never created it.
    func ledgerLine(_ url: URL) -> String {
        guard FileManager.default.fileExists(atPath: url.path), let budget = try? budget(ledger: url) else { return "none" }
        return "\(budget.releases) committed/\(budget.pending) pending"
    }

    /// Kills every process still running (after a failure) and removes the case folder when asked.
    func finish(removing: Bool) {
        for process in [aggregator] + Array(parties.values) + others { process.reap() }
        if removing { try? FileManager.default.removeItem(at: folder) }
    }
}

/// The tolerance for a released coordinate against the clear sum: 8 standard deviations of
/// the summed noise shares (each party adds variance σ²/t; `contributors` shares are summed)
/// plus one fixed-point step per contributor.
func noiseBound(_ summary: RoundOutputs.Summary, threshold: Int) -> Double {
    let scale = Double(sign: .plus, exponent: summary.fractionalBits, significand: 1)
    let sigma = summary.privacyCost.noise / scale
    let contributors = Double(summary.partiesContributed.count)
    return 8 * sigma * (contributors / Double(threshold)).squareRoot() + contributors / scale
}
