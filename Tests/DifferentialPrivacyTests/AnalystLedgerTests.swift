import Foundation
import GRDB
import Primitives
import Testing

@testable import DifferentialPrivacy

/// SplitMix64: a small seeded generator, so a failing random sequence can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The ledger's per-analyst caps and spending (issue 14).
@Suite struct AnalystLedgerTests {
    func raw(_ path: String, _ sql: String) throws -> [Row] {
        try DatabaseQueue(path: path).read { db in try Row.fetchAll(db, sql: sql) }
    }

    @Test func theAnalystIsRecordedAndHashed() throws {
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        try ledger.setCap(dataset: "d", epsilon: 1, delta: 0)
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth, round: "1", analyst: "alice")))
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth, round: "2")))
        let reserves = try ledger.history().filter { $0.kind == .reserve }
        #expect(reserves.map(\.analyst) == ["alice", nil])
        // Stored as text, and NULL (not "") for a charge naming no analyst.
        let stored = try raw(path, "SELECT analyst FROM entries WHERE kind = 'reserve' ORDER BY id").map { $0["analyst"] as String? }
        #expect(stored == ["alice", nil])
        // The analyst is part of the hash: the same entry without it hashes differently.
        var withoutAnalyst = reserves[0]
        withoutAnalyst.analyst = nil
        #expect(withoutAnalyst.computeHash() != reserves[0].hash && reserves[0].computeHash() == reserves[0].hash)
        try ledger.verify()
        // A charge decoded from before analysts has none.
        var object = try #require(
            try JSONSerialization.jsonObject(with: try JSONEncoder().encode(PrivacyCharge(dataset: "d", event: tenth, analyst: "x"))) as? [String: Any])
        #expect(object.removeValue(forKey: "analyst") as? String == "x")
        let decoded = try JSONDecoder().decode(PrivacyCharge.self, from: try JSONSerialization.data(withJSONObject: object))
        #expect(decoded.analyst == "" && decoded.event == tenth)
        let again = try JSONDecoder().decode(PrivacyCharge.self, from: try JSONEncoder().encode(PrivacyCharge(dataset: "d", event: tenth, analyst: "bob")))
        #expect(again.analyst == "bob")
    }

    // MARK: Ledgers from before analysts

    /// The entries table and chain head as every ledger before issue 14 made them.
    static let oldSchema = """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            reservation INTEGER,
            dataset TEXT NOT NULL,
            mechanism TEXT, noise REAL, sensitivity REAL, dimension INTEGER, shares INTEGER,
            relation TEXT, unit TEXT, count INTEGER, party TEXT, round TEXT,
            cap_epsilon REAL, cap_delta REAL,
            time TEXT NOT NULL,
            previous_hash TEXT NOT NULL,
            hash TEXT NOT NULL);
        CREATE INDEX entries_dataset ON entries(dataset);
        CREATE TABLE chain_head (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            last_id INTEGER NOT NULL,
            last_hash TEXT NOT NULL);
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
        """

    /// The v1 entry hash, written out independently of the ledger's code: SHA-256 over each
    /// field as 0x01, its UTF-8 length (8 bytes, big-endian), its bytes; or 0x00 when absent.
    static func oldHash(_ fields: [String?]) -> String {
        var bytes: [UInt8] = []
        for field in fields {
            guard let field else {
                bytes.append(0)
                continue
            }
            bytes.append(1)
            withUnsafeBytes(of: UInt64(field.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: field.utf8)
        }
        return SHA256.hash(bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// A ledger as the code before analysts wrote it: a cap, a committed laplace release, a
    /// pending one and a cancelled one, each row hashed the v1 way.
    static func writeOldLedger(at path: String) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal  // as every ledger was
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        try queue.write { db in
            try db.execute(sql: oldSchema)
            var previous = ""
            let time = "2026-11-29T04:00:00.000Z"
            // (kind, reservation, mechanism fields?, cap?)
            let rows: [(String, Int64?, Bool, (Double, Double)?)] = [
                ("cap", nil, false, (1.0, 0.0)), ("reserve", nil, true, nil), ("commit", 2, false, nil),
                ("reserve", nil, true, nil), ("reserve", nil, true, nil), ("cancel", 5, false, nil),
            ]
            for (index, (kind, reservation, isReserve, cap)) in rows.enumerated() {
                let id = Int64(index + 1)
                let fields: [String?] = [
                    "fedshare-privacy-ledger-v1", String(id), kind, reservation.map { String($0) }, "worlds",
                    isReserve ? "laplace" : nil, isReserve ? "10.0" : nil, isReserve ? "1.0" : nil, isReserve ? "1" : nil,
                    isReserve ? "1" : nil, isReserve ? "add_or_remove_one" : nil, isReserve ? "record" : nil,
                    isReserve ? "1" : nil, isReserve ? "1" : nil, isReserve ? "r\(id)" : nil,
                    cap.map { "\($0.0)" }, cap.map { "\($0.1)" }, time, previous,
                ]
                let hash = oldHash(fields)
                try db.execute(
                    sql: """
                        INSERT INTO entries (id, kind, reservation, dataset, mechanism, noise, sensitivity, dimension, shares,
                            relation, unit, count, party, round, cap_epsilon, cap_delta, time, previous_hash, hash)
                        VALUES (?, ?, ?, 'worlds', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        id, kind, reservation, isReserve ? "laplace" : nil, isReserve ? 10.0 : nil, isReserve ? 1.0 : nil,
                        isReserve ? 1 : nil, isReserve ? 1 : nil, isReserve ? "add_or_remove_one" : nil,
                        isReserve ? "record" : nil, isReserve ? 1 : nil, isReserve ? "1" : nil, isReserve ? "r\(id)" : nil,
                        cap?.0, cap?.1, time, previous, hash,
                    ])
                try db.execute(sql: "INSERT OR REPLACE INTO chain_head (singleton, last_id, last_hash) VALUES (1, ?, ?)", arguments: [id, hash])
                previous = hash
            }
        }
    }

    func columns(_ path: String) throws -> [String] {
        try DatabaseQueue(path: path).read { db in try db.columns(in: "entries").map(\.name) }
    }

    @Test func aLedgerFromBeforeAnalystsReadsAndVerifiesReadOnlyWithoutBeingChanged() throws {
        let path = try temporaryLedgerPath()
        try Self.writeOldLedger(at: path)
        let reader = try PrivacyLedger(path: path, access: .readOnly)
        #expect(try reader.verify().entries == 6)
        #expect(try reader.history().allSatisfy { $0.analyst == nil })
        let budget = try reader.budget(dataset: "worlds")
        #expect(budget.releases == 1 && budget.pending == 1 && budget.capEpsilon == 1)
        #expect(try reader.analystBudgets().isEmpty)
        #expect(try reader.preview(PrivacyCharge(dataset: "worlds", event: tenth, analyst: "alice")).allowed)
        #expect(try !columns(path).contains("analyst"))
    }

    @Test(arguments: [PrivacyLedger.Access.existing, .create])
    func aLedgerFromBeforeAnalystsGainsTheColumnAndAcceptsCharges(access: PrivacyLedger.Access) throws {
        let path = try temporaryLedgerPath()
        try Self.writeOldLedger(at: path)
        let (entries, head) = try PrivacyLedger(path: path, access: .readOnly).verify()
        let ledger = try PrivacyLedger(path: path, access: access)
        #expect(try columns(path).last == "analyst")
        // Every old row keeps its hash: the chain still verifies, to the same head.
        let verified = try ledger.verify()
        #expect(verified.entries == entries && verified.headHash == head)
        // Reopening does not add it twice.
        _ = try PrivacyLedger(path: path, access: access)
        try ledger.commit(reservationID: 4)
        try ledger.setAnalystCap(dataset: "worlds", analyst: "alice", epsilon: 0.2, delta: 0)
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "worlds", event: tenth, analyst: "alice")))
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "worlds", event: tenth)))
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "worlds", event: tenth, analyst: "alice")))
        #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(PrivacyCharge(dataset: "worlds", event: tenth, analyst: "alice")) }
        #expect(try ledger.verify().entries == 6 + 1 + 1 + 2 * 3)
        let reopened = try PrivacyLedger(path: path, access: .readOnly)
        try reopened.verify()
        let budget = try reopened.budget(dataset: "worlds")
        #expect(budget.releases == 5 && budget.pending == 0 && abs(budget.spentEpsilon - 0.5) < 1e-12)
        let alice = try #require(try reopened.analystBudgets().first)
        #expect(alice.analyst == "alice" && alice.releases == 2 && abs(alice.spentEpsilon - 0.2) < 1e-12)
    }

    // MARK: Caps

    @Test func anAnalystCapRefusesItsAnalystOnly() throws {
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        try ledger.setCap(dataset: "d", epsilon: 1, delta: 0)
        try ledger.setCap(dataset: "e", epsilon: 1, delta: 0)
        try ledger.setAnalystCap(dataset: "d", analyst: "alice", epsilon: 0.3, delta: 0)
        let cap = try #require(try ledger.analystCap(dataset: "d", analyst: "alice"))
        #expect(cap.epsilon == 0.3 && cap.delta == 0)
        #expect(try ledger.analystCap(dataset: "d", analyst: "bob") == nil)
        #expect(try ledger.analystCap(dataset: "e", analyst: "alice") == nil)
        // The dataset's own cap is untouched.
        #expect(try ledger.budget(dataset: "d").capEpsilon == 1)

        func charge(_ analyst: String, _ dataset: String = "d") -> PrivacyCharge { PrivacyCharge(dataset: dataset, event: tenth, analyst: analyst) }
        let a = try ledger.reserve(charge("alice"))
        #expect(a.analystSpendAfter?.epsilon == 0.1 && a.spendAfter.epsilon == 0.1)
        try ledger.commit(a)
        try ledger.commit(try ledger.reserve(charge("alice")))
        let pending = try ledger.reserve(charge("alice"))  // 0.3: exactly the cap, pending
        #expect(pending.analystSpendAfter?.epsilon == 0.3 && pending.analystSpendAfter?.accountant == .basic)

        let preview = try ledger.preview(charge("alice"))
        #expect(!preview.allowed && preview.datasetAllowed && preview.analystAllowed == false)
        #expect(preview.analyst == "alice" && preview.analystCapEpsilon == 0.3 && preview.analystCapDelta == 0)
        #expect(abs((preview.analystAfter?.epsilon ?? 0) - 0.4) < 1e-12)
        let error = #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(charge("alice")) }
        guard case .analystCapExceeded(let dataset, let analyst, let epsilon, _, let capEpsilon, let capDelta, let spent)? = error else {
            Issue.record("expected analystCapExceeded, got \(String(describing: error))")
            return
        }
        #expect(dataset == "d" && analyst == "alice" && capEpsilon == 0.3 && capDelta == 0)
        #expect(abs(epsilon - 0.4) < 1e-12 && abs(spent - 0.3) < 1e-12)
        #expect(error!.description.contains("refused for analyst alice") && error!.description.contains("analyst alice's cap ε = 0.3"), "\(error!)")

        // Another analyst, no analyst, and alice elsewhere are only held to the dataset's cap.
        let bobPreview = try ledger.preview(charge("bob"))
        #expect(bobPreview.allowed && bobPreview.analystAllowed == nil && bobPreview.analystCapEpsilon == nil)
        #expect(abs((bobPreview.analystAfter?.epsilon ?? 0) - 0.1) < 1e-12)
        let nobody = try ledger.preview(charge(""))
        #expect(nobody.allowed && nobody.analyst == nil && nobody.analystAfter == nil)
        for _ in 0..<3 { try ledger.commit(try ledger.reserve(charge("bob"))) }
        try ledger.commit(try ledger.reserve(charge("")))
        try ledger.commit(try ledger.reserve(charge("alice", "e")))

        // Cancelling alice's pending reservation returns her budget.
        try ledger.cancel(pending)
        #expect(try ledger.preview(charge("alice")).allowed)
        try ledger.commit(try ledger.reserve(charge("alice")))
        // 0.1 × 7 held on d: the dataset's cap refuses before alice's would (bob's would fit).
        for _ in 0..<3 { try ledger.commit(try ledger.reserve(charge(""))) }
        let full = #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(charge("bob")) }
        guard case .capExceeded(let fullDataset, _, _, let fullCap, _, let fullSpent)? = full else {
            Issue.record("expected capExceeded, got \(String(describing: full))")
            return
        }
        #expect(fullDataset == "d" && fullCap == 1 && abs(fullSpent - 1) < 1e-12)
        let previewFull = try ledger.preview(charge("alice"))
        #expect(!previewFull.allowed && !previewFull.datasetAllowed && previewFull.analystAllowed == false)

        // Raising alice's cap is a new entry; lowering it never erases her spending.
        try ledger.setAnalystCap(dataset: "d", analyst: "alice", epsilon: 0.1, delta: 0)
        let alice = try #require(try ledger.analystBudgets(dataset: "d").first { $0.analyst == "alice" })
        #expect(alice.capEpsilon == 0.1 && abs(alice.spentEpsilon - 0.3) < 1e-12 && alice.remainingEpsilon == 0)
        try ledger.verify()
    }

    @Test func analystCapsAreValidated() throws {
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        for (analyst, epsilon, delta) in [("", 1.0, 0.0), ("alice", -1, 0), ("alice", .nan, 0), ("alice", 1, 1), ("alice", .infinity, 0)] {
            #expect(throws: DifferentialPrivacyError.self) { try ledger.setAnalystCap(dataset: "d", analyst: analyst, epsilon: epsilon, delta: delta) }
        }
        #expect(throws: DifferentialPrivacyError.self) { try ledger.setAnalystCap(dataset: "", analyst: "alice", epsilon: 1, delta: 0) }
        #expect(try ledger.history().isEmpty)
    }

    @Test func gaussianAnalystCapsUseTheirOwnDelta() throws {
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        let g = MechanismEvent(mechanism: .gaussian, noise: 2, sensitivity: 1)
        let one = try PrivacyAccountant.spend(of: [g], delta: 1e-6, accountant: .best).epsilon
        let two = try PrivacyAccountant.spend(of: [g, g], delta: 1e-6, accountant: .best).epsilon
        try ledger.setCap(dataset: "d", epsilon: 100, delta: 1e-5)
        try ledger.setAnalystCap(dataset: "d", analyst: "alice", epsilon: (one + two) / 2, delta: 1e-6)
        let first = try ledger.reserve(PrivacyCharge(dataset: "d", event: g, analyst: "alice"))
        #expect(abs((first.analystSpendAfter?.epsilon ?? 0) - one) < 1e-9 && first.analystSpendAfter?.delta == 1e-6)
        try ledger.commit(first)
        #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(PrivacyCharge(dataset: "d", event: g, analyst: "alice")) }
        let budget = try #require(try ledger.analystBudgets().first)
        #expect(budget.delta == 1e-6 && abs(budget.spentEpsilon - one) < 1e-9 && budget.accountant != nil)
    }

    // MARK: Budgets

    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func analystBudgetsMatchARecomputation(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        let datasets = ["d1", "d2"]
        let analysts = ["alice", "bob", "carol", ""]
        let caps: [String: Double] = ["d1": 1e-5, "d2": 1e-6]
        for dataset in datasets { try ledger.setCap(dataset: dataset, epsilon: 1e6, delta: caps[dataset]!) }
        // alice has a (generous) cap on d1, with its own δ.
        try ledger.setAnalystCap(dataset: "d1", analyst: "alice", epsilon: 1e5, delta: 2e-6)
        try ledger.setAnalystCap(dataset: "d2", analyst: "dora", epsilon: 1, delta: 1e-7)  // a cap, no charges
        struct Charge {
            var dataset: String
            var analyst: String
            var event: MechanismEvent
            var state: Int  // 0 pending, 1 committed, 2 cancelled
            var id: Int64
        }
        var charges: [Charge] = []
        let events = [
            MechanismEvent(mechanism: .laplace, noise: 10, sensitivity: 1),
            MechanismEvent(mechanism: .laplace, noise: 4, sensitivity: 1, count: 2),
            MechanismEvent(mechanism: .gaussian, noise: 3, sensitivity: 1),
            MechanismEvent(mechanism: .gaussian, noise: 5, sensitivity: 1, count: 3),
        ]
        for _ in 0..<30 {
            let dataset = datasets.randomElement(using: &random)!
            let analyst = analysts.randomElement(using: &random)!
            let event = events.randomElement(using: &random)!
            let reservation = try ledger.reserve(PrivacyCharge(dataset: dataset, event: event, analyst: analyst))
            charges.append(Charge(dataset: dataset, analyst: analyst, event: event, state: 0, id: reservation.id))
            // Settle a random earlier pending reservation now and then.
            if Bool.random(using: &random), let index = charges.indices.filter({ charges[$0].state == 0 }).randomElement(using: &random) {
                if Int.random(in: 0..<4, using: &random) == 0 {
                    try ledger.cancel(reservationID: charges[index].id)
                    charges[index].state = 2
                } else {
                    try ledger.commit(reservationID: charges[index].id)
                    charges[index].state = 1
                }
            }
        }
        func spend(_ events: [MechanismEvent], _ delta: Double) throws -> Double {
            events.isEmpty ? 0 : try PrivacyAccountant.spend(of: events, delta: delta, accountant: .best).epsilon
        }
        var expected: [AnalystBudget] = []
        for dataset in datasets {
            var named = Set(charges.filter { $0.dataset == dataset && !$0.analyst.isEmpty }.map(\.analyst))
            if dataset == "d1" { named.insert("alice") }
            if dataset == "d2" { named.insert("dora") }
            for analyst in named.sorted() {
                let cap: (Double, Double)? = dataset == "d1" && analyst == "alice" ? (1e5, 2e-6) : dataset == "d2" && analyst == "dora" ? (1, 1e-7) : nil
                let delta = cap?.1 ?? caps[dataset]!
                let mine = charges.filter { $0.dataset == dataset && $0.analyst == analyst }
                let committed = mine.filter { $0.state == 1 }.map(\.event)
                let held = mine.filter { $0.state != 2 }.map(\.event)
                let heldEpsilon = try spend(held, delta)
                expected.append(
                    AnalystBudget(
                        dataset: dataset, analyst: analyst, capEpsilon: cap?.0, capDelta: cap?.1, spentEpsilon: try spend(committed, delta),
                        heldEpsilon: heldEpsilon, remainingEpsilon: cap.map { max(0, $0.0 - heldEpsilon) }, delta: delta,
                        releases: committed.reduce(0) { $0 + $1.count }, pending: mine.filter { $0.state == 0 }.count,
                        lastRelease: nil, accountant: nil))
            }
        }
        let budgets = try ledger.analystBudgets()
        #expect(budgets.map { "\($0.dataset)/\($0.analyst)" } == expected.map { "\($0.dataset)/\($0.analyst)" })
        for (actual, wanted) in zip(budgets, expected) {
            let label = "seed \(seed) \(actual.dataset)/\(actual.analyst)"
            #expect(abs(actual.spentEpsilon - wanted.spentEpsilon) <= 1e-9 * max(1, wanted.spentEpsilon), "\(label): \(actual) vs \(wanted)")
            #expect(abs(actual.heldEpsilon - wanted.heldEpsilon) <= 1e-9 * max(1, wanted.heldEpsilon), "\(label)")
            #expect(actual.releases == wanted.releases && actual.pending == wanted.pending, "\(label)")
            #expect(actual.capEpsilon == wanted.capEpsilon && actual.capDelta == wanted.capDelta && actual.delta == wanted.delta, "\(label)")
            #expect((actual.lastRelease != nil) == (wanted.releases > 0) && (actual.accountant != nil) == (wanted.releases > 0), "\(label)")
        }
        #expect(try ledger.analystBudgets(dataset: "d2").map(\.dataset).allSatisfy { $0 == "d2" })
        #expect(try ledger.analystBudgets(dataset: "none").isEmpty)
        // Every release is someone's or no one's: the dataset's releases are the sum over analysts and the unnamed.
        for dataset in datasets {
            let unnamed = charges.filter { $0.dataset == dataset && $0.analyst.isEmpty && $0.state == 1 }.reduce(0) { $0 + $1.event.count }
            let named = budgets.filter { $0.dataset == dataset }.reduce(0) { $0 + $1.releases }
            #expect(try ledger.budget(dataset: dataset).releases == named + unnamed)
        }
        try ledger.verify()
    }

    // MARK: Tampering

    @Test(arguments: [
        "UPDATE entries SET analyst = 'bob' WHERE analyst = 'alice' AND kind = 'reserve'",
        "UPDATE entries SET analyst = NULL WHERE analyst = 'alice' AND kind = 'reserve'",
        "UPDATE entries SET analyst = '' WHERE analyst = 'alice' AND kind = 'reserve'",
        "UPDATE entries SET analyst = 'alice' WHERE id = 5",
        "UPDATE entries SET analyst = NULL WHERE kind = 'cap' AND analyst = 'alice'",
        "UPDATE entries SET analyst = 'alice' WHERE id = 1",
    ])
    func editingTheAnalystIsDetected(sql: String) throws {
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        try ledger.setCap(dataset: "d", epsilon: 1, delta: 0)  // 1
        try ledger.setAnalystCap(dataset: "d", analyst: "alice", epsilon: 0.5, delta: 0)  // 2
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth, analyst: "alice")))  // 3, 4
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth)))  // 5, 6
        try ledger.verify()
        try LedgerTests().tamper(path, sql)
        let error = #expect(throws: DifferentialPrivacyError.self) { try ledger.verify() }
        guard case .brokenChain(_, let reason)? = error else {
            Issue.record("expected a broken chain, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("edited"))
        #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth, analyst: "bob")) }
    }
}

/// `fedshare budget --analyst / --by-analyst` in a separate process.
@Suite struct AnalystBudgetCommandTests {
    func budget(_ path: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        return try await LedgerAccessTests().runFedshare(executable, ["budget", "--ledger", path] + arguments)
    }

    static let release = ["--mechanism", "laplace", "--noise", "10", "--sensitivity", "1"]

    @Test func chargesCapsAndSpendingByAnalyst() async throws {
        let path = try temporaryLedgerPath()
        #expect(try await budget(path, ["--set-cap", "worlds", "--epsilon", "1", "--delta", "0"]).status == 0)
        let empty = try await budget(path, ["--by-analyst"])
        #expect(empty.status == 0 && empty.stdout == "\(path): no analysts (no charge or cap names one)\n", "\(empty)")
        #expect(try await budget(path, ["--by-analyst", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")

        let cap = try await budget(path, ["--set-cap", "worlds", "--analyst", "alice", "--epsilon", "0.2", "--delta", "0"])
        #expect(cap.status == 0 && cap.stdout.contains("cap of analyst alice on 'worlds' set to ε = 0.2, δ = 0.0"), "\(cap)")
        for _ in 0..<2 {
            let charged = try await budget(path, ["--charge", "worlds", "--analyst", "alice"] + Self.release)
            #expect(charged.status == 0 && charged.stdout.contains("for analyst alice; analyst alice spent ε = "), "\(charged)")
        }
        let refused = try await budget(path, ["--charge", "worlds", "--analyst", "alice"] + Self.release)
        #expect(refused.status != 0 && refused.stderr.contains("refused for analyst alice"), "\(refused)")
        let preview = try await budget(path, ["--preview", "--analyst", "alice"] + Self.release)
        #expect(preview.status == 1 && preview.stdout.contains("analyst alice with what is held") && preview.stdout.contains("REFUSED"), "\(preview)")
        let bobPreview = try await budget(path, ["--preview", "--analyst", "bob", "--json"] + Self.release)
        #expect(bobPreview.status == 0, "\(bobPreview)")
        let bobJSON = try #require(try JSONSerialization.jsonObject(with: Data(bobPreview.stdout.utf8)) as? [String: Any])
        #expect(bobJSON["allowed"] as? Bool == true && bobJSON["analyst"] as? String == "bob" && bobJSON["analystAllowed"] == nil)
        #expect(try await budget(path, ["--charge", "worlds", "--analyst", "bob"] + Self.release).status == 0)
        #expect(try await budget(path, ["--charge", "worlds"] + Self.release).status == 0)

        let table = try await budget(path, ["--by-analyst"])
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(table.status == 0 && lines.count == 3, "\(table)")
        #expect(lines.first?.hasPrefix("dataset") == true && lines.first?.contains("analyst") == true && lines.first?.contains("last release") == true)
        #expect(lines.dropFirst().first?.hasPrefix("worlds   alice    0.2 ") == true, "\(table.stdout)")
        #expect(lines.dropFirst().first?.contains("ε = 0.2, δ = 0.0") == true, "\(table.stdout)")
        #expect(lines.last?.hasPrefix("worlds   bob      0.1 ") == true, "\(table.stdout)")

        let json = try await budget(path, ["--by-analyst", "--json"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(rows.map { $0["analyst"] as? String } == ["alice", "bob"])
        #expect(rows[0]["releases"] as? Int == 2 && rows[0]["capEpsilon"] as? Double == 0.2 && rows[0]["spentEpsilon"] as? Double == 0.2)
        #expect(rows[1]["releases"] as? Int == 1 && rows[1]["capEpsilon"] == nil && rows[1]["lastRelease"] as? String != nil)
        let other = try await budget(path, ["--by-analyst", "--dataset", "other"])
        #expect(other.stdout.contains("no analysts on 'other'"), "\(other)")

        let history = try await budget(path, ["--history"])
        #expect(history.stdout.contains("for analyst alice") && history.stdout.contains(" analyst bob"), "\(history)")
        #expect(try await budget(path, ["--verify"]).status == 0)
    }

    @Test(arguments: [
        (["--by-analyst", "--verify"], "choose one of"),
        (["--analyst", "alice"], "--analyst goes with --charge, --preview or --set-cap"),
        (["--charge", "worlds", "--analyst", "Alice"] + AnalystBudgetCommandTests.release, "--analyst: expected an analyst name"),
    ])
    func badArgumentsAreRefused(arguments: [String], expected: String) async throws {
        let path = try temporaryLedgerPath()
        let result = try await budget(path, arguments)
        #expect(result.status != 0 && result.stderr.contains(expected), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
