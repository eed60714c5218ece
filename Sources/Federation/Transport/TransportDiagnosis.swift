import Foundation
import GRPCCore

/// Turns gRPC, NIO and TLS errors into ``TransportError``s a person can act on.
///
/// gRPC reports most connection failures as `UNAVAILABLE` with the underlying NIO or BoringSSL
/// error as its cause; the TLS alert the aggregator sent (unknown CA, expired certificate…)
/// appears only in that cause's text, so the classification reads it.
enum TransportDiagnosis {
    /// The error and its chain of causes as one line.
    static func text(of error: any Error) -> String {
        var parts: [String] = []
        var current: (any Error)? = error
        var depth = 0
        while let error = current, depth < 6 {
            depth += 1
            switch error {
            case let rpc as RPCError:
                parts.append("\(rpc.code): \(rpc.message)")
                current = rpc.cause
            case let runtime as RuntimeError:
                parts.append(runtime.message)
                current = runtime.cause
            default:
                parts.append(String(describing: error))
                current = nil
            }
        }
        return parts.filter { !$0.isEmpty }.joined(separator: " — ").replacingOccurrences(of: "\n", with: " ")
    }

    /// Rejections the aggregator signals with a TLS alert, and what they mean for this party.
    private static let alerts: [(pattern: String, meaning: String)] = [
        ("ALERT_UNKNOWN_CA", "it does not trust this kit's certificate (issued by another CA: a kit from another provisioning of the federation?)"),
        ("ALERT_CERTIFICATE_EXPIRED", "this kit's certificate has expired (provision the federation again)"),
        ("ALERT_CERTIFICATE_REVOKED", "this kit's certificate was revoked"),
        ("ALERT_BAD_CERTIFICATE", "it rejected this kit's certificate (bad certificate: expired, not yet valid, or from another CA)"),
        ("ALERT_CERTIFICATE_UNKNOWN", "it rejected this kit's certificate"),
        ("ALERT_UNSUPPORTED_CERTIFICATE", "it rejected this kit's certificate (unsupported certificate)"),
        ("ALERT_CERTIFICATE_REQUIRED", "it requires a client certificate"),
        ("ALERT_ACCESS_DENIED", "access denied"),
        ("ALERT_HANDSHAKE_FAILURE", "the TLS handshake failed (does the kit match this federation?)"),
    ]

    /// Classifies a failure of one attempt to talk to the aggregator.
    static func classify(_ error: any Error, address: String, attempts: Int, seconds: Double, connected: Bool = false) -> TransportError {
        if let transport = error as? TransportError {
            if case .unreachable(let address, _, _, let reason) = transport {
                return .unreachable(address: address, attempts: attempts, seconds: seconds, reason: reason)
            }
            return transport
        }
        let text = text(of: error)
        let upper = text.uppercased()
        for alert in alerts where upper.contains(alert.pattern) {
            return .refused(address: address, reason: alert.meaning)
        }
        if text.contains("failedToValidateHostname") {
            return .untrustedAggregator(address: address, reason: "its certificate does not name the host dialled (is the address right?)")
        }
        if upper.contains("CERTIFICATE_VERIFY_FAILED") || upper.contains("UNABLE TO GET LOCAL ISSUER")
            || upper.contains("SELF SIGNED") || upper.contains("SELF-SIGNED") {
            return .untrustedAggregator(
                address: address,
                reason: "its certificate is not signed by this federation's CA (a kit from another provisioning, or another server?)")
        }
        if let rpc = error as? RPCError {
            switch rpc.code {
            case .permissionDenied, .unauthenticated:
                return .refused(address: address, reason: rpc.message)
            case .unavailable where connected:
                return .streamFailed(address: address, reason: "the aggregator closed the stream (\(shorten(rpc.message)))")
            case .unavailable:
                return .unreachable(address: address, attempts: attempts, seconds: seconds, reason: connectionProblem(text))
            case .deadlineExceeded:
                return .streamFailed(address: address, reason: "timed out (\(rpc.message))")
            default:
                return .streamFailed(address: address, reason: shorten(text))
            }
        }
        if upper.contains("CONNECTION REFUSED") || upper.contains("ECONNREFUSED") || upper.contains("CONNECT TIMEOUT")
            || upper.contains("NO ROUTE") || upper.contains("UNREACHABLE") {
            return .unreachable(address: address, attempts: attempts, seconds: seconds, reason: connectionProblem(text))
        }
        return .streamFailed(address: address, reason: shorten(text))
    }

    /// The usual connection failures in a few words; anything else shortened.
    private static func connectionProblem(_ text: String) -> String {
        let lower = text.lowercased()
        if lower.contains("connection refused") { return "connection refused" }
        if lower.contains("timed out") || lower.contains("timeout") { return "connection timed out" }
        if lower.contains("no route") || lower.contains("unreachable") { return "no route to host" }
        if lower.contains("resolve") || lower.contains("name or service") || lower.contains("lookup") { return "cannot resolve the host name" }
        if lower.contains("preface") || lower.contains("closed") { return "the server closed the connection" }
        return shorten(text)
    }

    private static func shorten(_ text: String) -> String {
        text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}
