import Arithmetic
import Foundation
import Primitives
import Testing

@testable import Paillier

@Suite struct ThresholdSerializationTests {
    func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func data(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    func expectMalformed(_ message: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("accepted; expected an error mentioning \(message)", sourceLocation: sourceLocation)
        } catch let error as PaillierError {
            #expect(error.description.contains(message), "\(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func materialRoundTrips() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let key = scenario.publicKey
        let keyBack = try ThresholdPublicKey(jsonData: key.jsonData(), policy: .insecureTestOnly)
        #expect(keyBack == key)
        #expect(keyBack.fingerprint == key.fingerprint)

        var random = SeededRandom(seed: 21)
        let sharesBack = try scenario.keyShares.map { try ThresholdKeyShare(jsonData: $0.jsonData(), publicKey: keyBack) }
        for (original, back) in zip(scenario.keyShares, sharesBack) {
            #expect(back.party == original.party)
            #expect(back.keyID == original.keyID)
            #expect(back.secret == original.secret)
        }
        // Shares read back from disk decrypt.
        let decryptionShares = try [sharesBack[0], sharesBack[2], sharesBack[4]].map {
            try $0.decryptionShare(for: scenario.ciphertexts, publicKey: keyBack, context: scenario.context, using: &random)
        }
        let decryptionBack = try decryptionShares.map {
            try ThresholdDecryptionShare(jsonData: $0.jsonData(), publicKey: keyBack, context: scenario.context)
        }
        #expect(decryptionBack == decryptionShares)
        let result = try keyBack.combine(decryptionBack, for: scenario.ciphertexts, context: scenario.context)
        #expect(result.plaintexts == scenario.plaintexts)
    }

    @Test func committedFixtureFilesStillDecrypt() throws {
        // Format stability: the committed 1024-bit fixture (2 of 3) is read through the public decoders.
        let fixture = try ThresholdFixture.load(bits: 1024)
        let key = try ThresholdPublicKey(jsonData: fixture.publicKeyJSON, policy: .insecureTestOnly)
        let shares = try fixture.shareJSON.map { try ThresholdKeyShare(jsonData: $0, publicKey: key) }
        var random = SeededRandom(seed: 22)
        let ciphertexts = try [BigInt(5), BigInt(6)].map { try key.paillierKey.encrypt($0, using: &random) }
        let decryption = try [shares[1], shares[2]].map {
            try $0.decryptionShare(for: ciphertexts, publicKey: key, context: [9], using: &random)
        }
        #expect(try key.combine(decryption, for: ciphertexts, context: [9]).plaintexts == [5, 6])
    }

    @Test func foreignMaterialIsRefused() throws {
        let scenario = try ThresholdScenario(threshold: 3, parties: 5)
        let (otherKey, otherShares) = try scenario.fixture.deal(threshold: 3, parties: 5, seed: 555)
        // A key share of another key.
        #expect(throws: PaillierError.self) {
            _ = try ThresholdKeyShare(jsonData: otherShares[0].jsonData(), publicKey: scenario.publicKey)
        }
        do {
            _ = try ThresholdKeyShare(jsonData: otherShares[0].jsonData(), publicKey: scenario.publicKey)
        } catch let error as PaillierError {
            guard case .wrongKey = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(error.description.contains(otherKey.fingerprint.prefix(16)))
        }
        // A decryption share for another key or another round.
        let share = try scenario.decryptionShares[0].jsonData()
        #expect(throws: PaillierError.self) {
            _ = try ThresholdDecryptionShare(jsonData: share, publicKey: otherKey, context: scenario.context)
        }
        do {
            _ = try ThresholdDecryptionShare(jsonData: share, publicKey: scenario.publicKey, context: Array("round-43".utf8))
            Issue.record("a share of round-42 was accepted for round-43")
        } catch let error as PaillierError {
            #expect(
                error
                    == .wrongContext(
                        what: "the decryption share from party 1", expected: "\"round-43\"", found: "\"round-42\""))
        }
        // A share whose sender id does not match its own key's verification key.
        var object = try json(otherShares[1].jsonData())
        object["keyID"] = scenario.publicKey.fingerprint
        expectMalformed("does not match its verification key") {
            _ = try ThresholdKeyShare(jsonData: try data(object), publicKey: scenario.publicKey)
        }
    }

    @Test func alteredOrUnknownEncodingsAreRefused() throws {
        let scenario = try ThresholdScenario(threshold: 2, parties: 3)
        let keyData = try scenario.publicKey.jsonData()
        var object = try json(keyData)

        object["version"] = 2
        expectMalformed("format version 2 is not supported") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        object = try json(keyData)
        object["format"] = "fedshare.threshold-paillier.key-share"
        expectMalformed("expected \"fedshare.threshold-paillier.public-key\"") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        object = try json(keyData)
        var keys = try #require(object["verificationKeys"] as? [String])
        keys.swapAt(0, 1)
        object["verificationKeys"] = keys
        expectMalformed("\"keyID\" does not match") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        object = try json(keyData)
        object["verificationKeys"] = Array(keys.prefix(2))
        expectMalformed("expected 3 verification keys") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        object = try json(keyData)
        object["n"] = "not base64!"
        expectMalformed("field \"n\" is not base64url") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        object = try json(keyData)
        object.removeValue(forKey: "threshold")
        expectMalformed("missing field \"threshold\"") {
            _ = try ThresholdPublicKey(jsonData: try data(object), policy: .insecureTestOnly)
        }
        expectMalformed("not valid JSON") {
            _ = try ThresholdPublicKey(jsonData: Data("{".utf8), policy: .insecureTestOnly)
        }
        // Small keys are refused without the test-only flag.
        #expect(throws: PaillierError.keyTooSmall(bits: 512, minimum: 2048)) {
            _ = try ThresholdPublicKey(jsonData: keyData)
        }

        // Decryption shares.
        let shareData = try scenario.decryptionShares[0].jsonData()
        object = try json(shareData)
        #expect(object["version"] as? Int == 2)
        #expect(object["proofs"] == nil)
        object.removeValue(forKey: "proof")
        expectMalformed("missing field \"proof\"") {
            _ = try ThresholdDecryptionShare(jsonData: try data(object))
        }
        object = try json(shareData)
        object["proof"] = ["e": "AQ", "z": "not base64!"]
        expectMalformed("field \"proof.z\" is not base64url") {
            _ = try ThresholdDecryptionShare(jsonData: try data(object))
        }
        object = try json(shareData)
        object["version"] = 7
        expectMalformed("format version 7 is not supported") {
            _ = try ThresholdDecryptionShare(jsonData: try data(object))
        }
        // A version-1 share (one proof per value) is refused by its version, with a hint.
        object = try json(shareData)
        object["version"] = 1
        object.removeValue(forKey: "proof")
        object["proofs"] = [["e": "AQ", "z": "AQ"]]
        expectMalformed("version 1 carried one proof per value") {
            _ = try ThresholdDecryptionShare(jsonData: try data(object))
        }
        object = try json(shareData)
        object["batch"] = "abcd"
        expectMalformed("\"batch\" is not 32 bytes") {
            _ = try ThresholdDecryptionShare(jsonData: try data(object))
        }
        // Key shares.
        let keyShareData = try scenario.keyShares[0].jsonData()
        object = try json(keyShareData)
        object["share"] = ""
        expectMalformed("field \"share\" is not base64url") {
            _ = try ThresholdKeyShare(jsonData: try data(object))
        }
    }

    @Test func privateShareIsNeverPrinted() throws {
        let scenario = try ThresholdScenario(threshold: 2, parties: 3)
        let share = scenario.keyShares[0]
        let secretDecimal = share.secret.description
        let secretBase64 = share.secret.base64URL
        var dumped = ""
        dump(share, to: &dumped)
        for text in [share.description, share.debugDescription, String(describing: share), String(reflecting: share), dumped, "\(share)"] {
            #expect(!text.contains(secretDecimal))
            #expect(!text.contains(secretBase64))
        }
        #expect(share.description.contains("party 1"))
    }
}
