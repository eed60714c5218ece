import Foundation
import Primitives
import Testing

@testable import DifferentialPrivacy

#if canImport(Glibc)
import Glibc
#endif

/// The `fedshare` executable built next to this test bundle (swift build builds it with the tests).
func fedshareExecutable() -> URL? {
    var candidates: [URL] = []
    if let executable = Bundle.main.executableURL { candidates.append(executable.deletingLastPathComponent()) }
    candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
    candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug"))
    for folder in candidates {
        var url = folder
        // Inside an .xctest bundle on some platforms: walk up to the build folder.
        for _ in 0..<4 {
            let binary = url.appendingPathComponent("fedshare")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
            url = url.deletingLastPathComponent()
        }
    }
    return nil
}

/// A started child process with its standard output captured to a file.
struct Child {
    let process: Process
    let output: URL

    static func start(_ executable: URL, _ arguments: [String]) throws -> Child {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fedshare-child-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        return Child(process: process, output: output)
    }

    var stdout: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Waits for the child without holding one of Swift Testing's few worker threads.
    func exit() async throws {
        while process.isRunning { try await Task.sleep(for: .milliseconds(5)) }
        process.waitUntilExit()  // reaps it and settles terminationStatus
    }
}

/// Separate `fedshare budget` processes against one ledger file.
@Suite(.serialized) struct ProcessTests {
    @Test func concurrentChargesNeverOverspend() async throws {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        // Each charge costs exactly 1/10; the cap admits exactly 10 of them.
        try ledger.setCap(dataset: "worlds", epsilon: 1, delta: 0)
        let arguments = [
            "budget", "--ledger", path, "--charge", "worlds", "--mechanism", "laplace",
            "--noise", "10", "--sensitivity", "1", "--json",
        ]
        let children = try (0..<32).map { _ in try Child.start(executable, arguments) }
        for child in children { try await child.exit() }
        let succeeded = children.filter { $0.process.terminationStatus == 0 }.count
        #expect(succeeded == 10)
        let budget = try ledger.budget(dataset: "worlds")
        #expect(budget.releases == 10 && budget.pending == 0)
        #expect(budget.spentEpsilon == 1)
        try ledger.verify()
    }

    @Test func killedProcessesNeverLoseAnExpense() async throws {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        let path = try temporaryLedgerPath()
        let ledger = try PrivacyLedger(path: path)
        try ledger.setCap(dataset: "worlds", epsilon: 1000, delta: 0)
        var random = SeededRandom(seed: 2026)
        // How long one charge takes on this machine now; kills are spread over a few times that.
        let probeStart = Date()
        let probe = try Child.start(
            executable,
            [
                "budget", "--ledger", path, "--charge", "worlds", "--mechanism", "laplace",
                "--noise", "10", "--sensitivity", "1",
            ])
        try await probe.exit()
        let window = max(0.3, 4 * Date().timeIntervalSince(probeStart)) + 0.15
        var reported = probe.stdout.components(separatedBy: "committed reservation").count - 1
        let total = 200  // plus the probe
        let wave = 20
        for _ in 0..<(total / wave) {
            var children: [Child] = []
            for _ in 0..<wave {
                let pause = Int.random(in: 0...150, using: &random)
                children.append(
                    try Child.start(
                        executable,
                        [
                            "budget", "--ledger", path, "--charge", "worlds", "--mechanism", "laplace", "--noise", "10",
                            "--sensitivity", "1", "--pause-milliseconds", "\(pause)",
                        ]))
            }
            // SIGKILL each child at a random moment of its life:
            // before it opens the ledger, between its reservation and its commit, or after.
            let start = Date()
            let schedule = children.map { ($0, Double.random(in: 0...window, using: &random)) }.sorted { $0.1 < $1.1 }
            for (child, moment) in schedule {
                let wait = moment - Date().timeIntervalSince(start)
                if wait > 0 { try await Task.sleep(for: .microseconds(Int(wait * 1_000_000))) }
                if child.process.isRunning { kill(child.process.processIdentifier, SIGKILL) }
            }
            for child in children {
                try await child.exit()
                reported += child.stdout.components(separatedBy: "committed reservation").count - 1
            }
        }
        try ledger.verify()
        let budget = try ledger.budget(dataset: "worlds")
        // Every commit a process reported is in the ledger, and what the cap is checked against
        // (commits plus reservations left pending by killed processes) covers it.
        #expect(budget.releases >= reported)
        #expect(budget.spentEpsilon >= Double(reported) / 10 - 1e-9)
        #expect(budget.heldEpsilon >= budget.spentEpsilon)
        #expect(budget.releases <= total + 1)
        print("crash test: \(reported) commits reported, \(budget.releases) in the ledger, \(budget.pending) reservations left pending by killed processes")
    }

    @Test func privacyEpsilonPrintsJSON() async throws {
        let executable = try #require(fedshareExecutable(), "build the fedshare executable first (swift build)")
        let child = try Child.start(
            executable,
            [
                "privacy", "epsilon", "--mechanism", "gaussian", "--noise", "2",
                "--sensitivity", "1", "--count", "10", "--delta", "1e-5",
                "--accountant", "rdp", "--json",
            ])
        try await child.exit()
        #expect(child.process.terminationStatus == 0)
        let object = try JSONSerialization.jsonObject(with: Data(child.stdout.utf8)) as? [String: Any]
        #expect(object?["accountant"] as? String == "rdp")
        #expect(object?["order"] as? Double == 3.9)
        #expect(abs((object?["epsilon"] as? Double ?? 0) - 8.07941) < 1e-5)
        let refused = try Child.start(
            executable,
            [
                "privacy", "epsilon", "--mechanism", "gaussian", "--noise", "2",
                "--delta", "1e-5", "--accountant", "pld",
            ])
        try await refused.exit()
        #expect(refused.process.terminationStatus != 0)
    }
}
