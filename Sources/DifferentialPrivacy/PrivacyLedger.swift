import Arithmetic
import Foundation
import GRDB
import Primitives

/// One charge against a dataset's budget: the mechanism event plus who, what and when.
public struct PrivacyCharge: Sendable, Codable, Hashable {
    public var dataset: String
    public var event: MechanismEvent
    public var relation: NeighbouringRelation
    /// The privacy unit the sensitivity protects ("record", "user", …).
    public var unit: String
    public var party: String
    public var round: String
    /// The analyst the release is for ("": none). A charge naming an analyst is also checked
    /// against that analyst's cap on the dataset, when there is one
    /// (``PrivacyLedger/setAnalystCap(dataset:analyst:epsilon:delta:)``).
    public var analyst: String

    public init(
        dataset: String, event: MechanismEvent, relation: NeighbouringRelation = .addOrRemoveOne,
        unit: String = "record", party: String = "", round: String = "", analyst: String = ""
    ) {
        self.dataset = dataset
        self.event = event
        self.relation = relation
        self.unit = unit
        self.party = party
        self.round = round
        self.analyst = analyst
    }

    enum CodingKeys: String, CodingKey { case dataset, event, relation, unit, party, round, analyst }

    /// Decodes a charge; one encoded before analysts existed has none.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        dataset = try c.decode(String.self, forKey: .dataset)
        event = try c.decode(MechanismEvent.self, forKey: .event)
        relation = try c.decode(NeighbouringRelation.self, forKey: .relation)
        unit = try c.decode(String.self, forKey: .unit)
        party = try c.decode(String.self, forKey: .party)
        round = try c.decode(String.self, forKey: .round)
        analyst = try c.decodeIfPresent(String.self, forKey: .analyst) ?? ""
    }
}

/// A pending charge: budget held until it is committed (before any release) or cancelled
/// (only when provably nothing was released).
public struct Reservation: Sendable, Equatable, Codable {
    public let id: Int64
    public let dataset: String
    /// What the dataset has spent, this reservation included, by the accountant that admitted it.
    public let spendAfter: PrivacySpend
    /// What the charge's analyst has spent on the dataset, this reservation included, by the
    /// accountant that admitted it against the analyst's cap (nil: no analyst, or no cap).
    public let analystSpendAfter: PrivacySpend?

    public init(id: Int64, dataset: String, spendAfter: PrivacySpend, analystSpendAfter: PrivacySpend? = nil) {
        self.id = id
        self.dataset = dataset
        self.spendAfter = spendAfter
        self.analystSpendAfter = analystSpendAfter
    }
}

/// A row of the ledger, as stored.
public struct LedgerEntry: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable { case cap, reserve, commit, cancel }
    public var id: Int64
    public var kind: Kind
    /// For `commit`/`cancel`: the reservation (a `reserve` entry id) it settles.
    public var reservation: Int64?
    public var dataset: String
    public var mechanism: String?
    public var noise: Double?
    public var sensitivity: Double?
    public var dimension: Int?
    public var shares: Int?
    public var relation: String?
    public var unit: String?
    public var count: Int?
    public var party: String?
    public var round: String?
    /// The analyst a `reserve` was for, or whose cap a `cap` entry sets (nil: none, the
    /// dataset's own cap). Absent from ledgers written before analysts existed.
    public var analyst: String?
    public var capEpsilon: Double?
    public var capDelta: Double?
    public var time: String
    public var previousHash: String
    public var hash: String

    /// The SHA-256 of every field but `hash`, each length-prefixed (absent fields marked).
    ///
    /// The analyst, a later field, is hashed after the others and only when present, so every
    /// entry written without one (all those of ledgers from before analysts) keeps its hash.
    func computeHash() -> String {
        var fields: [String?] = [
            "fedshare-privacy-ledger-v1", String(id), kind.rawValue, reservation.map { String($0) }, dataset,
            mechanism, noise?.description, sensitivity?.description, dimension.map { String($0) },
            shares.map { String($0) }, relation, unit, count.map { String($0) }, party, round,
            capEpsilon?.description, capDelta?.description, time, previousHash,
        ]
        if let analyst { fields.append(analyst) }
        var hasher = SHA256.Hasher()
        for field in fields {
            if let field {
                hasher.update([UInt8(1)])
                hasher.updateField(Array(field.utf8))
            } else {
                hasher.update([UInt8(0)])
            }
        }
        return Base16.encode(hasher.finalize())
    }

    /// The mechanism event of a `reserve` entry (unknown kinds refused).
    func mechanismEvent() throws -> MechanismEvent {
        guard let mechanism, let noise, let sensitivity, let dimension, let shares, let count else {
            throw DifferentialPrivacyError.brokenChain(row: id, reason: "reserve entry lacks mechanism fields")
        }
        return MechanismEvent(
            mechanism: try MechanismKind(parsing: mechanism), noise: noise, sensitivity: sensitivity,
            dimension: dimension, shares: shares, count: count)
    }
}

