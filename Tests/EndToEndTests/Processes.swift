import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `fedshare` executable that `swift build --build-tests` (and `swift test`) builds next to
/// the test bundle; nil when it is missing.
func fedshareBinary() -> URL? {
    var folders: [URL] = []
    if let executable = Bundle.main.executableURL { folders.append(executable.deletingLastPathComponent()) }
    folders.append(Bundle.main.bundleURL.deletingLastPathComponent())
    folders.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
    folders.append(packageRoot.appendingPathComponent(".build/debug"))
    for start in folders {
        var folder = start
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent("fedshare")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
    }
    return nil
}

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A failure of the harness itself (a process that never reported, a port that never opened).
struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One `fedshare` child process, its standard output and error captured to files.
final class FedshareProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    init(_ name: String, arguments: [String], folder: URL) throws {
        guard let binary = fedshareBinary() else { throw HarnessError("build the fedshare executable first (swift build --build-tests)") }
        self.name = name
        stdoutURL = folder.appendingPathComponent("\(name).out")
        stderrURL = folder.appendingPathComponent("\(name).err")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.executableURL = binary
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// The JSON objects printed so far (`--json` output: one per line).
    var events: [[String: Any]] {
        stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// The phases this party reported (`{"event":"phase","detail":…}`), in order.
    var phases: [String] { events.filter { $0["event"] as? String == "phase" }.compactMap { $0["detail"] as? String } }

    func stop() { kill(pid, SIGSTOP) }
    func resume() { kill(pid, SIGCONT) }
    func killHard() { kill(pid, SIGKILL) }

    /// Waits (polling, without blocking a Swift Testing worker) until `condition` holds.
    func wait(for what: String, seconds: Double = 60, _ condition: (FedshareProcess) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(self) {
            guard process.isRunning else {
                if condition(self) { return }
                throw HarnessError("\(name) exited (status \(process.terminationStatus)) before \(what); stderr: \(stderr.suffix(600))")
            }
            guard Date() < deadline else { throw HarnessError("\(name): no \(what) within \(Int(seconds)) s; stdout: \(stdout.suffix(600))") }
            try await Task.sleep(for: .milliseconds(3))
        }
    }

    /// Waits until the party reported `phase`.
    func waitForPhase(_ phase: String) async throws {
        try await wait(for: "phase \(phase) report") { $0.phases.contains(phase) }
    }

    /// Waits for the process to exit and returns its status; kills it after `seconds`.
    @discardableResult
    func exitStatus(within seconds: Double = 90) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline {
                resume()
                killHard()
                process.waitUntilExit()
                throw HarnessError("\(name) did not exit within \(Int(seconds)) s; stderr: \(stderr.suffix(800))")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Kills it if it still runs (test clean-up after a failure).
    func reap() {
        guard process.isRunning else { return }
        resume()
        killHard()
        process.waitUntilExit()
    }
}

/// Runs `fedshare ARGUMENTS` to its end and returns (status, stdout, stderr).
func runFedshare(
    _ arguments: [String], in folder: URL, name: String, within seconds: Double = 120
) async throws
    -> (status: Int32, stdout: String, stderr: String)
{
    let child = try FedshareProcess(name, arguments: arguments, folder: folder)
    let status = try await child.exitStatus(within: seconds)
    return (status, child.stdout, child.stderr)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
func freeLoopbackPort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw HarnessError("socket() failed") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
    }
    guard named == 0 else { throw HarnessError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True once something accepts TCP connections on 127.0.0.1:`port`.
func loopbackPortAccepts(_ port: Int) -> Bool {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { return false }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
