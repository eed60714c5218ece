import Arithmetic
import Attention
import FederationProtocol
import Foundation
import Manifest
import Paillier
import Primitives
import X509

/// One-time setup of a federation (the trusted-dealer model, Papers/design.md §2): a certificate
/// authority, the aggregator's, every party's and every analyst's certificate, the threshold
/// Paillier key, and a startup kit folder per participant.
///
/// Output layout (`DIR` is the output folder):
/// ```
/// DIR/ca/ca.pem, ca-key.pem (0600), issued.json      the operator keeps these
/// DIR/aggregator/kit.json, manifest.toml (+ the files it names), ca.pem, cert.pem,
///                key.pem (0600), threshold-public-key.json
/// DIR/party-N/   the same, plus key-share.json (0600)
/// DIR/analyst-NAME/  per [analysts] name: kit.json, manifest.toml (+ files), ca.pem,
///                cert.pem, key.pem (0600); no threshold key, no key share
/// ```
/// Folders are 0700. Everything is written into a staging folder inside `DIR` and moved into
/// place only when complete, so a failure leaves no half-written kit.
public enum Provisioner {
    /// How to provision.
    public struct Options: Sendable {
        /// Replace an existing CA and kits.
        public var force = false
        /// Validity of the CA and of every certificate, in days from `now`.
        public var validityDays = 365
        /// The start of validity (tests move it to make expired certificates).
        public var now = Date()
        /// The modulus size of the threshold key; nil: the manifest's `[crypto] key_bits`.
        public var keyBits: Int?
        /// `.insecureTestOnly` allows keys below 2048 bits (tests only).
        public var keyPolicy: KeySizePolicy = .production
        /// A key dealt beforehand (simulation fixtures) instead of dealing one here; its
        /// threshold and party count must match the manifest.
        public var dealing: ThresholdDealer.Dealing?
        /// Deal a threshold key even when the manifest's mode is `secagg`.
        public var alwaysDealKey = false

        public init() {}
    }

    /// A step of provisioning, for a progress display.
    public enum Progress: Sendable {
        case dealingKey(bits: Int, parties: Int, threshold: Int)
        case dealer(ThresholdDealer.Progress)
        case issuedCertificates(count: Int)
        case wroteKits
    }

    /// What was made (printed by `fedshare provision`).
    public struct Report: Sendable, Codable {
        public struct Entry: Sendable, Codable {
            /// "ca", "aggregator", "party-N" or "analyst-NAME".
            public var name: String
            public var folder: String
            /// SHA-256 of the certificate's DER encoding.
            public var fingerprint: String
        }
        public var federation: String
        public var outputFolder: String
        public var ca: Entry
        public var kits: [Entry]
        /// The threshold key's id (hex), and its size; nil in secure-aggregation mode.
        public var thresholdKeyID: String?
        public var keyBits: Int?
        public var dealingSeconds: Double?
        public var notValidAfter: String
        public var warnings: [String]
    }

    /// The names of the entries provisioning creates inside the output folder.
    public static func entryNames(for manifest: FederationManifest) -> [String] {
        ["ca", FederationRole.aggregator.name] + manifest.parties.sorted().map { FederationRole.party($0).name }
            + manifest.analysts.names.map { FederationRole.analyst($0).name }
    }

