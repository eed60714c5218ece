import Attention
import DifferentialPrivacy
import Foundation
import Manifest
import Paillier
import Primitives

@testable import Federation

/// A fresh temporary folder, removed when released.
final class TemporaryFolder: @unchecked Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-federation-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

let examplesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Examples", isDirectory: true)
let threeWorlds = examplesDirectory.appendingPathComponent("three-worlds", isDirectory: true)

/// The three-worlds manifest with another party list, threshold, mode and budget, in `folder`.
func makeManifest(
    in folder: TemporaryFolder, parties: Int, threshold: Int, mode: String,
    mechanism: String = "gaussian", epsilonBudget: Double = 4.0, partyIDs: [Int]? = nil,
    fractionalBits: Int? = 32
) throws -> FederationManifest {
    try FileManager.default.copyItem(at: threeWorlds.appendingPathComponent("anchors.csv"), to: folder.url.appendingPathComponent("anchors.csv"))
    let text = """
        [federation]
        name = "test-federation"
        parties = [\((partyIDs ?? Array(1...parties)).map(String.init).joined(separator: ", "))]
        threshold = \(threshold)
        aggregator = "127.0.0.1:7443"

        [attention]
        anchors = "anchors.csv"
        groups = ["explorers", "creators", "traders"]
        features = ["sports", "music", "fashion", "gaming"]
        group_column = "segment"
        user_column = "user"
        max_records_per_user = 3

        [privacy]
        mechanism = "\(mechanism)"
        epsilon = 1.0
        delta = 1e-6
        unit = "user"
        epsilon_budget = \(epsilonBudget)
        delta_budget = 1e-5

        [crypto]
        mode = "\(mode)"
        key_bits = 3072
        \(fractionalBits.map { "fractional_bits = \($0)" } ?? "# fractional_bits: automatic")
        """
    let url = folder.url.appendingPathComponent(
        "manifest-\(mode)-\(parties)\(fractionalBits == 32 ? "" : "-f\(fractionalBits.map(String.init) ?? "auto")").toml")
    try Data(text.utf8).write(to: url)
    return try FederationManifest.load(from: url)
}

/// Small test-only threshold keys (512-bit, dealt once per (t, n) and cached).
final class TestKeys: @unchecked Sendable {
    static let shared = TestKeys()
    private let lock = NSLock()
    private var cache: [String: ThresholdDealer.Dealing] = [:]

    func dealing(threshold: Int, parties: Int) throws -> ThresholdDealer.Dealing {
        lock.lock()
        defer { lock.unlock() }
        if let cached = cache["\(threshold)/\(parties)"] { return cached }
        var random = SeededRandom(seed: UInt64(100 * threshold + parties))
        let dealing = try ThresholdDealer.deal(bits: 512, threshold: threshold, parties: parties, policy: .insecureTestOnly, using: &random)
        cache["\(threshold)/\(parties)"] = dealing
        return dealing
    }
}

/// Local attention for each party: the bundled worlds for 1...3, synthetic rows beyond.
func contributions(manifest: FederationManifest, parties: Int) throws -> [Int: AttentionResult] {
    var results: [Int: AttentionResult] = [:]
    var random = SeededRandom(seed: 7)
    for party in 1...parties {
        if party <= 3 {
            results[party] = try LocalAttention.compute(
                manifest: manifest, dataURL: threeWorlds.appendingPathComponent("world-\(party).csv"), options: .init(), using: &random)
        } else {
            let g = manifest.attention.groups.count
            let m = manifest.model.anchorNames.count
            var matrix = [Double](repeating: 0, count: g * m)
            var counts = [Int](repeating: 0, count: g)
            for _ in 0..<(5 + party) {
                let group = Int(random.next() % UInt64(g))
                let weights = (0..<m).map { _ in Double(random.next() % 1000 + 1) }
                let total = weights.reduce(0, +)
                for a in 0..<m { matrix[group * m + a] += weights[a] / total }
                counts[group] += 1
            }
            results[party] = AttentionResult(groups: manifest.attention.groups, anchors: manifest.model.anchorNames, matrix: matrix, counts: counts)
        }
    }
    return results
}

