import Foundation
import GRDB
import Primitives
import Testing

@testable import DifferentialPrivacy

/// A fresh temporary folder per test.
func temporaryLedgerPath(_ name: String = #function) throws -> String {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("fedshare-dp-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent("ledger.sqlite").path
}

let tenth = MechanismEvent(mechanism: .laplace, noise: 10, sensitivity: 1)  // ε = 1/10 exactly

@Suite struct LedgerTests {
    @Test func reserveCommitCancelAndCap() throws {
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        let charge = PrivacyCharge(dataset: "worlds", event: tenth, party: "1", round: "r1")
        #expect(throws: DifferentialPrivacyError.noCap(dataset: "worlds")) { try ledger.reserve(charge) }
        try ledger.setCap(dataset: "worlds", epsilon: 0.3, delta: 0)
        let a = try ledger.reserve(charge)
        let b = try ledger.reserve(charge)
        let c = try ledger.reserve(charge)
        // 0.1 + 0.1 + 0.1 = 0.3 exactly: admitted; a fourth is refused, pending or not.
        #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(charge) }
        try ledger.commit(a)
        try ledger.commit(b)
        #expect(throws: DifferentialPrivacyError.reservationNotPending(id: a.id, state: "committed")) { try ledger.cancel(a) }
        #expect(throws: DifferentialPrivacyError.reservationNotPending(id: a.id, state: "committed")) { try ledger.commit(a) }
        try ledger.cancel(c)  // nothing was released under c: its budget returns
        let d = try ledger.reserve(charge)
        try ledger.commit(d)
        let budget = try ledger.budget(dataset: "worlds")
        #expect(budget.releases == 3 && budget.pending == 0)
        #expect(abs(budget.spentEpsilon - 0.3) < 1e-15 && budget.remainingEpsilon == 0)
        let preview = try ledger.preview(charge)
        #expect(!preview.allowed && preview.charge.epsilon == 0.1)
        let (entries, head) = try ledger.verify()
        #expect(entries == 9 && head.count == 64)
        let kinds = try ledger.history().map(\.kind.rawValue)
        #expect(kinds == ["cap", "reserve", "reserve", "reserve", "commit", "commit", "cancel", "reserve", "commit"])
    }

    @Test func gaussianChargesAreComparedAgainstTheSpender() throws {
        let ledger = try PrivacyLedger(path: try temporaryLedgerPath())
        // Exact composition of 4 Gaussians of σ = 2 is one of σ = 1: ε(1e-5) = 4.377…
        let epsilon = try PrivacyAccountant.spend(
            of: [MechanismEvent(mechanism: .gaussian, noise: 1, sensitivity: 1)],
            delta: 1e-5, accountant: .exact
        ).epsilon
        try ledger.setCap(dataset: "d", epsilon: epsilon, delta: 1e-5)
        let g = PrivacyCharge(dataset: "d", event: MechanismEvent(mechanism: .gaussian, noise: 2, sensitivity: 1))
        for _ in 0..<3 { try ledger.commit(try ledger.reserve(g)) }
        // The fourth lands exactly on the cap: refused, because float accountants carry a margin.
        #expect(throws: DifferentialPrivacyError.self) { try ledger.reserve(g) }
        try ledger.setCap(dataset: "d", epsilon: epsilon * (1 + 1e-6), delta: 1e-5)
        try ledger.commit(try ledger.reserve(g))
        #expect(try ledger.budget(dataset: "d").accountant == .exact)
        try ledger.verify()
    }

