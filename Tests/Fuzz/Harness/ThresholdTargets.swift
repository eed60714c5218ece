import Foundation
import Paillier

/// The threshold-Paillier JSON files: public key, key share, decryption share.
enum ThresholdTargets {
    /// A public key: parse with every check, then write → read gives the same key id.
    static func publicKey(_ bytes: [UInt8]) {
        guard let key = try? ThresholdPublicKey(jsonData: Data(bytes), policy: .insecureTestOnly) else { return }
        invariant(
            key.verificationKeys.count == key.parties && key.threshold >= 1 && key.threshold <= key.parties,
            "accepted inconsistent key parameters")
        guard let data = try? key.jsonData(), let again = try? ThresholdPublicKey(jsonData: data, policy: .insecureTestOnly) else {
            invariant(false, "an accepted public key does not write and read back")
            return
        }
        invariant(again.keyID == key.keyID && again.n == key.n, "public key changed on write and read")
    }

    /// A key share against the fixture's public key (as `FederationKit.load` reads it), and
    /// without one (as `fedshare threshold` tools may).
    static func keyShare(_ bytes: [UInt8]) {
        let data = Data(bytes)
        if let share = try? ThresholdKeyShare(jsonData: data, publicKey: Fixtures.thresholdKey) {
            invariant((try? share.verify(against: Fixtures.thresholdKey)) != nil, "an accepted share does not verify")
            invariant(
                Fixtures.thresholdShares.contains { $0.party == share.party && (try? $0.jsonData()) == (try? share.jsonData()) },
                "accepted a share that is not the fixture's share of party \(share.party)")
        }
        guard let share = try? ThresholdKeyShare(jsonData: data) else { return }
        guard let written = try? share.jsonData(), let again = try? ThresholdKeyShare(jsonData: written) else {
            invariant(false, "an accepted key share does not write and read back")
            return
        }
        invariant(
            again.party == share.party && again.keyID == share.keyID && (try? again.jsonData()) == written,
            "key share changed on write and read")
    }

    /// A partial decryption share: parse against the fixture key, round trip, and let the
    /// combiner check its proof against a fixed batch (as the aggregator does).
    static func decryptionShare(_ bytes: [UInt8]) {
        let key = Fixtures.thresholdKey!
        guard let share = try? ThresholdDecryptionShare(jsonData: Data(bytes), publicKey: key) else { return }
        guard let written = try? share.jsonData(),
            let again = try? ThresholdDecryptionShare(jsonData: written, publicKey: key)
        else {
            invariant(false, "an accepted decryption share does not write and read back")
            return
        }
        invariant((try? again.jsonData()) == written, "decryption share changed on write and read")
        // Combine it with the honest shares of the other parties: whatever it holds, the
        // combiner either refuses it or the plaintext is still 7.
        let others = Fixtures.decryptionShares.filter { $0.party != share.party }.prefix(2)
        if let combined = try? key.combine([share] + others, for: Fixtures.batch, context: Fixtures.context) {
            invariant(combined.plaintexts == [7], "a combination with party \(share.party)'s share gives \(combined.plaintexts)")
        }
    }
}
