import Crypto
import Foundation
import Manifest
import Primitives
import SwiftASN1
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who a federation certificate speaks for.
public enum FederationRole: Sendable, Hashable, CustomStringConvertible {
    case aggregator
    case party(Int)
    /// A person who requests rounds from the aggregator (issue 14), by analyst name
    /// (`FederationManifest.AnalystsSection.problem(withName:)` says which names are valid).
    case analyst(String)

    /// The kit folder name and certificate common name: `aggregator`, `party-N` or `analyst-NAME`.
    public var name: String {
        switch self {
        case .aggregator: return "aggregator"
        case .party(let id): return "party-\(id)"
        case .analyst(let name): return "analyst-\(name)"
        }
    }

    public var description: String {
        switch self {
        case .aggregator: return "the aggregator"
        case .party(let id): return "party \(id)"
        case .analyst(let name): return "analyst \(name)"
        }
    }
}

/// The federation's X.509 profile: a P-256 ECDSA certificate authority per federation, one
/// server certificate for the aggregator and one client certificate per party and per analyst.
///
/// A party certificate encodes its party id twice, and both must agree: the subject's common
/// name `party-N` (for people reading it) and a URI subject alternative name
/// `fedshare:party:N` (the field the aggregator checks). An analyst's certificate does the same
/// with `analyst-NAME` and `fedshare:analyst:NAME`. The aggregator's certificate carries
/// `fedshare:aggregator` and the DNS names / IP addresses parties dial.
public enum FederationCertificates {
    /// The URI SAN prefix of a party certificate; the party id follows in decimal.
    public static let partyURIPrefix = "fedshare:party:"
    /// The URI SAN prefix of an analyst certificate; the analyst's name follows.
    public static let analystURIPrefix = "fedshare:analyst:"
    /// The URI SAN of the aggregator's certificate.
    public static let aggregatorURI = "fedshare:aggregator"
    /// Certificates become valid a little before they are made, so that a peer whose clock is
    /// slightly behind still accepts them.
    public static let clockSkewAllowance: TimeInterval = 5 * 60

    /// A certificate with its private key.
    public struct Issued: Sendable {
        public let certificate: Certificate
        /// The private key as PKCS#8 PEM text (secret). Kept as text because swift-crypto's key
        /// type is not `Sendable` on every platform.
        public let privateKeyPEM: String

        public init(certificate: Certificate, privateKey: P256.Signing.PrivateKey) {
            self.certificate = certificate
            self.privateKeyPEM = privateKey.pemRepresentation
        }

        /// The private key.
        public func privateKey() throws -> P256.Signing.PrivateKey {
            try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        }

        /// The certificate as PEM text.
        public func certificatePEM() throws -> String { try certificate.serializeAsPEM().pemString }
    }