    /// Provisions `manifest`'s federation into `folder`.
    ///
    /// - Throws: ``FederationError`` (existing CA without `force`, unwritable folder, a
    ///   manifest reference outside its folder, dealing failures).
    public static func provision(
        manifest: FederationManifest, to folder: URL, options: Options = Options(),
        progress: (@Sendable (Progress) -> Void)? = nil
    ) throws -> Report {
        let folder = folder.standardizedFileURL
        let names = entryNames(for: manifest)
        if !options.force {
            let caFile = folder.appendingPathComponent("ca").appendingPathComponent("ca.pem")
            if KitFiles.exists(caFile) { throw FederationError.existingAuthority(path: caFile.path) }
            for name in names where KitFiles.exists(folder.appendingPathComponent(name)) {
                throw FederationError.io(
                    path: folder.appendingPathComponent(name).path,
                    problem: "already exists; pass --force to replace it")
            }
        }
        guard options.validityDays >= 1, options.validityDays <= 3650 else {
            throw FederationError.invalidSetting(field: "--validity-days", problem: "expected 1 to 3650 days, found \(options.validityDays)")
        }
        let references = try manifestReferences(manifest)
        let manifestBytes = try KitFiles.read(manifest.url)
        let manifestDigest = Base16.encode(Primitives.SHA256.hash(Array(manifestBytes)))

        // The threshold key first: it is the slow step, and failing here writes nothing.
        var dealing = options.dealing
        var dealingSeconds: Double?
        let needsKey = manifest.crypto.mode == .paillier || options.alwaysDealKey || dealing != nil
        let partyOrder = manifest.parties.sorted()
        if needsKey, dealing == nil {
            let bits = options.keyBits ?? manifest.crypto.keyBits
            progress?(.dealingKey(bits: bits, parties: partyOrder.count, threshold: manifest.threshold))
            let start = Date()
            var random = SecureRandom()
            do {
                dealing = try ThresholdDealer.deal(
                    bits: bits, threshold: manifest.threshold, parties: partyOrder.count, policy: options.keyPolicy,
                    using: &random, progress: progress.map { report in { @Sendable step in report(.dealer(step)) } })
            } catch {
                throw FederationError.keyDealing("\(error)")
            }
            dealingSeconds = Date().timeIntervalSince(start)
        }
        if let dealing {
            guard dealing.publicKey.threshold == manifest.threshold, dealing.publicKey.parties == partyOrder.count,
                dealing.shares.count == partyOrder.count
            else {
                throw FederationError.invalidSetting(
                    field: "threshold key",
                    problem:
                        "dealt for \(dealing.publicKey.threshold) of \(dealing.publicKey.parties) parties, but the manifest has threshold \(manifest.threshold) of \(partyOrder.count)"
                )
            }
        }

        // Certificates.
        let notBefore = options.now.addingTimeInterval(-FederationCertificates.clockSkewAllowance)
        let notAfter = options.now.addingTimeInterval(TimeInterval(options.validityDays) * 86_400)
        let authority: FederationCertificates.Issued
        var issued: [(FederationRole, FederationCertificates.Issued)] = []
        do {
            authority = try FederationCertificates.makeAuthority(federation: manifest.name, notBefore: notBefore, notAfter: notAfter)
            let hosts = FederationCertificates.subjectAlternativeHosts(forAddress: manifest.aggregator)
            issued.append(
                (
                    .aggregator,
                    try FederationCertificates.issue(
                        role: .aggregator, federation: manifest.name, hosts: hosts, authority: authority,
                        notBefore: notBefore, notAfter: notAfter)
                ))
            for party in partyOrder {
                issued.append(
                    (
                        .party(party),
                        try FederationCertificates.issue(
                            role: .party(party), federation: manifest.name, authority: authority,
                            notBefore: notBefore, notAfter: notAfter)
                    ))
            }
            for analyst in manifest.analysts.names {
                issued.append(
                    (
                        .analyst(analyst),
                        try FederationCertificates.issue(
                            role: .analyst(analyst), federation: manifest.name, authority: authority,
                            notBefore: notBefore, notAfter: notAfter)
                    ))
            }
        } catch let error as FederationError {
            throw error
        } catch {
            throw FederationError.invalidSetting(field: "certificates", problem: "cannot issue: \(error)")
        }
        progress?(.issuedCertificates(count: issued.count + 1))

        // Stage every folder, then move them into place.
        try KitFiles.makeFolderTree(folder)
        let staging = folder.appendingPathComponent(".provision-\(UUID().uuidString)")
        try KitFiles.makeFolder(staging)
        defer { try? FileManager.default.removeItem(at: staging) }

        let caPEM: Data
        do { caPEM = Data(try authority.certificatePEM().utf8) } catch {
            throw FederationError.invalidSetting(field: "certificates", problem: "cannot encode the CA certificate: \(error)")
        }
        let caFolder = staging.appendingPathComponent("ca")
        try KitFiles.makeFolder(caFolder)
        try KitFiles.create(caPEM, at: caFolder.appendingPathComponent("ca.pem"), permissions: 0o644)
        try KitFiles.create(Data(authority.privateKeyPEM.utf8), at: caFolder.appendingPathComponent("ca-key.pem"), permissions: 0o600)

        let created = FederationCertificates.timestamp(options.now)
        let publicKeyData: Data?
        do { publicKeyData = try dealing?.publicKey.jsonData() } catch {
            throw FederationError.keyDealing("cannot encode the public key: \(error)")
        }
        var entries: [Report.Entry] = []
        for (role, identity) in issued {
            let kit = staging.appendingPathComponent(role.name)
            try KitFiles.makeFolder(kit)
            try KitFiles.create(manifestBytes, at: kit.appendingPathComponent("manifest.toml"), permissions: 0o644)
            for (relativePath, source) in references {
                let destination = kit.appendingPathComponent(relativePath)
                try KitFiles.makeFolderTree(destination.deletingLastPathComponent())
                try KitFiles.create(try KitFiles.read(source, limit: 1 << 30), at: destination, permissions: 0o644)
            }
            try KitFiles.create(caPEM, at: kit.appendingPathComponent("ca.pem"), permissions: 0o644)
            let certificatePEM: String
            do { certificatePEM = try identity.certificatePEM() } catch {
                throw FederationError.invalidSetting(field: "certificates", problem: "cannot encode \(role.name)'s certificate: \(error)")
            }
            try KitFiles.create(Data(certificatePEM.utf8), at: kit.appendingPathComponent("cert.pem"), permissions: 0o644)
            try KitFiles.create(Data(identity.privateKeyPEM.utf8), at: kit.appendingPathComponent("key.pem"), permissions: 0o600)
            var shareIndex: Int?
            let holdsKey: Bool
            if case .analyst = role { holdsKey = false } else { holdsKey = true }
            if holdsKey, let dealing, let publicKeyData {
                try KitFiles.create(publicKeyData, at: kit.appendingPathComponent("threshold-public-key.json"), permissions: 0o644)
                if case .party(let id) = role, let index = partyOrder.firstIndex(of: id) {
                    shareIndex = index + 1
                    var shareData: Data
                    do { shareData = try dealing.shares[index].jsonData() } catch {
                        throw FederationError.keyDealing("cannot encode the key share of party \(id): \(error)")
                    }
                    defer { shareData.resetBytes(in: 0..<shareData.count) }
                    try KitFiles.create(shareData, at: kit.appendingPathComponent("key-share.json"), permissions: 0o600)
                }
            }
            let fingerprint = FederationCertificates.fingerprint(identity.certificate)
            let roleName: String
            var partyID: Int?
            var analystName: String?
            switch role {
            case .aggregator: roleName = "aggregator"
            case .party(let id): (roleName, partyID) = ("party", id)
            case .analyst(let name): (roleName, analystName) = ("analyst", name)
            }
            let descriptor = KitDescriptor(
                federation: manifest.name,
                role: roleName, party: partyID, analyst: analystName, shareIndex: shareIndex,
                manifest: "manifest.toml", manifestSHA256: manifestDigest, caCertificate: "ca.pem",
                certificate: "cert.pem", privateKey: "key.pem",
                thresholdPublicKey: holdsKey && dealing != nil ? "threshold-public-key.json" : nil,
                keyShare: shareIndex == nil ? nil : "key-share.json",
                fingerprints: .init(
                    ca: FederationCertificates.fingerprint(authority.certificate), certificate: fingerprint,
                    thresholdKey: holdsKey ? dealing?.publicKey.fingerprint : nil),
                created: created)
            try KitFiles.create(try encodeJSON(descriptor), at: kit.appendingPathComponent(KitDescriptor.fileName), permissions: 0o644)
            entries.append(Report.Entry(name: role.name, folder: folder.appendingPathComponent(role.name).path, fingerprint: fingerprint))
        }
        let keyID = dealing?.publicKey.fingerprint
        let keyBits = dealing?.publicKey.bits
        // The dealer's shares are no longer needed here; the last copies go with `dealing`.
        dealing = nil

        let caEntry = Report.Entry(
            name: "ca", folder: folder.appendingPathComponent("ca").path,
            fingerprint: FederationCertificates.fingerprint(authority.certificate))
        var warnings: [String] = []
        let remaining = notAfter.timeIntervalSince(Date())
        if remaining < 30 * 86_400 {
            let days = max(0, Int(remaining / 86_400))
            warnings.append(
                "the federation CA expires on \(FederationCertificates.timestamp(notAfter)) (in \(days) day\(days == 1 ? "" : "s")); provision again before then"
            )
        }
        let report = Report(
            federation: manifest.name, outputFolder: folder.path, ca: caEntry, kits: entries,
            thresholdKeyID: keyID, keyBits: keyBits,
            dealingSeconds: dealingSeconds, notValidAfter: FederationCertificates.timestamp(notAfter), warnings: warnings)
        try KitFiles.create(try encodeJSON(report), at: caFolder.appendingPathComponent("issued.json"), permissions: 0o644)

        try install(names: names, from: staging, into: folder)
        progress?(.wroteKits)
        return report
    }

