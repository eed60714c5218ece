import FederationProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// Limits the transport enforces on every stream.
public struct TransportLimits: Sendable, Equatable {
    /// The largest serialised message either side accepts (checked from the length prefix,
    /// before the message is buffered): `WireProtocol.maximumMessageBytes` (4 MiB, PROTOCOL.md).
    public var maxMessageBytes: Int
    /// How long the server waits for a party's first message (its hello).
    public var helloTimeout: Duration

    public init(maxMessageBytes: Int = WireProtocol.maximumMessageBytes, helloTimeout: Duration = .seconds(30)) {
        self.maxMessageBytes = maxMessageBytes
        self.helloTimeout = helloTimeout
    }

    public static let `default` = TransportLimits()
}

/// A parsed `host:port` (IPv6 in brackets).
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[v6]:port`; `field` names the source in errors.
    public init(parsing text: String, field: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw FederationError.invalidAddress(field: field, value: text) }
        var host = String(text[..<colon])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { throw FederationError.invalidAddress(field: field, value: text) }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            throw FederationError.invalidAddress(field: field, value: text)
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace) else {
            throw FederationError.invalidAddress(field: field, value: text)
        }
        self.host = host
        self.port = port
    }

    public var isIPv4: Bool { FederationCertificates.ipAddressBytes(host)?.count == 4 }
    public var isIPv6: Bool { FederationCertificates.ipAddressBytes(host)?.count == 16 }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The socket address a server binds: IP literals as given, `localhost` as 127.0.0.1, any
    /// other name as every IPv4 interface (a server cannot bind a DNS name).
    var listeningAddress: GRPCNIOTransportCore.SocketAddress {
        if isIPv4 { return .ipv4(host: host, port: port) }
        if isIPv6 { return .ipv6(host: host, port: port) }
        if host.lowercased() == "localhost" { return .ipv4(host: "127.0.0.1", port: port) }
        return .ipv4(host: "0.0.0.0", port: port)
    }

    /// The target a client dials. For IP literals the server certificate must name the IP
    /// address; for names, the DNS name (sent as SNI and checked).
    var target: any ResolvableTarget {
        if isIPv4 { return .ipv4(address: host, port: port) }
        if isIPv6 { return .ipv6(address: host, port: port) }
        return .dns(host: host, port: port)
    }
}

extension FederationKit {
    /// The server side of mutual TLS: this kit's certificate and key; client certificates are
    /// required and must chain to the federation CA (the only trust root).
    var serverTransportSecurity: HTTP2ServerTransport.Posix.TransportSecurity {
        .mTLS(
            certificateChain: [.bytes(Array(certificatePEM.utf8), format: .pem)],
            privateKey: .bytes(Array(privateKeyPEM.utf8), format: .pem)
        ) { config in
            config.trustRoots = .certificates([.bytes(Array(authorityPEM.utf8), format: .pem)])
            config.clientCertificateVerification = .noHostnameVerification
            config.requireALPN = false
        }
    }

    /// The client side of mutual TLS: this kit's certificate and key; the server's certificate
    /// must chain to the federation CA and name the dialled host or IP address.
    var clientTransportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        clientCredentials().transportSecurity
    }
}

extension FederationKit.ClientCredentials {
    /// The client side of mutual TLS with these credentials: the server's certificate must
    /// chain to the federation CA and name the dialled host or IP address.
    var transportSecurity: HTTP2ClientTransport.Posix.TransportSecurity {
        .mTLS(
            certificateChain: [.bytes(Array(certificatePEM.utf8), format: .pem)],
            privateKey: .bytes(Array(privateKeyPEM.utf8), format: .pem)
        ) { config in
            config.trustRoots = .certificates([.bytes(Array(authorityPEM.utf8), format: .pem)])
            config.serverCertificateVerification = .fullVerification
        }
    }
}
