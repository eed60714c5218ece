import Arithmetic
import Attention
import Crypto
import FederationProtocol
import Foundation
import Manifest
import Paillier
import Primitives
import X509

/// A participant's startup kit, loaded and checked: the manifest, the federation CA, the
/// participant's own certificate and private key, and (Paillier mode) the threshold public key
/// and, for a party, its key share. An analyst's kit holds no threshold key or share.
///
/// Made by ``Provisioner``; read by `fedshare aggregator|party|status` and by the transport.
public struct FederationKit: Sendable {
    /// The kit folder.
    public let folder: URL
    public let role: FederationRole
    public let manifest: FederationManifest
    /// The federation CA certificate (the only trust root of the transport).
    public let authority: Certificate
    /// This participant's certificate.
    public let certificate: Certificate
    /// PEM text of the CA certificate and of this participant's certificate.
    public let authorityPEM: String
    public let certificatePEM: String
    /// PEM text of this participant's private key (secret; for the TLS configuration only).
    let privateKeyPEM: String
    /// The threshold Paillier public key (Paillier mode).
    public let thresholdPublicKey: ThresholdPublicKey?
    /// This party's threshold key share (parties, Paillier mode). Secret.
    public let keyShare: ThresholdKeyShare?
    /// Hex SHA-256 of the certificates' DER encodings (colon-separated pairs).
    public let authorityFingerprint: String
    public let certificateFingerprint: String
    /// Problems that do not stop the kit from working yet (certificates expiring soon).
    public let warnings: [String]

    /// The party id (nil for the aggregator and analysts).
    public var partyID: Int? {
        if case .party(let id) = role { return id }
        return nil
    }

    /// The analyst's name (nil for the aggregator and parties).
    public var analystName: String? {
        if case .analyst(let name) = role { return name }
        return nil
    }

    /// The index of party `id` in the threshold key: its rank among the manifest's party ids
    /// in ascending order, from 1 (so parties [1, 2, 3] keep their ids). Both the dealer and
    /// every combiner use this mapping.
    public static func shareIndex(ofParty id: Int, in manifest: FederationManifest) -> Int? {
        manifest.parties.sorted().firstIndex(of: id).map { $0 + 1 }
    }

    /// Loads and checks a kit folder.
    ///
    /// Checks: `kit.json`'s format; the manifest loads and is byte-identical to the one
    /// provisioned; the certificate chains to the kit's CA, is valid at `now`, and names this
    /// kit's role; the private key matches the certificate and is not readable by others; the
    /// party is still in the manifest; the threshold key matches the manifest, and the key share
    /// matches the key and its verification key.
    ///
    /// - Parameters:
    ///   - keyPolicy: `.insecureTestOnly` accepts threshold keys below 2048 bits (tests only).
    /// - Throws: ``FederationError`` (or the manifest's `ManifestError`, or the key's
    ///   `PaillierError`) naming the file and field at fault.
    public static func load(from folder: URL, now: Date = Date(), keyPolicy: KeySizePolicy = .production) throws -> FederationKit {
        let folder = folder.standardizedFileURL
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw FederationError.io(path: folder.path, problem: "no such kit folder (make kits with fedshare provision)")
        }
        let descriptorURL = folder.appendingPathComponent(KitDescriptor.fileName)
        let descriptor: KitDescriptor
        let role: FederationRole
        do {
            descriptor = try KitDescriptor.decode(KitFiles.read(descriptorURL, limit: 1 << 20))
            switch try descriptor.holder() {
            case .aggregator: role = .aggregator
            case .party(let id): role = .party(id)
            case .analyst(let name):
                if let problem = FederationManifest.AnalystsSection.problem(withName: name) {
                    throw FederationError.malformedFile(path: descriptorURL.path, problem: "field \"analyst\": \(problem)")
                }
                role = .analyst(name)
            }
        } catch let problem as KitDescriptor.Problem {
            throw FederationError.malformedFile(path: descriptorURL.path, problem: problem.description)
        }
        /// A file named by kit.json (``KitDescriptor/decode(_:)`` checked it stays inside the kit).
        func file(_ name: String) -> URL { folder.appendingPathComponent(name) }

