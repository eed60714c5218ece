import FederationProtocol
import Foundation

/// A startup kit's `kit.json` (the files it names are fuzzed by their own targets: the
/// manifest, the threshold key and key share; PEM certificates are parsed by swift-certificates).
enum KitTargets {
    static func descriptor(_ bytes: [UInt8]) {
        guard let descriptor = try? KitDescriptor.decode(Data(bytes)) else { return }
        // An oracle independent of the decoder: each path, resolved against a kit folder, stays in it.
        let kit = URL(fileURLWithPath: "/kit", isDirectory: true)
        for (field, name) in descriptor.files {
            let resolved = kit.appendingPathComponent(name).standardizedFileURL.path
            // Bytes, not characters: a combining mark after "/" fuses with it in String comparisons.
            invariant(
                resolved.utf8.starts(with: "/kit/".utf8) && resolved.utf8.count > 5,
                "kit.json field \(field) accepted outside the kit: \(name)")
        }
        invariant((try? descriptor.holder()) != nil, "kit.json accepted with an unknown holder")
        guard let written = try? JSONEncoder().encode(descriptor) else {
            invariant(false, "kit.json decoded but does not encode")
            return
        }
        invariant((try? KitDescriptor.decode(written)) == descriptor, "kit.json changed on write and read")
    }

    /// Seeds: descriptors as provision writes them, for a party and for the aggregator.
    static var seeds: [String: [UInt8]] {
        let party = KitDescriptor(
            federation: "three-worlds", role: "party", party: 2, shareIndex: 2, manifest: "manifest.toml",
            manifestSHA256: String(repeating: "0f", count: 32), caCertificate: "ca.pem", certificate: "cert.pem",
            privateKey: "key.pem", thresholdPublicKey: "threshold-public-key.json", keyShare: "key-share.json",
            fingerprints: .init(
                ca: String(repeating: "1a", count: 32), certificate: String(repeating: "2b", count: 32),
                thresholdKey: String(repeating: "3c", count: 16)),
            created: "2026-11-29T04:00:00Z")
        var aggregator = party
        aggregator.role = "aggregator"
        aggregator.party = nil
        aggregator.shareIndex = nil
        aggregator.keyShare = nil
        var secagg = party
        secagg.thresholdPublicKey = nil
        secagg.keyShare = nil
        secagg.shareIndex = nil
        secagg.fingerprints.thresholdKey = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        var seeds: [String: [UInt8]] = [:]
        for (name, descriptor) in [("party", party), ("aggregator", aggregator), ("party-secagg", secagg)] {
            seeds[name] = (try? encoder.encode(descriptor)).map { Array($0) } ?? []
        }
        return seeds
    }
}
