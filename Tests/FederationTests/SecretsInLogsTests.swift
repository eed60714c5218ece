import Arithmetic
import Attention
import Foundation
import Logging
import Primitives
import Synchronization
import Testing

@testable import Federation
@testable import Paillier
@testable import SecureAggregation

/// Records every log event (level, label, message, metadata, source, error) as text.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    var count: Int { lines.withLock { $0.count } }

    /// A logger at `.trace` whose every event lands here.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = .trace
        return logger
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let extra = event.metadata { all.merge(extra) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(label) [\(event.source)] \(event.message) \(fields)" + (event.error.map { " error=\($0)" } ?? ""))
    }
}

/// A secret and the ways it could be written down.
struct Secret: CustomStringConvertible {
    let what: String
    let renderings: [String]
    var description: String { what }

    static func bytes(_ what: String, _ bytes: [UInt8]) -> Secret {
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let base64 = Data(bytes).base64EncodedString()
        let base64URL = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return Secret(what: what, renderings: [hex, hex.uppercased(), base64, base64URL, "\(bytes)"])
    }

    static func integer(_ what: String, _ value: BigInt) -> Secret {
        Secret(what: what, renderings: [value.toString(radix: 10), value.toString(radix: 16), value.toString(radix: 16).uppercased(), value.base64URL])
    }

    /// Where `text` holds this secret: a whole rendering, or 24 characters of one (a truncated
    /// secret in a log is as bad as a whole one).
    func found(in text: String) -> String? {
        for rendering in renderings where rendering.count >= 8 {
            if text.contains(rendering) { return rendering }
            if rendering.count > 24 {
                let start = rendering.startIndex
                for offset in stride(from: 0, through: rendering.count - 24, by: 12) {
                    let from = rendering.index(start, offsetBy: offset)
                    let piece = String(rendering[from..<rendering.index(from, offsetBy: 24)])
                    if text.contains(piece) { return piece }
                }
            }
        }
        return nil
    }
}

/// Every byte string, secret byte buffer and large integer reachable from `value` (a party's
/// secure-aggregation client: mask and channel private keys, seed, Shamir dealers and held
/// shares, pairwise channel secrets).
func reachableSecrets(in value: Any, path: String, depth: Int = 0, into secrets: inout [Secret]) {
    guard depth < 10 else { return }
    switch value {
    case let bytes as [UInt8] where bytes.count >= 16:
        secrets.append(.bytes(path, bytes))
        return
    case let buffer as SecretBytes:
        secrets.append(.bytes(path, buffer.bytes))
        return
    case let word as UInt64 where word >= 1 << 40:
        secrets.append(Secret(what: path, renderings: [String(word), String(word, radix: 16)]))
        return
    case let integer as BigInt:
        secrets.append(.integer(path, integer))
        return
    default: break
    }
    for (index, child) in Mirror(reflecting: value).children.enumerated() {
        reachableSecrets(in: child.value, path: "\(path).\(child.label ?? String(index))", depth: depth + 1, into: &secrets)
    }
}

/// Distinctive per-party values, so that a leaked A_p cannot be confused with other numbers.
func distinctiveContribution(_ party: Int) -> AttentionResult {
    let p = Double(party)
    return AttentionResult(
        groups: ["a", "b"], anchors: ["sports", "music"],
        matrix: [1.2345678912 + p, 2.718281828 * p, 3.1415926535 + 0.1 * p, 0.5772156649 * p],
        counts: [party, 2 * party])
}

