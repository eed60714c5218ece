import Arithmetic
import Foundation
import Paillier

/// Test-only keys from Tests/TestVectors, loaded once before fuzzing starts.
enum Fixtures {
    /// The repository root (this file is Tests/Fuzz/Harness/Fixtures.swift).
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func vector(_ name: String) -> [String: Any] {
        let url = repository.appendingPathComponent("Tests/TestVectors/\(name)")
        guard let data = try? Data(contentsOf: url),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            report("fedshare-fuzz: cannot read \(url.path)")
            exit(2)
        }
        return object
    }

    static func json(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// python-paillier's test key (phe_interop.json).
    nonisolated(unsafe) static var pheKey: PaillierPrivateKey!
    /// The 3-of-5 threshold key of threshold-paillier-512.json and its five shares.
    nonisolated(unsafe) static var thresholdKey: ThresholdPublicKey!
    nonisolated(unsafe) static var thresholdShares: [ThresholdKeyShare] = []
    /// A one-ciphertext batch (plaintext 7) with the decryption shares of parties 1, 2 and 3.
    nonisolated(unsafe) static var batch: [BigInt] = []
    static let context = Array("fedshare-fuzz".utf8)
    nonisolated(unsafe) static var decryptionShares: [ThresholdDecryptionShare] = []

    static func prepare() {
        do {
            let phe = vector("phe_interop.json")
            let privateJSON = try JSONDecoder().decode(PheutilPrivateKeyJSON.self, from: json(phe["private_key"] as Any))
            pheKey = try privateJSON.privateKey(policy: .insecureTestOnly)
            let threshold = vector("threshold-paillier-512.json")
            thresholdKey = try ThresholdPublicKey(jsonData: json(threshold["publicKey"] as Any), policy: .insecureTestOnly)
            thresholdShares = try ((threshold["shares"] as? [Any]) ?? []).map {
                try ThresholdKeyShare(jsonData: json($0), publicKey: thresholdKey)
            }
            var random = FixedRandom()
            batch = [try thresholdKey.paillierKey.encrypt(BigInt(7), method: .plain, using: &random).value]
            decryptionShares = try thresholdShares.prefix(3).map {
                try $0.decryptionShare(for: batch, publicKey: thresholdKey, context: context, using: &random)
            }
            // Touch the harness's lazy globals now, so that no input is charged with them.
            _ = AttentionTargets.layout
            _ = ProtobufTargets.map
        } catch {
            report("fedshare-fuzz: fixture keys do not load: \(error)")
            exit(2)
        }
    }
}