    /// Moves the staged entries into `folder`, replacing existing ones (already checked against
    /// `force`); on failure, moves back whatever was replaced.
    private static func install(names: [String], from staging: URL, into folder: URL) throws {
        let previous = staging.appendingPathComponent(".previous")
        try KitFiles.makeFolder(previous)
        var replaced: [String] = []
        var installed: [String] = []
        do {
            for name in names {
                let destination = folder.appendingPathComponent(name)
                if KitFiles.exists(destination) {
                    try KitFiles.move(destination, to: previous.appendingPathComponent(name))
                    replaced.append(name)
                }
                try KitFiles.move(staging.appendingPathComponent(name), to: destination)
                installed.append(name)
            }
        } catch {
            for name in installed { try? FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
            for name in replaced { try? KitFiles.move(previous.appendingPathComponent(name), to: folder.appendingPathComponent(name)) }
            throw error
        }
        KitFiles.syncFolder(folder)
    }

    /// The files the manifest names, as (path relative to the manifest's folder, source).
    static func manifestReferences(_ manifest: FederationManifest) throws -> [(String, URL)] {
        let base = manifest.url.deletingLastPathComponent().standardizedFileURL.path
        var references: [(String, URL)] = []
        var fields: [(String, URL)] = [("attention.anchors", manifest.attention.anchorsURL)]
        if let encoder = manifest.attention.encoderURL { fields.append(("attention.encoder", encoder)) }
        for (field, url) in fields {
            let path = url.standardizedFileURL.path
            guard let relative = PathContainment.relative(path, under: base) else {
                throw FederationError.unsupportedManifestReference(field: field, path: path)
            }
            guard relative != "manifest.toml", relative != KitDescriptor.fileName,
                !["ca.pem", "cert.pem", "key.pem", "key-share.json", "threshold-public-key.json"].contains(relative)
            else { throw FederationError.unsupportedManifestReference(field: field, path: path) }
            references.append((relative, url))
        }
        return references
    }

    static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do { return try encoder.encode(value) + Data("\n".utf8) } catch {
            throw FederationError.invalidSetting(field: "json", problem: "cannot encode: \(error)")
        }
    }
}
