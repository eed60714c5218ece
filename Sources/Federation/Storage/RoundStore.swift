import DifferentialPrivacy
import Foundation
import GRDB

/// The aggregator's durable round state (SQLite, WAL, synchronous FULL): one row per round
/// with its phase, whether its result was released, and the ledger reservation behind it, so
/// that a restarted aggregator knows what happened and never releases a round twice.
public final class RoundStore: Sendable {
    /// One round as stored.
    public typealias Record = RoundRecord

    public let path: String
    private let queue: DatabaseQueue

    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.busyMode = .timeout(30)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.write { db in
                try db.execute(
                    sql: """
                        CREATE TABLE IF NOT EXISTS rounds (
                            round INTEGER PRIMARY KEY,
                            mode TEXT NOT NULL,
                            phase TEXT NOT NULL,
                            released INTEGER NOT NULL DEFAULT 0,
                            contributors TEXT NOT NULL DEFAULT '',
                            dropped TEXT NOT NULL DEFAULT '',
                            reason TEXT,
                            reservation INTEGER,
                            updated TEXT NOT NULL);
                        CREATE TRIGGER IF NOT EXISTS rounds_released_once BEFORE UPDATE ON rounds
                            WHEN OLD.released = 1 AND NEW.released = 0
                            BEGIN SELECT RAISE(ABORT, 'a released round stays released'); END;
                        """)
            }
        } catch {
            throw FederationError.storage(path: path, reason: "cannot open the round state: \(error)")
        }
    }

    /// Writes the round's current state (insert or update).
    func save(_ record: Record) throws {
        do {
            try queue.write { db in try record.save(db) }
        } catch {
            throw FederationError.storage(path: path, reason: "cannot record round \(record.round): \(error)")
        }
    }

    /// Marks a round released, atomically refusing a round already released.
    func markReleased(_ record: Record) throws {
        do {
            try queue.write { db in
                if let existing = try Record.fetchOne(db, key: record.round), existing.released {
                    throw FederationError.storage(path: path, reason: "round \(record.round) was already released; refusing to release it twice")
                }
                var released = record
                released.released = true
                try released.save(db)
            }
        } catch let error as FederationError {
            throw error
        } catch {
            throw FederationError.storage(path: path, reason: "cannot record the release of round \(record.round): \(error)")
        }
    }

    /// One round, if known.
    public func record(round: UInt64) throws -> Record? {
        try queue.read { db in try Record.fetchOne(db, key: Int64(bitPattern: round)) }
    }

    /// Every round, oldest first.
    public func records() throws -> [Record] {
        try queue.read { db in try Record.order(Column("round")).fetchAll(db) }
    }

    /// The most recent round.
    public func last() throws -> Record? {
        try queue.read { db in try Record.order(Column("round").desc).fetchOne(db) }
    }

    /// The id for the next round: one more than any round ever stored (ids are never reused).
    public func nextRoundID() throws -> UInt64 {
        UInt64((try last()?.round ?? 0) + 1)
    }

    /// Phases in which parties may already have sent what opens the sum (partial decryptions,
    /// unmasking shares): parties commit their charge before those leave, so the aggregator's
    /// charge for a round interrupted there is committed too (it counts as spent).
    static let openingPhases: Set<String> = [RoundPhase.decrypt.rawValue, RoundPhase.unmask.rawValue, RoundPhase.release.rawValue]

    /// After a restart: rounds left mid-way are marked aborted (abort-and-next: the next round
    /// gets a new id, so nothing is ever released twice), and the federation ledger's charge
    /// for each is settled so that the ledger never records less than what could have been
    /// released:
    /// - a charge already committed stays committed (the aggregator died between the ledger
    ///   commit and the round-state update: the result never left, the charge is kept);
    /// - a pending reservation of a round interrupted in decrypt/unmask/release is committed
    ///   (the opening shares may have reached the aggregator);
    /// - a pending reservation of a round interrupted earlier is cancelled (nothing that could
    ///   open the sum existed).
    ///
    /// The ledger is settled before the round is marked, so a crash during recovery is
    /// recovered again on the next start. Reservations are found by id and, for a crash between
    /// reserving and recording it, by the round id the aggregator's charge names.
    /// - Returns: the interrupted rounds as now recorded (phase `aborted`, with the reason).
    @discardableResult
    public func recoverInterrupted(ledger: PrivacyLedger) throws -> [Record] {
        let open = try records().filter { !$0.released && $0.phase != RoundPhase.aborted.rawValue && $0.phase != RoundPhase.done.rawValue }
        guard !open.isEmpty else { return [] }
        let history: [LedgerEntry]
        do { history = try ledger.history() } catch {
            throw FederationError.storage(path: ledger.path, reason: "cannot read the federation ledger to recover interrupted rounds: \(error)")
        }
        var settlements: [Int64: LedgerEntry.Kind] = [:]
        for entry in history where entry.kind == .commit || entry.kind == .cancel {
            if let target = entry.reservation { settlements[target] = entry.kind }
        }
        var recovered: [Record] = []
        for var record in open {
            var reservations = Set(
                history.filter {
                    $0.kind == .reserve && $0.party == "aggregator" && $0.round == String(record.round)
                }.map(\.id))
            if let id = record.reservation { reservations.insert(id) }
            let opening = Self.openingPhases.contains(record.phase)
            var notes: [String] = []
            for id in reservations.sorted() {
                switch settlements[id] {
                case .commit?:
                    notes.append(
                        "its charge (reservation \(id)) was already committed and stays: the result never left, so this is a lost release, not an uncharged one"
                    )
                case .cancel?:
                    notes.append("its reservation \(id) was already cancelled")
                default:
                    guard history.contains(where: { $0.id == id && $0.kind == .reserve }) else {
                        notes.append("its reservation \(id) is not in the ledger \(ledger.path) (another ledger file?)")
                        continue
                    }
                    do {
                        if opening {
                            try ledger.commit(reservationID: id)
                            notes.append(
                                "its charge (reservation \(id)) was committed: opening shares may have reached the aggregator, and the parties commit before sending them"
                            )
                        } else {
                            try ledger.cancel(reservationID: id)
                            notes.append("its reservation \(id) was cancelled: nothing that could open the sum existed")
                        }
                    } catch {
                        throw FederationError.storage(
                            path: ledger.path, reason: "cannot settle reservation \(id) of interrupted round \(record.round): \(error)")
                    }
                }
            }
            if reservations.isEmpty { notes.append("nothing was reserved") }
            record.reason = "the aggregator restarted during phase \(record.phase); no result was released; " + notes.joined(separator: "; ")
            record.phase = RoundPhase.aborted.rawValue
            record.updated = Self.now()
            try save(record)
            recovered.append(record)
        }
        return recovered
    }

    static func now() -> String { RoundRecord.now() }
}

extension RoundRecord: FetchableRecord, PersistableRecord {
    public static let databaseTableName = "rounds"
}