@Suite("No secret reaches a log, at any level", .serialized, .timeLimit(.minutes(2)))
struct SecretsInLogsTests {
    /// Runs one round over loopback TLS with every logger capturing at `.trace`, party 3
    /// dropping after its contribution left (Paillier: at decrypt) or before it (secure
    /// aggregation: at contribute, so the survivors reveal its mask key's shares: recovery).
    /// Every contributor is asked to decrypt, so that party 3 is asked whichever two
    /// contributions arrive first.
    func runCaptured(mode: String) async throws -> (log: LogCapture, secrets: [Secret], report: AggregatorRuntime.Report) {
        let capture = LogCapture()
        let engines = EngineBox()
        let (report, kits) = try await LoopbackFederation.with(mode: mode, logger: capture.logger("fedshare.aggregator"), committee: .everyone) { federation in
            let (report, _) = try await federation.round { id, federation in
                await runLoopbackParty(
                    kit: federation.kits[id]!, address: federation.address, ledger: federation.ledgers[id]!,
                    contribution: distinctiveContribution(id), logger: capture.logger("fedshare.party.\(id)"),
                    dropAt: id == 3 ? (mode == "paillier" ? .decrypt : .contribute) : nil, keep: engines)
            }
            return (report, federation.kits)
        }
        var secrets: [Secret] = []
        for (party, kit) in kits.sorted(by: { $0.key < $1.key }) {
            if let share = kit.keyShare { secrets.append(.integer("party \(party)'s threshold key share", share.secret)) }
            secrets.append(
                Secret(
                    what: "party \(party)'s TLS private key",
                    renderings: kit.privateKeyPEM.split(separator: "\n").filter { !$0.hasPrefix("-----") }.map(String.init)))
            // Raw A_p: the decimal values and the fixed-point integers.
            let contribution = distinctiveContribution(party)
            for (index, value) in contribution.matrix.enumerated() {
                secrets.append(Secret(what: "party \(party)'s A_p[\(index)]", renderings: ["\(value)", String(format: "%.6f", value)]))
            }
            let plan = try RoundPlan(manifest: kit.manifest)
            let fixed = try plan.encode(contribution, noise: [Int64](repeating: 0, count: plan.valueCount), parties: 3)
            for (index, value) in fixed.enumerated() where abs(value) >= 1 << 20 {
                secrets.append(Secret(what: "party \(party)'s fixed-point A_p[\(index)]", renderings: [String(value), String(value, radix: 16)]))
            }
        }
        for (party, engine) in engines.all.sorted(by: { $0.key < $1.key }) {
            for child in Mirror(reflecting: engine).children where child.label == "client" {
                reachableSecrets(in: child.value, path: "party \(party)'s secure-aggregation client", into: &secrets)
            }
        }
        return (capture, secrets, report)
    }

    @Test(arguments: ["paillier", "secagg"])
    func noSecretInTraceLogs(mode: String) async throws {
        let (capture, secrets, report) = try await runCaptured(mode: mode)
        let result = try #require(report.result, "\(report.outcome)")
        #expect(result.dropped.map(\.party) == [3])
        #expect(capture.count > 5, "the loggers captured nothing; is the capture wired?")
        if mode == "secagg" {
            #expect(secrets.contains { $0.what.contains(".seed") }, "no mask seed found to search for")
            #expect(secrets.contains { $0.what.contains("maskKey") }, "no mask private key found to search for")
        } else {
            #expect(secrets.contains { $0.what.contains("key share") })
        }
        let text = capture.text
        for secret in secrets {
            if let found = secret.found(in: text) {
                Issue.record("\(secret) appears in the logs as \(found)")
            }
        }
    }

    @Test func theSearchFindsASecretThatWasLogged() throws {
        // The control: a deliberate log line in the test's own scope is caught.
        let capture = LogCapture()
        let logger = capture.logger("fedshare.test")
        let share = BigInt(1) << 300 + BigInt(987_654_321)
        let seed: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let secrets: [Secret] = [
            .integer("a key share", share), .bytes("a seed", seed),
            Secret(what: "an A_p value", renderings: ["\(distinctiveContribution(1).matrix[0])"]),
        ]
        logger.trace("debugging", metadata: ["share": "\(share.base64URL)"])
        logger.debug("seed \(seed.map { String(format: "%02x", $0) }.joined().prefix(40))")
        logger.info("value", metadata: ["a": "\(distinctiveContribution(1).matrix[0])"])
        for secret in secrets { #expect(secret.found(in: capture.text) != nil, "\(secret) not found in \(capture.text)") }
    }
}
