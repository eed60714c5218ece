import Foundation

/// `kit.json`: what a startup kit holds and for whom. Written by ``Provisioner``, read by
/// ``FederationKit/load(from:now:keyPolicy:)``.
///
/// ```json
/// {"format": "fedshare.kit", "version": 1, "federation": "three-worlds", "role": "party",
///  "party": 2, "shareIndex": 2, "manifest": "manifest.toml", "manifestSHA256": "…",
///  "caCertificate": "ca.pem", "certificate": "cert.pem", "privateKey": "key.pem",
///  "thresholdPublicKey": "threshold-public-key.json", "keyShare": "key-share.json",
///  "fingerprints": {"ca": "…", "certificate": "…"}, "created": "2026-11-29T04:00:00Z"}
/// ```
struct KitDescriptor: Codable, Sendable {
    static let formatName = "fedshare.kit"
    static let currentVersion = 1
    static let fileName = "kit.json"

    var format: String
    var version: Int
    var federation: String
    /// "aggregator" or "party".
    var role: String
    /// The party id (parties only).
    var party: Int?
    /// The party's index in the threshold key (1...parties; parties only, Paillier mode).
    var shareIndex: Int?
    var manifest: String
    /// Hex SHA-256 of the manifest's bytes.
    var manifestSHA256: String
    var caCertificate: String
    var certificate: String
    var privateKey: String
    var thresholdPublicKey: String?
    var keyShare: String?
    var fingerprints: Fingerprints
    var created: String

    struct Fingerprints: Codable, Sendable {
        var ca: String
        var certificate: String
        var thresholdKey: String?
    }
}