    /// Makes a self-signed federation certificate authority (may sign end-entity certificates only).
    public static func makeAuthority(federation: String, notBefore: Date, notAfter: Date) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName(federation)
            CommonName("\(federation) federation CA")
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
            Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: randomSerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key))
        return Issued(certificate: certificate, privateKey: key)
    }

    /// Issues the certificate of `role`, signed by `authority`.
    ///
    /// - Parameters:
    ///   - hosts: for the aggregator, the DNS names and IP addresses parties dial (see
    ///     ``subjectAlternativeHosts(forAddress:)``); ignored for parties and analysts.
    /// - Throws: ``FederationError/invalidSetting(field:problem:)`` for an invalid analyst name.
    public static func issue(
        role: FederationRole, federation: String, hosts: [String] = [], authority: Issued,
        notBefore: Date, notAfter: Date
    ) throws -> Issued {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            OrganizationName(federation)
            CommonName(role.name)
        }
        var names: [GeneralName] = []
        let usage: ExtendedKeyUsage
        switch role {
        case .aggregator:
            names.append(.uniformResourceIdentifier(aggregatorURI))
            for host in hosts {
                if let address = ipAddressBytes(host) {
                    names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(address))))
                } else {
                    names.append(.dnsName(host))
                }
            }
            // clientAuth too, so that `fedshare status` can use the aggregator's own kit.
            usage = try ExtendedKeyUsage([.serverAuth, .clientAuth])
        case .party(let id):
            names.append(.uniformResourceIdentifier(partyURIPrefix + String(id)))
            usage = try ExtendedKeyUsage([.clientAuth])
        case .analyst(let name):
            if let problem = FederationManifest.AnalystsSection.problem(withName: name) {
                throw FederationError.invalidSetting(field: "analyst name", problem: problem)
            }
            names.append(.uniformResourceIdentifier(analystURIPrefix + name))
            usage = try ExtendedKeyUsage([.clientAuth])
        }
        let authorityKeyID = try authority.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true))
            usage
            SubjectAlternativeNames(names)
            SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            AuthorityKeyIdentifier(keyIdentifier: authorityKeyID)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: randomSerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: authority.certificate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(try authority.privateKey()))
        return Issued(certificate: certificate, privateKey: key)
    }

    /// The names to put in the aggregator's certificate for a manifest address `host:port`:
    /// the host itself, and for a loopback or wildcard host also `localhost`, `127.0.0.1` and
    /// `::1` (so local runs work whichever of them a party dials).
    public static func subjectAlternativeHosts(forAddress address: String) -> [String] {
        let host = hostPart(of: address)
        var hosts = [host]
        let lowered = host.lowercased()
        let loopback =
            lowered == "localhost" || lowered.hasPrefix("127.") || lowered == "::1"
            || lowered == "0.0.0.0" || lowered == "::"
        if loopback {
            for extra in ["localhost", "127.0.0.1", "::1"] where !hosts.contains(extra) { hosts.append(extra) }
        }
        return hosts
    }

    /// The host of `host:port` or `[v6]:port`, brackets removed.
    public static func hostPart(of address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host
    }

    /// The role a federation certificate speaks for, from its URI subject alternative name,
    /// cross-checked against its common name.
    ///
    /// - Throws: ``FederationError/certificate(path:problem:)`` (with `source` as the path)
    ///   when the certificate names no role, several roles, or a common name that disagrees.
    public static func role(of certificate: Certificate, source: String = "peer certificate") throws -> FederationRole {
        let names: SubjectAlternativeNames?
        do { names = try certificate.extensions.subjectAlternativeNames } catch {
            throw FederationError.certificate(path: source, problem: "unreadable subject alternative names")
        }
        var roles: [FederationRole] = []
        for name in names ?? SubjectAlternativeNames() {
            guard case .uniformResourceIdentifier(let uri) = name else { continue }
            if uri == aggregatorURI {
                roles.append(.aggregator)
            } else if uri.hasPrefix(partyURIPrefix) {
                let digits = uri.dropFirst(partyURIPrefix.count)
                guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
                    let id = Int(digits), id >= 1
                else {
                    throw FederationError.certificate(path: source, problem: "malformed party identity \"\(uri)\"")
                }
                roles.append(.party(id))
            } else if uri.hasPrefix(analystURIPrefix) {
                let name = String(uri.dropFirst(analystURIPrefix.count))
                if let problem = FederationManifest.AnalystsSection.problem(withName: name) {
                    throw FederationError.certificate(path: source, problem: "malformed analyst identity \"\(uri)\": \(problem)")
                }
                roles.append(.analyst(name))
            }
        }
        guard let role = roles.first else {
            throw FederationError.certificate(
                path: source, problem: "not a fedshare certificate (no fedshare:party:N, fedshare:analyst:NAME or fedshare:aggregator name)")
        }
        guard roles.count == 1 else {
            throw FederationError.certificate(path: source, problem: "names several identities (\(roles.map(\.name).joined(separator: ", ")))")
        }
        let commonNames = certificate.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }
        guard commonNames.count == 1, let commonName = String(commonNames[0].value), commonName == role.name else {
            throw FederationError.certificate(path: source, problem: "common name does not match its identity \(role.name)")
        }
        return role
    }

    /// The DER encoding of `certificate`.
    public static func derBytes(_ certificate: Certificate) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return serializer.serializedBytes
    }

    /// The SHA-256 fingerprint of a certificate's DER encoding, as lower-case hex pairs joined
    /// by colons (the form `openssl x509 -fingerprint -sha256` prints, in lower case).
    public static func fingerprint(_ certificate: Certificate) -> String {
        guard let der = try? derBytes(certificate) else { return "unencodable" }
        return Primitives.SHA256.hash(der).map { byte in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined(separator: ":")
    }

    /// Checks that `certificate` was signed by `authority` and is valid at `time`.
    ///
    /// - Throws: ``FederationError/certificate(path:problem:)`` naming `source`.
    public static func checkIssued(_ certificate: Certificate, by authority: Certificate, at time: Date, source: String) throws {
        guard certificate.issuer == authority.subject,
            authority.publicKey.isValidSignature(certificate.signature, for: certificate)
        else {
            throw FederationError.certificate(path: source, problem: "not signed by this federation's CA (\(fingerprint(authority).prefix(23))…)")
        }
        try checkValidity(certificate, at: time, source: source)
    }

    /// Checks that `time` lies within the certificate's validity period.
    public static func checkValidity(_ certificate: Certificate, at time: Date, source: String) throws {
        if time < certificate.notValidBefore {
            throw FederationError.certificate(path: source, problem: "not valid before \(timestamp(certificate.notValidBefore)) (check this machine's clock)")
        }
        if time > certificate.notValidAfter {
            throw FederationError.certificate(path: source, problem: "expired on \(timestamp(certificate.notValidAfter)); provision the federation again")
        }
    }

    /// An ISO 8601 UTC timestamp.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// 16 random bytes from the CSPRNG, high bit clear (a positive INTEGER), not all zero.
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var bytes = SecureRandom.bytes(16)
        bytes[0] &= 0x7F
        bytes[0] |= 0x01
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// The 4 or 16 network-order bytes of an IPv4 or IPv6 literal, or nil for a name.
    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