/// A federation ready to run in memory, with fresh ledgers in `folder`.
struct Harness {
    let folder: TemporaryFolder
    let manifest: FederationManifest
    let data: [Int: AttentionResult]
    let dealing: ThresholdDealer.Dealing?
    let aggregatorLedger: PrivacyLedger
    let partyLedgers: [Int: PrivacyLedger]
    let store: RoundStore
    /// The federation's certificates (each party signs with its own).
    let pki: EphemeralFederationPKI

    init(
        parties: Int, threshold: Int, mode: String, mechanism: String = "gaussian", epsilonBudget: Double = 4.0,
        fractionalBits: Int? = 32
    ) throws {
        folder = try TemporaryFolder()
        manifest = try makeManifest(
            in: folder, parties: parties, threshold: threshold, mode: mode, mechanism: mechanism,
            epsilonBudget: epsilonBudget, fractionalBits: fractionalBits)
        data = try contributions(manifest: manifest, parties: parties)
        dealing = mode == "paillier" ? try TestKeys.shared.dealing(threshold: threshold, parties: parties) : nil
        aggregatorLedger = try PrivacyLedger(path: folder.path("federation-ledger.sqlite"))
        var ledgers: [Int: PrivacyLedger] = [:]
        for party in 1...parties { ledgers[party] = try PrivacyLedger(path: folder.path("party-\(party)-ledger.sqlite")) }
        partyLedgers = ledgers
        store = try RoundStore(path: folder.path("rounds.sqlite"))
        pki = try EphemeralFederationPKI(federation: manifest.name, parties: Array(1...parties))
    }

    func credentials(_ party: Int) throws -> PartyCredentials { try pki.credentials(party: party) }

    func federation(drops: [Int: RoundPhase] = [:], noNoise: Bool = true) throws -> InMemoryFederation {
        let parties = data.keys.sorted().map { id in
            InMemoryFederation.Party(
                id: id, contribution: data[id]!, ledger: partyLedgers[id]!,
                keyShare: dealing?.shares[id - 1])
        }
        return try InMemoryFederation(
            manifest: manifest, parties: parties, publicKey: dealing?.publicKey,
            aggregatorLedger: aggregatorLedger, store: store, drops: drops, noNoise: noNoise, pki: pki)
    }

    func run(drops: [Int: RoundPhase] = [:], noNoise: Bool = true) throws -> InMemoryFederation.Report {
        var random = SeededRandom(seed: 42)
        return try federation(drops: drops, noNoise: noNoise).run(using: &random)
    }

    /// The clear sum of the given parties' local attention and counts.
    func clearSum(of parties: [Int]) -> (matrix: [Double], counts: [Int]) {
        let first = data[parties[0]]!
        var matrix = [Double](repeating: 0, count: first.matrix.count)
        var counts = [Int](repeating: 0, count: first.counts.count)
        for party in parties {
            for (i, v) in data[party]!.matrix.enumerated() { matrix[i] += v }
            for (i, c) in data[party]!.counts.enumerated() { counts[i] += c }
        }
        return (matrix, counts)
    }
}

extension RoundEngine {
    /// One input, and its effects performed by `bookkeeper` as the runtimes do; returns the
    /// messages that may leave (tests that drive the engines by hand).
    mutating func step<G: RandomNumberGenerator>(
        _ bookkeeper: RoundBookkeeper, using generator: inout G,
        _ input: (inout Self, inout G) -> [RoundEffect<Message>]
    ) -> [Message] {
        let effects = input(&self, &generator)
        return bookkeeper.perform(effects, on: &self, using: &generator)
    }
}

extension AggregatorRound {
    /// ``RoundEngine/step(_:using:_:)`` for the aggregator's inputs, which need no randomness.
    mutating func step(_ bookkeeper: RoundBookkeeper, _ input: (inout AggregatorRound) -> [AggregatorEffect]) -> [OutgoingMessage] {
        var random = SecureRandom()
        return step(bookkeeper, using: &random) { engine, _ in input(&engine) }
    }
}

/// Reserves `plan`'s charge in `ledger` as a runtime does (tests).
func reserveCharge(_ plan: RoundPlan, ledger: PrivacyLedger, party: String, round: UInt64) throws -> Reservation {
    try RoundBookkeeper(ledger: ledger).reserve(plan.charge(party: party, round: round), cap: plan.ledgerCap)
}