    @Test func unknownStoredKindsAreRefused() throws {
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        try ledger.setCap(dataset: "d", epsilon: 1, delta: 0)
        try ledger.commit(try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth)))
        try tamper(path, "UPDATE entries SET mechanism = 'staircase' WHERE kind = 'reserve'")
        #expect(throws: DifferentialPrivacyError.unknownKind(field: "mechanism", value: "staircase")) {
            try ledger.budget(dataset: "d")
        }
    }

    /// Edits the database behind the ledger's back (dropping the append-only triggers first).
    func tamper(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER IF EXISTS entries_no_update; DROP TRIGGER IF EXISTS entries_no_delete")
            try db.execute(sql: sql)
        }
    }

    func ledgerWithHistory() throws -> (PrivacyLedger, String) {
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        try ledger.setCap(dataset: "d", epsilon: 10, delta: 1e-6)
        for index in 0..<4 {
            let reservation = try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth, party: "\(index)"))
            try ledger.commit(reservation)
        }
        try ledger.verify()
        return (ledger, path)  // entries 1…9
    }

    func brokenRow(_ ledger: PrivacyLedger) -> Int64? {
        do {
            try ledger.verify()
            return nil
        } catch DifferentialPrivacyError.brokenChain(let row, _) {
            return row
        } catch {
            return -1
        }
    }

    @Test func theLedgerRefusesInPlaceEdits() throws {
        let (ledger, path) = try ledgerWithHistory()
        #expect(throws: DifferentialPrivacyError.self) {
            try ledger.setCap(dataset: "d", epsilon: .nan, delta: 0)
        }
        // The triggers stop accidental edits through SQLite itself.
        let queue = try DatabaseQueue(path: path)
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "DELETE FROM entries WHERE id = 2") } }
    }

    @Test func editingARowIsDetected() throws {
        let (ledger, path) = try ledgerWithHistory()
        try tamper(path, "UPDATE entries SET noise = 100 WHERE id = 4")
        #expect(brokenRow(ledger) == 4)
    }

    @Test func deletingARowIsDetected() throws {
        let (ledger, path) = try ledgerWithHistory()
        try tamper(path, "DELETE FROM entries WHERE id = 5")
        #expect(brokenRow(ledger) == 5)
    }

    @Test func deletingTheLastRowIsDetected() throws {
        let (ledger, path) = try ledgerWithHistory()
        try tamper(path, "DELETE FROM entries WHERE id = 9")
        #expect(brokenRow(ledger) == 9)
    }

    @Test func reorderingRowsIsDetected() throws {
        let (ledger, path) = try ledgerWithHistory()
        // Swap the contents of rows 2 and 4 (both reservations), keeping ids in place.
        try tamper(
            path,
            """
            UPDATE entries SET id = -2 WHERE id = 2;
            UPDATE entries SET id = 2 WHERE id = 4;
            UPDATE entries SET id = 4 WHERE id = -2;
            """)
        #expect(brokenRow(ledger) == 2)
    }

    @Test func chargesAreRefusedOnABrokenChain() throws {
        let (ledger, path) = try ledgerWithHistory()
        try tamper(path, "UPDATE entries SET count = 0 WHERE id = 2")
        #expect(throws: DifferentialPrivacyError.brokenChain(row: 2, reason: "contents do not match its hash (edited)")) {
            try ledger.reserve(PrivacyCharge(dataset: "d", event: tenth))
        }
    }

    @Test func editingAHashIsDetected() throws {
        let (ledger, path) = try ledgerWithHistory()
        try tamper(path, "UPDATE entries SET hash = '00' WHERE id = 7")
        #expect(brokenRow(ledger) == 7)
    }
}

/// Audits read, never create (issue 12, item 7): only a ledger opened with `.create` may make
/// the file; `.readOnly` and `.existing` refuse a missing or foreign file and leave no trace.
@Suite struct LedgerAccessTests {
    /// A path inside a folder that does not exist (nothing may create either).
    func missingPath() -> (folder: String, path: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-absent-\(UUID().uuidString)").path
        return (folder, folder + "/ledger.sqlite")
    }

