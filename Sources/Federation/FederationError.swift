import Foundation

/// Everything the federation module refuses or fails at (provisioning and kits, the round,
/// the transport, a local federation), each with one actionable line naming the file, field,
/// address or party at fault.
public enum FederationError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    // MARK: The round

    /// The round's parameters do not match this side's manifest or key.
    case parameterMismatch(field: String, expected: String, found: String)
    /// A message arrived that this phase does not expect.
    case unexpectedMessage(party: Int?, received: String, phase: String)
    /// A message or contribution is malformed.
    case malformed(party: Int?, reason: String)
    /// A message belongs to another round than the one in progress.
    case wrongRound(party: Int?, found: UInt64, current: UInt64)
    /// A party's message claims another identity than its certificate proves.
    case identity(party: Int, claimed: Int)
    /// The aggregator asked for something the protocol forbids (a second opening, a sum that is
    /// not the round's, a forged or unsigned set): the party refuses and names it.
    case aggregatorRefused(party: Int, reason: String)
    /// A configuration problem (bad threshold, unknown party, no key for Paillier mode…).
    case configuration(String)
    /// This party's own data cannot be contributed (it does not fit the manifest's shape, grid or
    /// bound, or cannot be encrypted).
    case contribution(String)
    /// A noise share could not be drawn.
    case noise(String)
    /// A state the engine or runtime should never reach (a bug, not the peer's fault).
    case internalState(String)
    /// Durable state could not be read or written.
    case storage(path: String, reason: String)
    /// An output file could not be written.
    case output(file: String, reason: String)
    /// The federation directory refused a party's published catalog (forged, unsigned, stale…).
    case catalogRefused(party: Int, reason: String)
    /// The federation directory refused a query (not signed by a member party, malformed…).
    case catalogQueryRefused(party: Int, reason: String)
    /// A request for a round was refused: not signed by one of the federation's analysts,
    /// stale, replayed, over a cap, or sent to an aggregator that does not serve requests.
    case requestRefused(String)

    // MARK: Provisioning and kits

    /// The output folder already holds a federation CA and `--force` was not given.
    case existingAuthority(path: String)
    /// A file could not be read or written.
    case io(path: String, problem: String)
    /// A file exists but its content is wrong (the problem names the part at fault, if any).
    case malformedFile(path: String, problem: String)
    /// A kit or manifest setting is invalid or inconsistent.
    case invalidSetting(field: String, problem: String)
    /// A certificate failed a check (chain, validity, identity).
    case certificate(path: String, problem: String)
    /// A secret file is readable by others.
    case insecurePermissions(path: String, mode: Int)
    /// The manifest references a file that cannot travel inside a kit.
    case unsupportedManifestReference(field: String, path: String)
    /// Dealing the threshold Paillier key failed.
    case keyDealing(String)

    // MARK: The transport

    /// An address given in the manifest or on the command line is not `host:port`.
    case invalidAddress(field: String, value: String)
    /// The aggregator could not be reached (it is down, or the address is wrong).
    case unreachable(address: String, attempts: Int, seconds: Double, reason: String)
    /// The aggregator refused this participant (certificate not accepted, identity mismatch,
    /// not a member of the federation).
    case refused(address: String, reason: String)
    /// The aggregator's certificate was not acceptable (another federation's CA, wrong name).
    case untrustedAggregator(address: String, reason: String)
    /// The listening socket could not be opened.
    case cannotListen(address: String, reason: String)
    /// A peer sent a message this side refuses (identity mismatch, missing hello, too large).
    case peerViolation(party: Int?, reason: String)
    /// The stream ended or failed after it was established.
    case streamFailed(address: String, reason: String)

    // MARK: A local federation

    /// A party's input to a local federation is at fault.
    case partyInput(party: Int, problem: String)
    /// A local federation ran but released nothing, or could not prepare or write its files.
    case localRun(String)

    public var description: String {
        switch self {
        case .parameterMismatch(let field, let expected, let found):
            return "round parameter \(field): this side expects \(expected), the round announced \(found)"
        case .unexpectedMessage(let party, let received, let phase):
            return "\(party.map { "party \($0)" } ?? "aggregator") sent \(received) during phase \(phase)"
        case .malformed(let party, let reason):
            return "\(party.map { "party \($0)" } ?? "aggregator"): \(reason)"
        case .wrongRound(let party, let found, let current):
            return "\(party.map { "party \($0)" } ?? "aggregator"): message for round \(found) during round \(current)"
        case .identity(let party, let claimed):
            return "party \(party): the envelope claims party \(claimed) but the certificate says \(party)"
        case .aggregatorRefused(let party, let reason):
            return "party \(party) refuses: the aggregator \(reason)"
        case .configuration(let reason), .contribution(let reason), .noise(let reason), .internalState(let reason),
            .localRun(let reason), .requestRefused(let reason):
            return reason
        case .storage(let path, let reason):
            return "\(path): \(reason)"
        case .output(let file, let reason):
            return "\(file): \(reason)"
        case .catalogRefused(let party, let reason):
            return "party \(party)'s catalog is refused: \(reason)"
        case .catalogQueryRefused(let party, let reason):
            return "party \(party)'s catalog query is refused: \(reason)"
        case .existingAuthority(let path):
            return "\(path): a federation CA already exists here; pass --force to replace it (every existing kit becomes useless)"
        case .io(let path, let problem), .malformedFile(let path, let problem), .certificate(let path, let problem):
            return "\(path): \(problem)"
        case .invalidSetting(let field, let problem):
            return "\(field): \(problem)"
        case .insecurePermissions(let path, let mode):
            return "\(path): secret file is accessible by others (mode \(String(mode, radix: 8))); run chmod 600 \(path)"
        case .unsupportedManifestReference(let field, let path):
            return "manifest field \(field): \(path) is outside the manifest's folder; move it beside the manifest (or below it) so that kits can carry it"
        case .keyDealing(let problem):
            return "dealing the threshold Paillier key failed: \(problem)"
        case .invalidAddress(let field, let value):
            return "\(field): expected host:port (or [ipv6]:port) with a port from 0 to 65535, found \"\(value)\""
        case .unreachable(let address, let attempts, let seconds, let reason):
            return
                "cannot reach the aggregator at \(address) after \(attempts) attempt\(attempts == 1 ? "" : "s") in \(String(format: "%.1f", seconds)) s (\(reason)); is it running, and is the address in the manifest right?"
        case .refused(let address, let reason):
            return "the aggregator at \(address) refused this participant: \(reason)"
        case .untrustedAggregator(let address, let reason):
            return "the server at \(address) is not this federation's aggregator: \(reason)"
        case .cannotListen(let address, let reason):
            return "cannot listen on \(address): \(reason)"
        case .peerViolation(let party, let reason):
            return "\(party.map { "party \($0)" } ?? "a peer"): \(reason)"
        case .streamFailed(let address, let reason):
            return "the connection to \(address) failed: \(reason)"
        case .partyInput(let party, let problem):
            return "party \(party): \(problem)"
        }
    }

    public var errorDescription: String? { description }

    /// Whether this is the transport's own verdict on a connection (not a round or kit error
    /// that travelled through it).
    public var isTransport: Bool {
        switch self {
        case .invalidAddress, .unreachable, .refused, .untrustedAggregator, .cannotListen, .peerViolation, .streamFailed: true
        default: false
        }
    }
}
