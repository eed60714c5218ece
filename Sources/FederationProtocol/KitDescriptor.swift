import Foundation

/// `kit.json`: what a startup kit holds and for whom. Written by `Provisioner`, read (through
/// ``decode(_:)``) by `FederationKit.load`. It lives here, below the transport, so that the
/// fuzz harness reaches its decoder without building gRPC's networking.
///
/// ```json
/// {"format": "fedshare.kit", "version": 1, "federation": "three-worlds", "role": "party",
///  "party": 2, "shareIndex": 2, "manifest": "manifest.toml", "manifestSHA256": "…",
///  "caCertificate": "ca.pem", "certificate": "cert.pem", "privateKey": "key.pem",
///  "thresholdPublicKey": "threshold-public-key.json", "keyShare": "key-share.json",
///  "fingerprints": {"ca": "…", "certificate": "…"}, "created": "2026-11-29T04:00:00Z"}
/// ```
///
/// An analyst's kit says `"role": "analyst", "analyst": "alice"` and names no threshold key,
/// key share or catalog.
public struct KitDescriptor: Codable, Sendable, Equatable {
    public static let formatName = "fedshare.kit"
    public static let currentVersion = 1
    public static let fileName = "kit.json"

    public var format: String
    public var version: Int
    public var federation: String
    /// "aggregator", "party" or "analyst".
    public var role: String
    /// The party id (parties only).
    public var party: Int?
    /// The analyst's name (analysts only; `FederationKit.load` checks it is a valid name).
    public var analyst: String?
    /// The party's index in the threshold key (1...parties; parties only, Paillier mode).
    public var shareIndex: Int?
    public var manifest: String
    /// Hex SHA-256 of the manifest's bytes.
    public var manifestSHA256: String
    public var caCertificate: String
    public var certificate: String
    public var privateKey: String
    public var thresholdPublicKey: String?
    public var keyShare: String?
    public var fingerprints: Fingerprints
    public var created: String

    public struct Fingerprints: Codable, Sendable, Equatable {
        public var ca: String
        public var certificate: String
        public var thresholdKey: String?

        public init(ca: String, certificate: String, thresholdKey: String?) {
            self.ca = ca
            self.certificate = certificate
            self.thresholdKey = thresholdKey
        }
    }

    /// Whose kit this is, as checked by ``decode(_:)``.
    public enum Holder: Sendable, Equatable {
        case aggregator
        case party(Int)
        case analyst(String)
    }

    /// What is wrong with a `kit.json`, naming the field (the caller adds the path).
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public init(
        format: String = KitDescriptor.formatName, version: Int = KitDescriptor.currentVersion, federation: String,
        role: String, party: Int?, analyst: String? = nil, shareIndex: Int?, manifest: String, manifestSHA256: String, caCertificate: String,
        certificate: String, privateKey: String, thresholdPublicKey: String?, keyShare: String?,
        fingerprints: Fingerprints, created: String
    ) {
        self.format = format
        self.version = version
        self.federation = federation
        self.role = role
        self.party = party
        self.analyst = analyst
        self.shareIndex = shareIndex
        self.manifest = manifest
        self.manifestSHA256 = manifestSHA256
        self.caCertificate = caCertificate
        self.certificate = certificate
        self.privateKey = privateKey
        self.thresholdPublicKey = thresholdPublicKey
        self.keyShare = keyShare
        self.fingerprints = fingerprints
        self.created = created
    }

    /// Reads a `kit.json` and checks what can be checked without the kit's other files: every
    /// field present with its type, the format and version this build reads, a known role (a
    /// party kit with a party id ≥ 1, an analyst kit with a name), and every file it names a relative path inside the kit.
    public static func decode(_ data: Data) throws(Problem) -> KitDescriptor {
        let descriptor: KitDescriptor
        do {
            descriptor = try JSONDecoder().decode(KitDescriptor.self, from: data)
        } catch let error as DecodingError {
            throw Problem(description: describe(error))
        } catch {
            throw Problem(description: "not valid JSON")
        }
        guard descriptor.format == formatName else {
            throw Problem(description: "field \"format\" is \"\(descriptor.format)\", expected \"\(formatName)\"")
        }
        guard descriptor.version == currentVersion else {
            throw Problem(description: "field \"version\" is \(descriptor.version); this build reads version \(currentVersion)")
        }
        _ = try descriptor.holder()
        for (field, name) in descriptor.files {
            guard isInsideKit(name) else {
                throw Problem(description: "field \"\(field)\" must name a file inside the kit, found \"\(name)\"")
            }
        }
        return descriptor
    }

    /// The role and party id or analyst name, checked (an analyst name only for being present:
    /// which names are valid is the manifest's rule, applied by `FederationKit.load`).
    public func holder() throws(Problem) -> Holder {
        switch role {
        case "aggregator":
            return .aggregator
        case "party":
            guard let party, party >= 1 else {
                throw Problem(description: "field \"party\" is missing (role \"party\" needs a party id ≥ 1)")
            }
            return .party(party)
        case "analyst":
            guard let analyst, !analyst.isEmpty else {
                throw Problem(description: "field \"analyst\" is missing (role \"analyst\" needs the analyst's name)")
            }
            return .analyst(analyst)
        default:
            throw Problem(description: "field \"role\" is \"\(role)\", expected \"aggregator\", \"party\" or \"analyst\"")
        }
    }

    /// Every file the kit names, with its field.
    public var files: [(field: String, name: String)] {
        [("manifest", manifest), ("caCertificate", caCertificate), ("certificate", certificate), ("privateKey", privateKey)]
            + (thresholdPublicKey.map { [("thresholdPublicKey", $0)] } ?? [])
            + (keyShare.map { [("keyShare", $0)] } ?? [])
    }

    /// A relative path of plain file names: not empty, not absolute, no NUL, and no component
    /// that is empty, `.` or `..` (so it names a file strictly inside the kit, never the kit
    /// folder itself or anything above it).
    ///
    /// Checked on UTF-8 bytes, as the file system reads the path: `String`'s `split` and
    /// `hasPrefix` compare grapheme clusters, and a combining mark right after a `/` fuses with
    /// it, so `"../\u{65E}key-share.json"` would have no `/` and no `..` component (found by
    /// the fuzz target `kit`, as was `"."`).
    static func isInsideKit(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.contains(0)
            && bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).allSatisfy { component in
                !component.isEmpty && !component.elementsEqual(".".utf8) && !component.elementsEqual("..".utf8)
            }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "field \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type"
        case .dataCorrupted: return "not valid JSON"
        @unknown default: return "unreadable"
        }
    }
}