        // Manifest.
        let manifestURL = file(descriptor.manifest)
        let manifest = try FederationManifest.load(from: manifestURL)
        guard Base16.encode(manifest.digest) == descriptor.manifestSHA256.lowercased() else {
            throw FederationError.malformedFile(
                path: manifestURL.path,
                problem: "changed since provisioning (its SHA-256 differs from kit.json); every participant must hold the provisioned manifest")
        }
        guard manifest.name == descriptor.federation else {
            throw FederationError.malformedFile(
                path: descriptorURL.path, problem: "field \"federation\" is \"\(descriptor.federation)\" but the manifest names \"\(manifest.name)\"")
        }
        if case .party(let id) = role, !manifest.parties.contains(id) {
            throw FederationError.invalidSetting(
                field: "\(manifestURL.lastPathComponent) federation.parties",
                problem: "party \(id) is not a member \(manifest.parties) (removed from the federation?)")
        }
        if case .analyst(let name) = role, !manifest.analysts.names.contains(name) {
            throw FederationError.invalidSetting(
                field: "\(manifestURL.lastPathComponent) analysts.names",
                problem: "analyst \(name) is not listed \(manifest.analysts.names) (removed from the federation?)")
        }

        // Certificates and key.
        let authorityURL = file(descriptor.caCertificate)
        let certificateURL = file(descriptor.certificate)
        let keyURL = file(descriptor.privateKey)
        let authorityPEM = try text(authorityURL)
        let certificatePEM = try text(certificateURL)
        let authority = try parseCertificate(authorityPEM, path: authorityURL.path)
        let certificate = try parseCertificate(certificatePEM, path: certificateURL.path)
        guard (try? authority.extensions.basicConstraints) == .isCertificateAuthority(maxPathLength: 0),
            authority.issuer == authority.subject,
            authority.publicKey.isValidSignature(authority.signature, for: authority)
        else {
            throw FederationError.certificate(path: authorityURL.path, problem: "not a federation CA certificate (self-signed, CA:true)")
        }
        try FederationCertificates.checkValidity(authority, at: now, source: authorityURL.path)
        try FederationCertificates.checkIssued(certificate, by: authority, at: now, source: certificateURL.path)
        let certifiedRole = try FederationCertificates.role(of: certificate, source: certificateURL.path)
        guard certifiedRole == role else {
            throw FederationError.certificate(path: certificateURL.path, problem: "certifies \(certifiedRole) but kit.json says this kit is \(role)'s")
        }
        try KitFiles.checkPrivate(keyURL)
        let privateKeyPEM = try text(keyURL)
        let privateKey: P256.Signing.PrivateKey
        do { privateKey = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM) } catch {
            throw FederationError.malformedFile(path: keyURL.path, problem: "not a P-256 private key in PEM form")
        }
        guard Certificate.PublicKey(privateKey.publicKey) == certificate.publicKey else {
            throw FederationError.malformedFile(path: keyURL.path, problem: "does not belong to \(certificateURL.lastPathComponent) (mixed-up kits?)")
        }

        // Threshold key.
        var thresholdPublicKey: ThresholdPublicKey?
        var keyShare: ThresholdKeyShare?
        if case .analyst = role {
            // An analyst holds no part of the threshold key, whatever the mode.
            if descriptor.keyShare != nil {
                throw FederationError.malformedFile(path: descriptorURL.path, problem: "field \"keyShare\": an analyst's kit holds no key share")
            }
        } else if let name = descriptor.thresholdPublicKey {
            let url = file(name)
            let key: ThresholdPublicKey
            do { key = try ThresholdPublicKey(jsonData: try KitFiles.read(url), policy: keyPolicy) } catch let error as PaillierError {
                throw FederationError.malformedFile(path: url.path, problem: "\(error)")
            }
            guard key.threshold == manifest.threshold, key.parties == manifest.parties.count else {
                throw FederationError.malformedFile(
                    path: url.path,
                    problem: "a \(key.threshold)-of-\(key.parties) key, but the manifest asks for \(manifest.threshold) of \(manifest.parties.count) parties")
            }
            if keyPolicy == .production, key.bits < manifest.crypto.keyBits {
                throw FederationError.malformedFile(
                    path: url.path, problem: "a \(key.bits)-bit key, but the manifest asks for crypto.key_bits = \(manifest.crypto.keyBits)")
            }
            thresholdPublicKey = key
            if case .party(let id) = role {
                guard let shareName = descriptor.keyShare else {
                    throw FederationError.malformedFile(
                        path: descriptorURL.path, problem: "field \"keyShare\" is missing (a party kit with a threshold key needs its share)")
                }
                let shareURL = file(shareName)
                try KitFiles.checkPrivate(shareURL)
                var shareData = try KitFiles.read(shareURL)
                defer { shareData.resetBytes(in: 0..<shareData.count) }
                let share: ThresholdKeyShare
                do {
                    share = try ThresholdKeyShare(jsonData: shareData, publicKey: key)
                    try share.verify(against: key)
                } catch let error as PaillierError {
                    throw FederationError.malformedFile(path: shareURL.path, problem: "\(error)")
                }
                guard share.party == shareIndex(ofParty: id, in: manifest) else {
                    throw FederationError.malformedFile(
                        path: shareURL.path,
                        problem: "share \(share.party) does not belong to party \(id) (expected share \(shareIndex(ofParty: id, in: manifest) ?? 0))")
                }
                keyShare = share
            }
        } else if manifest.crypto.mode == .paillier {
            throw FederationError.malformedFile(
                path: descriptorURL.path, problem: "field \"thresholdPublicKey\" is missing, but the manifest's crypto.mode is paillier")
        }

        var warnings: [String] = []
        for (what, cert) in [("the federation CA", authority), ("this kit's certificate", certificate)] {
            let remaining = cert.notValidAfter.timeIntervalSince(now)
            if remaining < 30 * 86_400 {
                warnings.append(
                    "\(what) expires on \(FederationCertificates.timestamp(cert.notValidAfter)) (in \(max(0, Int(remaining / 86_400))) days); provision the federation again before then"
                )
            }
        }
        return FederationKit(
            folder: folder, role: role, manifest: manifest, authority: authority, certificate: certificate,
            authorityPEM: authorityPEM, certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM,
            thresholdPublicKey: thresholdPublicKey, keyShare: keyShare,
            authorityFingerprint: FederationCertificates.fingerprint(authority),
            certificateFingerprint: FederationCertificates.fingerprint(certificate), warnings: warnings)
    }

    /// What this kit presents as a TLS client: its certificate and private key, and the
    /// federation CA it trusts. Any kit has them (a party's and an analyst's certificate are
    /// client certificates; the aggregator's is too, for `fedshare status`), and the aggregator
    /// tells the roles apart by the certificate (``FederationCertificates/role(of:source:)``).
    public func clientCredentials() -> ClientCredentials {
        ClientCredentials(
            role: role, certificate: certificate, certificatePEM: certificatePEM, privateKeyPEM: privateKeyPEM,
            authority: authority, authorityPEM: authorityPEM)
    }

    /// An analyst kit's TLS client credentials (``clientCredentials()``), refused for any other kit.
    /// - Throws: ``FederationError/configuration(_:)`` naming the kit's role.
    public func analystCredentials() throws -> ClientCredentials {
        guard analystName != nil else {
            throw FederationError.configuration("\(folder.path) is \(role)'s kit; an analyst needs its own analyst-NAME/ kit")
        }
        return clientCredentials()
    }

    /// A party kit's signing credentials: its certificate's key, checked against this federation's CA.
    public func partyCredentials(now: @escaping @Sendable () -> Date = { Date() }) throws -> PartyCredentials {
        guard partyID != nil else { throw FederationError.configuration("\(role)'s kit has no party credentials") }
        return PartyCredentials(signer: try signer(), verifier: PeerVerifier(authority: authority, now: now))
    }

    /// What this kit signs with: its certificate's key (a party's contributions and catalogs, an
    /// analyst's requests).
    public func signer() throws -> MemberSigner {
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: privateKeyPEM) } catch {
            throw FederationError.configuration("\(folder.path): the private key is not a P-256 key in PEM form")
        }
        return try MemberSigner(role: role, key: key, certificate: certificate)
    }

    /// A kit's identity as a TLS client (``FederationKit/clientCredentials()``).
    public struct ClientCredentials: Sendable {
        /// Whom the certificate speaks for.
        public let role: FederationRole
        public let certificate: Certificate
        public let certificatePEM: String
        /// PEM text of the private key (secret; for the TLS configuration only).
        let privateKeyPEM: String
        /// The federation CA: the only trust root for the aggregator's certificate.
        public let authority: Certificate
        public let authorityPEM: String
    }

    private static func text(_ url: URL) throws -> String {
        guard let text = String(data: try KitFiles.read(url, limit: 1 << 20), encoding: .utf8) else {
            throw FederationError.malformedFile(path: url.path, problem: "not UTF-8 text")
        }
        return text
    }

    private static func parseCertificate(_ pem: String, path: String) throws -> Certificate {
        do { return try Certificate(pemEncoded: pem) } catch {
            throw FederationError.malformedFile(path: path, problem: "not a PEM certificate")
        }
    }
}
