import Foundation
import GRPCCore
import X509

/// Turns gRPC, NIO and TLS errors into ``FederationError``s a person can act on.
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
    private static let alerts: [(pattern: String, name: String, meaning: String)] = [
        (
            "ALERT_UNKNOWN_CA", "unknown_ca",
            "it does not trust this kit's certificate: signed by another CA (a kit from another provisioning of the federation?)"
        ),
        ("ALERT_CERTIFICATE_EXPIRED", "certificate_expired", "this kit's certificate is expired or not yet valid by the aggregator's clock"),
        ("ALERT_CERTIFICATE_REVOKED", "certificate_revoked", "this kit's certificate was revoked"),
        ("ALERT_BAD_CERTIFICATE", "bad_certificate", "it rejected this kit's certificate (bad certificate)"),
        ("ALERT_CERTIFICATE_UNKNOWN", "certificate_unknown", "it rejected this kit's certificate"),
        ("ALERT_UNSUPPORTED_CERTIFICATE", "unsupported_certificate", "it rejected this kit's certificate (unsupported certificate)"),
        ("ALERT_CERTIFICATE_REQUIRED", "certificate_required", "it requires a client certificate"),
        ("ALERT_DECRYPT_ERROR", "decrypt_error", "the signature on this kit's certificate does not verify under the federation CA"),
        ("ALERT_ACCESS_DENIED", "access_denied", "access denied"),
        ("ALERT_HANDSHAKE_FAILURE", "handshake_failure", "the TLS handshake failed (does the kit match this federation?)"),
    ]

    /// What a `certificate_expired` alert means for `certificate` at `now`: BoringSSL sends the
    /// same alert for an expired and a not-yet-valid certificate, so the party's own copy of the
    /// dates tells which (or that the two clocks disagree).
    static func expiryMeaning(of certificate: Certificate, at now: Date) -> String {
        let from = FederationCertificates.timestamp(certificate.notValidBefore)
        let until = FederationCertificates.timestamp(certificate.notValidAfter)
        if now > certificate.notValidAfter { return "this kit's certificate expired on \(until) (provision the federation again)" }
        if now < certificate.notValidBefore { return "this kit's certificate is not valid before \(from) (check this machine's clock)" }
        return "this kit's certificate (valid from \(from) to \(until)) is expired or not yet valid by the aggregator's clock (check the aggregator's clock)"
    }

    /// Classifies a failure of one attempt to talk to the aggregator.
    ///
    /// - Parameter certificate: this party's certificate, to tell an expired certificate from a
    ///   not-yet-valid one when the aggregator's TLS alert cannot.
    static func classify(
        _ error: any Error, address: String, attempts: Int, seconds: Double, connected: Bool = false,
        certificate: Certificate? = nil, now: Date = Date()
    ) -> FederationError {
        if let transport = error as? FederationError, transport.isTransport {
            if case .unreachable(let address, _, _, let reason) = transport {
                return .unreachable(address: address, attempts: attempts, seconds: seconds, reason: reason)
            }
            return transport
        }
        let text = text(of: error)
        let upper = text.uppercased()
        for alert in alerts where upper.contains(alert.pattern) {
            var meaning = alert.meaning
            if alert.pattern == "ALERT_CERTIFICATE_EXPIRED", let certificate { meaning = expiryMeaning(of: certificate, at: now) }
            return .refused(address: address, reason: "\(meaning) (TLS alert \(alert.name))")
        }
        if text.contains("failedToValidateHostname") {
            return .untrustedAggregator(address: address, reason: "its certificate does not name the host dialled (is the address right?)")
        }
        if upper.contains("CERTIFICATE_VERIFY_FAILED") || upper.contains("UNABLE TO GET LOCAL ISSUER")
            || upper.contains("SELF SIGNED") || upper.contains("SELF-SIGNED")
        {
            return .untrustedAggregator(
                address: address,
                reason: "its certificate is not signed by this federation's CA (a kit from another provisioning, or another server?)")
        }
        if connected, upper.contains("I/O ON CLOSED CHANNEL") || upper.contains("IOONCLOSEDCHANNEL") {
            return .streamFailed(address: address, reason: "the aggregator closed the stream while this party was sending")
        }
        if let rpc = error as? RPCError {
            switch rpc.code {
            case .permissionDenied, .unauthenticated:
                return .refused(address: address, reason: rpc.message)
            case .resourceExhausted:
                return .streamFailed(address: address, reason: "the aggregator cut the stream: \(shorten(rpc.message))")
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
            || upper.contains("NO ROUTE") || upper.contains("UNREACHABLE")
        {
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