    @Test(arguments: [PrivacyLedger.Access.readOnly, .existing])
    func aMissingLedgerIsRefusedAndNotCreated(access: PrivacyLedger.Access) throws {
        let (folder, path) = missingPath()
        #expect(throws: DifferentialPrivacyError.noLedger(path: path)) { try PrivacyLedger(path: path, access: access) }
        #expect(!FileManager.default.fileExists(atPath: folder))
        // The same in an existing folder: the file itself is not made.
        let existingFolder = try temporaryLedgerPath()
        #expect(throws: DifferentialPrivacyError.noLedger(path: existingFolder)) {
            try PrivacyLedger(path: existingFolder, access: access)
        }
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (existingFolder as NSString).deletingLastPathComponent)
        #expect(siblings.isEmpty, "left behind: \(siblings)")
        #expect(DifferentialPrivacyError.noLedger(path: path).description == "no ledger at \(path)")
    }

    @Test(arguments: [PrivacyLedger.Access.readOnly, .existing])
    func aFileThatIsNotALedgerIsRefusedAndLeftAlone(access: PrivacyLedger.Access) throws {
        let path = try temporaryLedgerPath()
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        #expect(throws: DifferentialPrivacyError.ledger(path: path, reason: "not a privacy ledger (no entries table)")) {
            try PrivacyLedger(path: path, access: access)
        }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64 == 0)
    }

    @Test func aReadOnlyLedgerReadsEverythingAndWritesNothing() throws {
        let path = try temporaryLedgerPath()
        let writer = try PrivacyLedger(path: path)
        try writer.setCap(dataset: "d", epsilon: 1, delta: 0)
        let pending = try writer.reserve(PrivacyCharge(dataset: "d", event: tenth))
        try writer.commit(try writer.reserve(PrivacyCharge(dataset: "d", event: tenth)))
        let head = try writer.verify().headHash

        let reader = try PrivacyLedger(path: path, access: .readOnly)
        #expect(try reader.verify().headHash == head)
        #expect(try reader.history().count == 4)
        #expect(try reader.budgets().map(\.releases) == [1])
        #expect(try reader.preview(PrivacyCharge(dataset: "d", event: tenth)).allowed)
        #expect(throws: DifferentialPrivacyError.self) { try reader.setCap(dataset: "d", epsilon: 100, delta: 0) }
        #expect(throws: DifferentialPrivacyError.self) { try reader.reserve(PrivacyCharge(dataset: "d", event: tenth)) }
        #expect(throws: DifferentialPrivacyError.self) { try reader.cancel(pending) }
        #expect(try writer.verify().headHash == head)

        // `.existing` settles a reservation in a ledger that is there.
        let settler = try PrivacyLedger(path: path, access: .existing)
        try settler.cancel(pending)
        #expect(try writer.budget(dataset: "d").pending == 0)
    }

    @Test func createStillStartsANewLedger() throws {
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path, access: .create)
        #expect(try ledger.verify().entries == 0)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(try PrivacyLedger(path: path, access: .readOnly).verify().entries == 0)
    }

    /// Runs `fedshare ARGS` to completion, capturing both streams.
    func runFedshare(_ executable: URL, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("stdout")
        let err = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        while process.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    static let readingActions: [[String]] = [
        ["--verify"], ["--verify", "--json"], ["--history"], ["--history", "--json"], [], ["--json"],
        ["--preview", "--mechanism", "laplace", "--noise", "10", "--sensitivity", "1"],
        ["--cancel", "1"],
    ]

    @Test(arguments: readingActions)
    func theBudgetCommandRefusesAMissingLedger(action: [String]) async throws {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        let (folder, path) = missingPath()
        let result = try await runFedshare(executable, ["budget", "--ledger", path] + action)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.hasSuffix("no ledger at \(path)") == true, "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder), "budget \(action) created \(folder)")
    }

    @Test func theBudgetCommandCreatesOnlyToSpend() async throws {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        let path = try temporaryLedgerPath()
        let verify = try await runFedshare(executable, ["budget", "--ledger", path, "--verify"])
        #expect(verify.status != 0 && verify.stderr.contains("no ledger at \(path)"))
        #expect(!FileManager.default.fileExists(atPath: path))
        let cap = try await runFedshare(executable, ["budget", "--ledger", path, "--set-cap", "d", "--epsilon", "1", "--delta", "0"])
        #expect(cap.status == 0, "stderr: \(cap.stderr)")
        let charged = try await runFedshare(
            executable,
            [
                "budget", "--ledger", path + ".2", "--charge", "d", "--mechanism", "laplace",
                "--noise", "10", "--sensitivity", "1",
            ])
        // --charge may create the ledger, and then refuses for want of a cap: the file stays, empty.
        #expect(charged.status != 0 && charged.stderr.contains("no cap set"))
        #expect(FileManager.default.fileExists(atPath: path + ".2"))
        let audit = try await runFedshare(executable, ["budget", "--ledger", path, "--verify"])
        #expect(audit.status == 0 && audit.stdout.hasPrefix("ledger OK: 1 entries"), "\(audit)")
    }
}
