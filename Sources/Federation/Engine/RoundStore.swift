import Foundation
import GRDB

/// The aggregator's durable round state (SQLite, WAL, synchronous FULL): one row per round
/// with its phase, whether its result was released, and the ledger reservation behind it, so
/// that a restarted aggregator knows what happened and never releases a round twice.
public final class RoundStore: Sendable {
    /// One round as stored.
    public struct Record: Sendable, Equatable, Codable, FetchableRecord, PersistableRecord {
        public static let databaseTableName = "rounds"
        public var round: Int64
        public var mode: String
        public var phase: String
        public var released: Bool
        public var contributors: String
        public var dropped: String
        public var reason: String?
        public var reservation: Int64?
        public var updated: String

        /// Parties in the released sum.
        public var contributorIDs: [Int] { contributors.split(separator: ",").compactMap { Int($0) } }
    }

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
                try db.execute(sql: """
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

    /// After a restart: rounds left mid-way are marked aborted ("aggregator restarted"). A
    /// round whose result was not released had nothing released, so its pending aggregator
    /// reservation is returned to `cancel` (the caller cancels it in the federation ledger).
    /// - Returns: the interrupted rounds.
    @discardableResult
    public func recoverInterrupted(cancel: (Int64) throws -> Void) throws -> [Record] {
        let open = try records().filter { !$0.released && $0.phase != RoundPhase.aborted.rawValue && $0.phase != RoundPhase.done.rawValue }
        for var record in open {
            if let reservation = record.reservation { try? cancel(reservation) }
            record.reason = "the aggregator restarted during phase \(record.phase); nothing was released"
            record.phase = RoundPhase.aborted.rawValue
            record.updated = Self.now()
            try save(record)
        }
        return open
    }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }
}
