import Foundation

/// Why the federation transport could not connect, or dropped a peer. Each description is one
/// line naming the address or party and what to do.
public enum TransportError: Error, CustomStringConvertible, LocalizedError, Sendable, Equatable {
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

    public var description: String {
        switch self {
        case .invalidAddress(let field, let value):
            return "\(field): expected host:port (or [ipv6]:port) with a port from 0 to 65535, found \"\(value)\""
        case .unreachable(let address, let attempts, let seconds, let reason):
            return "cannot reach the aggregator at \(address) after \(attempts) attempt\(attempts == 1 ? "" : "s") in \(String(format: "%.1f", seconds)) s (\(reason)); is it running, and is the address in the manifest right?"
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
        }
    }

    public var errorDescription: String? { description }
}