/// A dataset's budget as the ledger records it.
public struct DatasetBudget: Sendable, Codable, Equatable {
    public var dataset: String
    public var capEpsilon: Double?
    public var capDelta: Double?
    /// ε of the committed releases at the cap's δ (1e-6 when no cap is set).
    public var spentEpsilon: Double
    /// ε of committed releases plus pending reservations: what the cap is checked against.
    public var heldEpsilon: Double
    public var remainingEpsilon: Double?
    public var delta: Double
    public var releases: Int
    public var pending: Int
    public var lastRelease: String?
    /// The accountant that gave `spentEpsilon`.
    public var accountant: AccountantKind?
}

/// One analyst's spending on one dataset, as the ledger records it (reservations naming the
/// analyst; ``PrivacyLedger/analystBudgets(dataset:)``).
public struct AnalystBudget: Sendable, Codable, Equatable {
    public var dataset: String
    public var analyst: String
    /// The analyst's cap on this dataset, if one is set.
    public var capEpsilon: Double?
    public var capDelta: Double?
    /// ε of the analyst's committed releases at `delta`, by the same accountant as
    /// ``DatasetBudget/spentEpsilon`` (the best that applies).
    public var spentEpsilon: Double
    /// ε of committed releases plus pending reservations: what the analyst's cap is checked against.
    public var heldEpsilon: Double
    public var remainingEpsilon: Double?
    /// The δ the ε figures are at: the analyst's cap's, else the dataset cap's, else 1e-6.
    public var delta: Double
    /// Releases committed for the analyst (each reservation counts its event's `count`, as
    /// ``DatasetBudget/releases`` does).
    public var releases: Int
    public var pending: Int
    public var lastRelease: String?
    /// The accountant that gave `spentEpsilon` (nil: nothing committed).
    public var accountant: AccountantKind?
}

extension AnalystBudget {
    /// The analyst's figures, computed as a dataset's are (over the analyst's reservations).
    init(analyst: String, _ budget: DatasetBudget) {
        self.init(
            dataset: budget.dataset, analyst: analyst, capEpsilon: budget.capEpsilon, capDelta: budget.capDelta,
            spentEpsilon: budget.spentEpsilon, heldEpsilon: budget.heldEpsilon, remainingEpsilon: budget.remainingEpsilon,
            delta: budget.delta, releases: budget.releases, pending: budget.pending, lastRelease: budget.lastRelease,
            accountant: budget.accountant)
    }
}

/// What a charge would cost, and whether the caps allow it.
public struct ChargePreview: Sendable, Codable, Equatable {
    public var dataset: String
    public var charge: PrivacySpend
    public var after: PrivacySpend
    public var capEpsilon: Double?
    public var capDelta: Double?
    /// Whether ``PrivacyLedger/reserve(_:)`` would accept the charge now: the dataset's cap
    /// allows it and, when the charge names an analyst with a cap, so does that cap.
    public var allowed: Bool
    /// Whether the dataset's own cap allows it (false when the dataset has no cap).
    public var datasetAllowed: Bool
    /// The charge's analyst (nil: the charge names none).
    public var analyst: String? = nil
    /// The analyst's cap on the dataset (nil: no analyst, or no cap for it).
    public var analystCapEpsilon: Double? = nil
    public var analystCapDelta: Double? = nil
    /// What the analyst would have spent with this charge, at the analyst's cap's δ (else the
    /// dataset's δ); nil when the charge names no analyst.
    public var analystAfter: PrivacySpend? = nil
    /// Whether the analyst's cap allows it; nil when the charge names no analyst or the analyst
    /// has no cap on this dataset (then only the dataset's cap applies).
    public var analystAllowed: Bool? = nil
}

/// The append-only, hash-chained privacy ledger (SQLite through GRDB, WAL, synchronous=FULL).
///
/// Every check-and-spend runs inside one `BEGIN IMMEDIATE` transaction, so concurrent
/// processes serialise on SQLite's write lock and no interleaving can overspend a cap. Spend is
/// recomputed from the stored events at each charge (never from a stored ε). A reservation
/// holds budget from the moment it is written; a crash after it leaves it held (never lost).
public final class PrivacyLedger: Sendable {
    /// Relative margin charged against the spender when a float accountant decides.
    public static let comparisonMargin = 1e-9
    /// The δ used for display when a dataset has no cap.
    public static let displayDelta = 1e-6

    /// How a ledger file is opened.
    public enum Access: Sendable, Equatable {
        /// Read and write, creating the file (never its folder) and the schema if missing: for
        /// whoever charges or sets a cap.
        case create
        /// Read and write an existing ledger (to settle a reservation); a missing file is refused.
        case existing
        /// Read an existing ledger and never write to it (audits); a missing file is refused.
        case readOnly
    }

    public let path: String
    /// How this ledger was opened.
    public let access: Access
    private let queue: DatabaseQueue

    /// Opens the ledger at `path`.
    /// - Parameters:
    ///   - path: the SQLite file.
    ///   - access: `.create` (the default) creates a missing ledger; `.existing` and `.readOnly`
    ///     never create the file or its folder, so a mistyped path cannot pass for an empty ledger.
    /// - Throws: `noLedger` when `access` is not `.create` and there is no file at `path`;
    ///   `ledger` when the file cannot be opened, or (unless `.create`) is not a privacy ledger.
    public init(path: String, access: Access = .create) throws {
        self.path = path
        self.access = access
        if access != .create {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                throw DifferentialPrivacyError.noLedger(path: path)
            }
            if isFolder.boolValue { throw DifferentialPrivacyError.ledger(path: path, reason: "is a folder, not a ledger file") }
        }
        do {
            if access == .existing {
                // Checked through a read-only connection first: opening read-write switches an
                // empty or foreign SQLite file to WAL mode, which would already be writing to it.
                guard try Self.hasSchema(try Self.openQueue(path: path, readOnly: true)) else {
                    throw DifferentialPrivacyError.ledger(path: path, reason: "not a privacy ledger (no entries table)")
                }
            }
            queue = try Self.openQueue(path: path, readOnly: access == .readOnly)
            if try !Self.hasSchema(queue) {
                // Only a ledger opened to be created gets a schema; any other use of a file that
                // is not a ledger says so instead of making it one.
                guard access == .create else {
                    throw DifferentialPrivacyError.ledger(path: path, reason: "not a privacy ledger (no entries table)")
                }
                // Only a new ledger takes the write lock to create its schema.
                try queue.writeWithoutTransaction { db in
                    try db.inTransaction(.immediate) {
                        try Self.createSchema(db)
                        return .commit
                    }
                }
            } else if access != .readOnly {
                try Self.addAnalystColumnIfMissing(queue)
            }
        } catch let error as DatabaseError {
            if access != .create, error.resultCode == .SQLITE_CANTOPEN, !FileManager.default.fileExists(atPath: path) {
                throw DifferentialPrivacyError.noLedger(path: path)
            }
            throw DifferentialPrivacyError.ledger(path: path, reason: "cannot open the ledger: \(error.message ?? "\(error)")")
        }
    }

    /// A connection in WAL mode with synchronous=FULL; a read-only one is opened without
    /// SQLITE_OPEN_CREATE, so it never creates the file, even one removed since it was checked.
    /// (Reading a WAL database safely while a writer may be active needs SQLite's `-wal` and
    /// `-shm` companions; a read-only connection creates them beside an existing ledger when
    /// they are missing, and never touches the ledger file itself.)
    private static func openQueue(path: String, readOnly: Bool) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(120)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    private static func hasSchema(_ queue: DatabaseQueue) throws -> Bool {
        try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name IN ('entries', 'chain_head')") == 2
        }
    }

    /// Ledgers written before analysts have no `analyst` column: a writer adds it (NULL in every
    /// existing row, which hashes as before). A read-only ledger is left as it is: its rows read
    /// with no analyst.
    private static func addAnalystColumnIfMissing(_ queue: DatabaseQueue) throws {
        let has = { (db: Database) in try db.columns(in: "entries").contains { $0.name == "analyst" } }
        guard try !queue.read(has) else { return }
        try queue.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                if try !has(db) { try db.execute(sql: "ALTER TABLE entries ADD COLUMN analyst TEXT") }
                return .commit
            }
        }
    }

    static func createSchema(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS entries (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    reservation INTEGER,
                    dataset TEXT NOT NULL,
                    mechanism TEXT, noise REAL, sensitivity REAL, dimension INTEGER, shares INTEGER,
                    relation TEXT, unit TEXT, count INTEGER, party TEXT, round TEXT,
                    cap_epsilon REAL, cap_delta REAL,
                    time TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL,
                    analyst TEXT);
                CREATE INDEX IF NOT EXISTS entries_dataset ON entries(dataset);
                CREATE TABLE IF NOT EXISTS chain_head (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    last_id INTEGER NOT NULL,
                    last_hash TEXT NOT NULL);
                CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
                    BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
                CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
                    BEGIN SELECT RAISE(ABORT, 'the privacy ledger is append-only'); END;
                """)
    }

    // MARK: Writing

    /// Sets (or changes) a dataset's cap. Lowering a cap below what is spent refuses every
    /// further charge; it never erases spending.
    public func setCap(dataset: String, epsilon: Double, delta: Double) throws {
        guard epsilon.isFinite, epsilon >= 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "cap epsilon", value: "\(epsilon)", reason: "must be a non-negative finite number")
        }
        guard delta >= 0, delta < 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "cap delta", value: "\(delta)", reason: "must be in [0, 1)")
        }
        try validateName(dataset)
        try write { db in
            var entry = Self.blank(kind: .cap, dataset: dataset)
            entry.capEpsilon = epsilon
            entry.capDelta = delta
            _ = try Self.append(&entry, db)
        }
    }

    /// Sets (or changes) `analyst`'s cap on `dataset`: every later charge naming the analyst
    /// must fit it, on top of the dataset's own cap (which this does not change). As with
    /// ``setCap(dataset:epsilon:delta:)``, lowering it never erases spending.
    /// - Throws: `invalidParameter` for a bad cap, dataset or analyst name.
    public func setAnalystCap(dataset: String, analyst: String, epsilon: Double, delta: Double) throws {
        guard epsilon.isFinite, epsilon >= 0 else {
            throw DifferentialPrivacyError.invalidParameter(name: "cap epsilon", value: "\(epsilon)", reason: "must be a non-negative finite number")
        }
        guard delta >= 0, delta < 1 else {
            throw DifferentialPrivacyError.invalidParameter(name: "cap delta", value: "\(delta)", reason: "must be in [0, 1)")
        }
        try validateName(dataset)
        try validateAnalyst(analyst, required: true)
        try write { db in
            var entry = Self.blank(kind: .cap, dataset: dataset)
            entry.analyst = analyst
            entry.capEpsilon = epsilon
            entry.capDelta = delta
            _ = try Self.append(&entry, db)
        }
    }

    /// Reserves a charge if the dataset's cap allows it and, when the charge names an analyst
    /// with a cap on the dataset, that cap too (both checked, by the same accountants, and the
    /// reservation written in one IMMEDIATE transaction). The dataset's cap is checked first.
    /// - Throws: `noCap`, `capExceeded`, `analystCapExceeded`, or `invalidParameter`.
    public func reserve(_ charge: PrivacyCharge) throws -> Reservation {
        try charge.event.validate()
        try validateName(charge.dataset)
        try validateAnalyst(charge.analyst, required: false)
        return try write { db in
            // Never spend on top of a ledger whose history has been altered.
            try Self.verifyChain(db)
            let state = try Self.state(of: charge.dataset, db)
            guard let cap = state.cap else { throw DifferentialPrivacyError.noCap(dataset: charge.dataset) }
            let held = state.held.map(\.event) + [charge.event]
            let decision = try Self.admit(held, capEpsilon: cap.epsilon, capDelta: cap.delta)
            guard let spend = decision.admitted else {
                let spentBefore = try? Self.bestSpend(state.held.map(\.event), delta: cap.delta)
                throw DifferentialPrivacyError.capExceeded(
                    dataset: charge.dataset, epsilon: decision.best?.epsilon ?? .infinity, delta: cap.delta,
                    capEpsilon: cap.epsilon, capDelta: cap.delta, spentEpsilon: spentBefore?.epsilon ?? 0)
            }
            var analystSpend: PrivacySpend?
            if !charge.analyst.isEmpty, let analystCap = state.analystCaps[charge.analyst] {
                let analystHeld = state.held(by: charge.analyst).map(\.event)
                let decision = try Self.admit(analystHeld + [charge.event], capEpsilon: analystCap.epsilon, capDelta: analystCap.delta)
                guard let spend = decision.admitted else {
                    let spentBefore = try? Self.bestSpend(analystHeld, delta: analystCap.delta)
                    throw DifferentialPrivacyError.analystCapExceeded(
                        dataset: charge.dataset, analyst: charge.analyst, epsilon: decision.best?.epsilon ?? .infinity,
                        delta: analystCap.delta, capEpsilon: analystCap.epsilon, capDelta: analystCap.delta,
                        spentEpsilon: spentBefore?.epsilon ?? 0)
                }
                analystSpend = spend
            }
            var entry = Self.blank(kind: .reserve, dataset: charge.dataset)
            entry.mechanism = charge.event.mechanism.rawValue
            entry.noise = charge.event.noise
            entry.sensitivity = charge.event.sensitivity
            entry.dimension = charge.event.dimension
            entry.shares = charge.event.shares
            entry.count = charge.event.count
            entry.relation = charge.relation.rawValue
            entry.unit = charge.unit
            entry.party = charge.party
            entry.round = charge.round
            entry.analyst = charge.analyst.isEmpty ? nil : charge.analyst
            let id = try Self.append(&entry, db)
            return Reservation(id: id, dataset: charge.dataset, spendAfter: spend, analystSpendAfter: analystSpend)
        }
    }

    /// Commits a reservation: call before releasing anything computed under it.
    public func commit(_ reservation: Reservation) throws { try settle(reservation.id, as: .commit) }

    /// Commits a reservation by id.
    public func commit(reservationID: Int64) throws { try settle(reservationID, as: .commit) }

    /// Cancels a reservation, returning its budget. Call only when provably nothing computed
    /// under it was released; a committed reservation can never be cancelled.
    public func cancel(_ reservation: Reservation) throws { try settle(reservation.id, as: .cancel) }

    /// Cancels a reservation by id.
    public func cancel(reservationID: Int64) throws { try settle(reservationID, as: .cancel) }

    private func settle(_ id: Int64, as kind: LedgerEntry.Kind) throws {
        try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT dataset, kind FROM entries WHERE id = ?", arguments: [id]),
                (row["kind"] as String?) == LedgerEntry.Kind.reserve.rawValue
            else {
                throw DifferentialPrivacyError.reservationNotPending(id: id, state: "unknown")
            }
            if let settled = try String.fetchOne(
                db, sql: "SELECT kind FROM entries WHERE reservation = ? LIMIT 1",
                arguments: [id])
            {
                throw DifferentialPrivacyError.reservationNotPending(id: id, state: settled == "commit" ? "committed" : "cancelled")
            }
            var entry = Self.blank(kind: kind, dataset: row["dataset"])
            entry.reservation = id
            _ = try Self.append(&entry, db)
        }
    }

    // MARK: Reading

    /// The budget of one dataset.
    public func budget(dataset: String) throws -> DatasetBudget {
        try queue.read { db in try Self.budget(of: dataset, db) }
    }

    /// Every dataset's budget, sorted by name.
    public func budgets() throws -> [DatasetBudget] {
        try queue.read { db in
            let names = try String.fetchAll(db, sql: "SELECT DISTINCT dataset FROM entries ORDER BY dataset")
            return try names.map { try Self.budget(of: $0, db) }
        }
    }

    /// What `charge` would cost on top of what the dataset holds, and whether the caps allow
    /// it: the dataset's, and the cap of the analyst the charge names, if that analyst has one
    /// (``ChargePreview/allowed`` answers both; call it before any work to refuse early).
    public func preview(_ charge: PrivacyCharge) throws -> ChargePreview {
        try charge.event.validate()
        return try queue.read { db in
            let state = try Self.state(of: charge.dataset, db)
            let delta = state.cap?.delta ?? Self.displayDelta
            let alone = try Self.bestSpend([charge.event], delta: delta)
            let held = state.held.map(\.event) + [charge.event]
            var preview: ChargePreview
            if let cap = state.cap {
                let decision = try Self.admit(held, capEpsilon: cap.epsilon, capDelta: cap.delta)
                let after = decision.admitted ?? decision.best ?? PrivacySpend(epsilon: .infinity, delta: delta, accountant: .best)
                preview = ChargePreview(
                    dataset: charge.dataset, charge: alone, after: after, capEpsilon: cap.epsilon,
                    capDelta: cap.delta, allowed: decision.admitted != nil, datasetAllowed: decision.admitted != nil)
            } else {
                let after = try Self.bestSpend(held, delta: delta)
                preview = ChargePreview(
                    dataset: charge.dataset, charge: alone, after: after, capEpsilon: nil, capDelta: nil, allowed: false,
                    datasetAllowed: false)
            }
            guard !charge.analyst.isEmpty else { return preview }
            preview.analyst = charge.analyst
            let analystHeld = state.held(by: charge.analyst).map(\.event) + [charge.event]
            if let cap = state.analystCaps[charge.analyst] {
                let decision = try Self.admit(analystHeld, capEpsilon: cap.epsilon, capDelta: cap.delta)
                preview.analystCapEpsilon = cap.epsilon
                preview.analystCapDelta = cap.delta
                preview.analystAfter = decision.admitted ?? decision.best ?? PrivacySpend(epsilon: .infinity, delta: cap.delta, accountant: .best)
                preview.analystAllowed = decision.admitted != nil
                preview.allowed = preview.allowed && decision.admitted != nil
            } else {
                preview.analystAfter = try Self.bestSpend(analystHeld, delta: delta)
            }
            return preview
        }
    }

    /// `analyst`'s cap on `dataset`, if one is set (the latest `cap` entry for them).
    public func analystCap(dataset: String, analyst: String) throws -> (epsilon: Double, delta: Double)? {
        try queue.read { db in try Self.state(of: dataset, db).analystCaps[analyst] }
    }

    /// Each analyst's spending, per dataset (only `dataset` when given), sorted by dataset then
    /// analyst: every analyst named by a reservation or a cap. Charges naming no analyst are
    /// counted in the dataset's budget only.
    public func analystBudgets(dataset: String? = nil) throws -> [AnalystBudget] {
        try queue.read { db in
            let names =
                try dataset.map { [$0] } ?? String.fetchAll(db, sql: "SELECT DISTINCT dataset FROM entries ORDER BY dataset")
            return try names.flatMap { name -> [AnalystBudget] in
                let state = try Self.state(of: name, db)
                return try state.analysts.sorted().map { analyst in try Self.analystBudget(of: analyst, in: state, dataset: name) }
            }
        }
    }

    /// Every entry, in order.
    public func history() throws -> [LedgerEntry] {
        try queue.read { db in try Self.entries(db) }
    }

    /// Checks the whole chain: contiguous ids, each previous hash, each recomputed hash, the
    /// chain head, and that every commit/cancel settles one earlier reservation once.
    /// - Returns: the number of entries and the head hash (publish it to anchor the ledger).
    /// - Throws: `brokenChain` naming the first bad row.
    @discardableResult
    public func verify() throws -> (entries: Int, headHash: String) {
        try queue.read { db in try Self.verifyChain(db) }
    }

    @discardableResult
    static func verifyChain(_ db: Database) throws -> (entries: Int, headHash: String) {
        do {  // one scope: the whole chain is read in the caller's transaction
            let entries = try Self.entries(db, validating: true)
            var previous = ""
            var expectedID: Int64 = 1
            var reservations: [Int64: String] = [:]
            var settled: Set<Int64> = []
            for entry in entries {
                if entry.id != expectedID {
                    if entry.id > expectedID {
                        throw DifferentialPrivacyError.brokenChain(row: expectedID, reason: "missing (deleted, or rows reordered)")
                    }
                    throw DifferentialPrivacyError.brokenChain(row: entry.id, reason: "out of order")
                }
                guard entry.previousHash == previous else {
                    throw DifferentialPrivacyError.brokenChain(row: entry.id, reason: "does not link to row \(entry.id - 1) (edited, moved or inserted)")
                }
                guard entry.computeHash() == entry.hash else {
                    throw DifferentialPrivacyError.brokenChain(row: entry.id, reason: "contents do not match its hash (edited)")
                }
                switch entry.kind {
                case .reserve:
                    _ = try entry.mechanismEvent()
                    reservations[entry.id] = entry.dataset
                case .commit, .cancel:
                    guard let target = entry.reservation, reservations[target] == entry.dataset else {
                        throw DifferentialPrivacyError.brokenChain(row: entry.id, reason: "settles no earlier reservation of '\(entry.dataset)'")
                    }
                    guard settled.insert(target).inserted else {
                        throw DifferentialPrivacyError.brokenChain(row: entry.id, reason: "settles reservation \(target) a second time")
                    }
                case .cap:
                    break
                }
                previous = entry.hash
                expectedID += 1
            }
            let sequence = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'entries'") ?? 0
            let head = try Row.fetchOne(db, sql: "SELECT last_id, last_hash FROM chain_head WHERE singleton = 1")
            let headID: Int64 = head?["last_id"] ?? 0
            let headHash: String = head?["last_hash"] ?? ""
            let lastID = expectedID - 1
            if sequence > lastID || headID > lastID {
                throw DifferentialPrivacyError.brokenChain(row: lastID + 1, reason: "missing (deleted from the end of the ledger)")
            }
            if headID != lastID || headHash != previous {
                throw DifferentialPrivacyError.brokenChain(row: lastID, reason: "does not match the recorded chain head")
            }
            return (entries.count, previous)
        }
    }

    // MARK: Internals

    private func validateName(_ dataset: String) throws {
        guard !dataset.isEmpty, dataset.count <= 200 else {
            throw DifferentialPrivacyError.invalidParameter(name: "dataset", value: "'\(dataset)'", reason: "must be 1 to 200 characters")
        }
    }

    /// The ledger records any analyst name up to 200 characters (which names are valid is the
    /// federation's rule, checked where names come from); `required` refuses the empty name.
    private func validateAnalyst(_ analyst: String, required: Bool) throws {
        if analyst.isEmpty && !required { return }
        guard !analyst.isEmpty, analyst.count <= 200 else {
            throw DifferentialPrivacyError.invalidParameter(name: "analyst", value: "'\(analyst)'", reason: "must be 1 to 200 characters")
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        guard access != .readOnly else {
            throw DifferentialPrivacyError.ledger(path: path, reason: "opened read-only; nothing was written")
        }
        do {
            var result: T?
            try queue.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
            }
            guard let result else { throw DifferentialPrivacyError.ledger(path: path, reason: "transaction produced no result") }
            return result
        } catch let error as DatabaseError {
            throw DifferentialPrivacyError.ledger(path: path, reason: error.message ?? "\(error)")
        }
    }

    static func blank(kind: LedgerEntry.Kind, dataset: String) -> LedgerEntry {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return LedgerEntry(id: 0, kind: kind, dataset: dataset, time: formatter.string(from: Date()), previousHash: "", hash: "")
    }

    /// Appends `entry` after the current head (inside the caller's IMMEDIATE transaction).
    static func append(_ entry: inout LedgerEntry, _ db: Database) throws -> Int64 {
        let head = try Row.fetchOne(db, sql: "SELECT last_id, last_hash FROM chain_head WHERE singleton = 1")
        let lastID: Int64 = head?["last_id"] ?? 0
        entry.id = lastID + 1
        entry.previousHash = head?["last_hash"] ?? ""
        entry.hash = entry.computeHash()
        try db.execute(
            sql: """
                INSERT INTO entries (id, kind, reservation, dataset, mechanism, noise, sensitivity, dimension, shares,
                    relation, unit, count, party, round, cap_epsilon, cap_delta, time, previous_hash, hash, analyst)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.id, entry.kind.rawValue, entry.reservation, entry.dataset, entry.mechanism, entry.noise,
                entry.sensitivity, entry.dimension, entry.shares, entry.relation, entry.unit, entry.count,
                entry.party, entry.round, entry.capEpsilon, entry.capDelta, entry.time,
                entry.previousHash, entry.hash, entry.analyst,
            ])
        try db.execute(
            sql: "INSERT OR REPLACE INTO chain_head (singleton, last_id, last_hash) VALUES (1, ?, ?)",
            arguments: [entry.id, entry.hash])
        return entry.id
    }

    static func entries(_ db: Database, validating: Bool = false, dataset: String? = nil) throws -> [LedgerEntry] {
        let rows: [Row]
        if let dataset {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM entries WHERE dataset = ? ORDER BY id", arguments: [dataset])
        } else {
            rows = try Row.fetchAll(db, sql: "SELECT * FROM entries ORDER BY id")
        }
        return try rows.map { row in
            let id: Int64 = row["id"] ?? 0
            guard let kindText: String = row["kind"], let kind = LedgerEntry.Kind(rawValue: kindText) else {
                throw DifferentialPrivacyError.brokenChain(row: id, reason: "unknown entry kind '\(row["kind"] as String? ?? "")'")
            }
            return LedgerEntry(
                id: id, kind: kind, reservation: row["reservation"], dataset: row["dataset"] ?? "",
                mechanism: row["mechanism"], noise: row["noise"], sensitivity: row["sensitivity"],
                dimension: row["dimension"], shares: row["shares"], relation: row["relation"], unit: row["unit"],
                count: row["count"], party: row["party"], round: row["round"],
                // Nil, not an error, in a read-only ledger from before analysts (no such column).
                analyst: row["analyst"], capEpsilon: row["cap_epsilon"],
                capDelta: row["cap_delta"], time: row["time"] ?? "", previousHash: row["previous_hash"] ?? "",
                hash: row["hash"] ?? "")
        }
    }

    struct DatasetState {
        var cap: (epsilon: Double, delta: Double)?
        /// A reservation not cancelled (committed or pending), with its state and analyst.
        typealias Held = (event: MechanismEvent, committed: Bool, time: String, analyst: String?)
        var held: [Held]
        /// Each analyst's cap (the latest `cap` entry naming them).
        var analystCaps: [String: (epsilon: Double, delta: Double)] = [:]
        /// Every analyst named by a reservation (cancelled ones too) or a cap.
        var analysts: Set<String> = []

        /// The reservations of `analyst` that hold budget.
        func held(by analyst: String) -> [Held] {
            held.filter { $0.analyst == analyst }
        }
    }

    static func state(of dataset: String, _ db: Database) throws -> DatasetState {
        let entries = try entries(db, dataset: dataset)
        var state = DatasetState(cap: nil, held: [])
        var settlement: [Int64: (LedgerEntry.Kind, String)] = [:]
        for entry in entries where entry.kind == .commit || entry.kind == .cancel {
            if let target = entry.reservation { settlement[target] = (entry.kind, entry.time) }
        }
        for entry in entries {
            switch entry.kind {
            case .cap:
                guard let epsilon = entry.capEpsilon, let delta = entry.capDelta else { continue }
                if let analyst = entry.analyst {
                    state.analystCaps[analyst] = (epsilon, delta)
                    state.analysts.insert(analyst)
                } else {
                    state.cap = (epsilon, delta)
                }
            case .reserve:
                let event = try entry.mechanismEvent()
                if let analyst = entry.analyst { state.analysts.insert(analyst) }
                switch settlement[entry.id] {
                case (.cancel, _)?: continue
                case (.commit, let time)?: state.held.append((event, true, time, entry.analyst))
                default: state.held.append((event, false, entry.time, entry.analyst))
                }
            case .commit, .cancel:
                break
            }
        }
        return state
    }

    static func budget(of dataset: String, _ db: Database) throws -> DatasetBudget {
        let state = try state(of: dataset, db)
        return try budget(of: state.held, dataset: dataset, cap: state.cap, delta: state.cap?.delta ?? displayDelta)
    }

    static func analystBudget(of analyst: String, in state: DatasetState, dataset: String) throws -> AnalystBudget {
        let cap = state.analystCaps[analyst]
        let delta = cap?.delta ?? state.cap?.delta ?? displayDelta
        return AnalystBudget(analyst: analyst, try budget(of: state.held(by: analyst), dataset: dataset, cap: cap, delta: delta))
    }

    /// What the reservations `held` (a dataset's, or one analyst's) have spent and hold against
    /// `cap`, at `delta`.
    static func budget(
        of held: [DatasetState.Held], dataset: String, cap: (epsilon: Double, delta: Double)?, delta: Double
    ) throws -> DatasetBudget {
        let committed = held.filter(\.committed)
        let spent = try bestSpend(committed.map(\.event), delta: delta)
        let holding = try bestSpend(held.map(\.event), delta: delta)
        return DatasetBudget(
            dataset: dataset, capEpsilon: cap?.epsilon, capDelta: cap?.delta,
            spentEpsilon: spent.epsilon, heldEpsilon: holding.epsilon,
            remainingEpsilon: cap.map { max(0, $0.epsilon - holding.epsilon) }, delta: delta,
            releases: committed.reduce(0) { $0 + $1.event.count }, pending: held.count - committed.count,
            lastRelease: committed.map(\.time).max(), accountant: committed.isEmpty ? nil : spent.accountant)
    }

    static func bestSpend(_ events: [MechanismEvent], delta: Double) throws -> PrivacySpend {
        if events.isEmpty { return PrivacySpend(epsilon: 0, delta: delta, accountant: .best) }
        do {
            return try PrivacyAccountant.spend(of: events, delta: delta, accountant: .best)
        } catch DifferentialPrivacyError.notApplicable {
            return PrivacySpend(epsilon: .infinity, delta: delta, accountant: .best)
        }
    }

    /// Whether some valid accountant certifies `events` within the cap, comparing against the
    /// spender: pure basic composition exactly in rationals (Σ Δ/b of the exact doubles against
    /// the cap's decimal value), float accountants with ε inflated by `comparisonMargin` (their
    /// rounding error is orders of magnitude below it).
    static func admit(
        _ events: [MechanismEvent], capEpsilon: Double, capDelta: Double
    )
        throws -> (admitted: PrivacySpend?, best: PrivacySpend?)
    {
        var best: PrivacySpend?
        var admitted: PrivacySpend?
        // The cap is the decimal the person typed (0.3 means 3/10); event parameters are the
        // exact values of the doubles that drove the noise.
        let cap = ExactRational(intended: capEpsilon) ?? ExactRational(0)
        for kind in [AccountantKind.basic, .exact, .rdp, .advanced] {
            guard let spend = try? PrivacyAccountant.spend(of: events, delta: capDelta, accountant: kind) else { continue }
            if best == nil || spend.epsilon < best!.epsilon { best = spend }
            let fits: Bool
            if let exact = spend.exactEpsilon {
                fits = exact <= cap
            } else {
                fits = spend.epsilon.isFinite && spend.epsilon * (1 + comparisonMargin) <= capEpsilon
            }
            if fits, admitted == nil || spend.epsilon < admitted!.epsilon { admitted = spend }
        }
        return (admitted, best)
    }
}
