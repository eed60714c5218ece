import Arithmetic
import Catalog
import DifferentialPrivacy
import FederationProtocol
import Foundation
import Paillier
import SecureAggregation
import SwiftProtobuf

/// `fedshare-fuzz --write-seeds DIR` writes the seed corpus (DIR/<target>/<name>) from real
/// values: envelopes built with the production builders, keys and shares from
/// Tests/TestVectors, example manifests and small data files. Tests/Fuzz/Corpus is its output.
enum Seeds {
    static func write(to folder: URL) throws {
        var seeds: [String: [String: [UInt8]]] = [:]
        func add(_ target: String, _ name: String, _ bytes: [UInt8]) { seeds[target, default: [:]][name] = bytes }
        func add(_ target: String, _ name: String, _ text: String) { add(target, name, Array(text.utf8)) }

        // Protobuf envelopes.
        for (name, envelope) in try partyEnvelopes() { add("party-envelope", name, try Fedshare_V1_PartyEnvelope(envelope).serializedBytes()) }
        for (name, envelope) in try aggregatorEnvelopes() { add("aggregator-envelope", name, try Fedshare_V1_AggregatorEnvelope(envelope).serializedBytes()) }

        // Ciphertext batches under the threshold fixture's key.
        let key = Fixtures.thresholdKey.paillierKey
        var random = FixedRandom()
        let three = try [1, 2, 3].map { try key.encrypt(BigInt($0), method: .plain, using: &random) }
        add("ciphertext-batch", "empty", CiphertextBatchCodec.encode([], key: key))
        add("ciphertext-batch", "one", CiphertextBatchCodec.encode([three[0]], key: key))
        add("ciphertext-batch", "three", CiphertextBatchCodec.encode(three, key: key))
        var anyKey = CiphertextBatchCodec.encode([three[1]], key: key)
        anyKey[4] = UInt8(ascii: "K")
        add("ciphertext-batch", "one-any-key", anyKey)

        // pheutil JSON (python-paillier's test key and its ciphertexts).
        let phe = Fixtures.vector("phe_interop.json")
        let privateKey = phe["private_key"] as? [String: Any] ?? [:]
        add("pheutil-private-key", "phe-interop", Array(Fixtures.json(privateKey)))
        add("pheutil-public-key", "phe-interop", Array(Fixtures.json(privateKey["pub"] as Any)))
        // A private key that python-paillier never wrote: the threshold fixture's primes.
        let vector = Fixtures.vector("threshold-paillier-512.json")
        if let p = BigInt((vector["p"] as? String) ?? ""), let q = BigInt((vector["q"] as? String) ?? "") {
            let small = try PaillierPrivateKey(p: p, q: q, publicKey: PaillierPublicKey(n: p * q, policy: .insecureTestOnly))
            add("pheutil-private-key", "fixture-512", try JSONEncoder().encode(PheutilPrivateKeyJSON(small, kid: "k", publicKid: "k")).map { $0 })
            add("pheutil-public-key", "fixture-512", try JSONEncoder().encode(PheutilPublicKeyJSON(small.publicKey, kid: "k")).map { $0 })
        }
        for (index, item) in ((phe["cases"] as? [[String: Any]]) ?? []).enumerated() {
            if let ciphertext = item["ciphertext"] { add("pheutil-ciphertext", "phe-case-\(index)", Array(Fixtures.json(ciphertext))) }
        }
        let number = try PheEncryptedNumber.encrypt(-2.5, key: Fixtures.pheKey.publicKey, using: &random)
        add("pheutil-ciphertext", "fedshare", try JSONEncoder().encode(number.serialised(key: Fixtures.pheKey.publicKey, using: &random)).map { $0 })
        add("pheutil-ciphertext", "exponent-zero", "{\"v\": \"\(number.ciphertext.value)\", \"e\": 0}")

        // Threshold keys, shares and a decryption share.
        let threshold = Fixtures.vector("threshold-paillier-512.json")
        add("threshold-public-key", "512", Array(Fixtures.json(threshold["publicKey"] as Any)))
        add("threshold-public-key", "512-written", Array(try Fixtures.thresholdKey.jsonData()))
        for (index, share) in ((threshold["shares"] as? [Any]) ?? []).enumerated() {
            add("threshold-key-share", "share-\(index + 1)", Array(Fixtures.json(share)))
        }
        for share in Fixtures.decryptionShares { add("threshold-decryption-share", "party-\(share.party)", Array(try share.jsonData())) }

        for (name, bytes) in KitTargets.seeds { add("kit", name, bytes) }

        // Manifests: the data manifest, the examples (anchors resolve to the harness's files).
        add("manifest", "data", AttentionTargets.dataManifest)
        let paillier = AttentionTargets.dataManifest
            .replacingOccurrences(of: "features = [\"f1\", \"f2\"]\n", with: "encoder = \"encoder.csv\"\nbias = [0.5, -0.5]\nscale = 0.25\n")
            .replacingOccurrences(of: "mode = \"secagg\"", with: "mode = \"paillier\"\nkey_bits = 3072\nfractional_bits = 32")
        add("manifest", "encoder-paillier", paillier)
        for example in ["three-worlds", "marketplace"] {
            let url = Fixtures.repository.appendingPathComponent("Examples/\(example)/manifest.toml")
            if let text = try? String(contentsOf: url, encoding: .utf8) { add("manifest", example, text) }
        }

        // Data files for the data manifest (features f1, f2; groups a, b; user column).
        let csv = "user,group,f1,f2,note\nana,a,0.5,1.5,x\nbo,b,-1,2,\"quoted, comma\"\nana,a,3,0,y\ncy,b,1e-1,-2.5,\"\"\"\"\n"
        add("csv", "good", csv)
        add("csv", "crlf-bom", "\u{FEFF}" + csv.replacingOccurrences(of: "\n", with: "\r\n"))
        add("csv", "bad-rows", "user,group,f1,f2\nana,a,nan,1\nbo,c,1,2\ncy,b,1\n\"open,a,1,2\n")
        add("tsv", "good", "user\tgroup\tf1\tf2\nana\ta\t0.5\t1.5\nbo\tb\t-1\t2\n")
        add(
            "jsonl", "good",
            "{\"user\": \"ana\", \"group\": \"a\", \"f1\": 0.5, \"f2\": 1.5}\n{\"user\":\"bo\",\"group\":\"b\",\"f1\":-1e2,\"f2\":2,\"x\":null,\"y\":true}\n")
        add("jsonl", "escapes", "{\"user\": \"\\u00e9\\n\", \"group\": \"a\", \"f1\": 0, \"f2\": -0.0}\n\n{\"group\": \"b\", \"f1\": \"1\", \"f2\": 2}\n")
        add("npy", "f8-2x2", npy([0.5, 1.5, -1, 2], shape: "(2, 2)", descr: "<f8"))
        add("npy", "f4-be-3x2", npy([1, 2, 3, 4, 5, 6], shape: "(3, 2)", descr: ">f4"))
        add("npy", "v2-1d", npy([1, 2, 3], shape: "(3,)", descr: "<f8", version: 2))

        for (target, files) in seeds {
            let directory = folder.appendingPathComponent(target, isDirectory: true)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
        }
    }

    static func npy(_ values: [Double], shape: String, descr: String, version: UInt8 = 1) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let prefix = version == 1 ? 10 : 12
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [version, 0]
        let length = header.utf8.count
        bytes += version == 1 ? [UInt8(length & 0xFF), UInt8(length >> 8)] : [UInt8(length & 0xFF), UInt8(length >> 8), 0, 0]
        bytes += Array(header.utf8)
        for value in values {
            switch descr {
            case "<f8": bytes += withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
            case ">f4": bytes += withUnsafeBytes(of: Float(value).bitPattern.bigEndian) { Array($0) }
            default: bytes += withUnsafeBytes(of: Float(value).bitPattern.littleEndian) { Array($0) }
            }
        }
        return bytes
    }

    static let manifestHash = [UInt8](repeating: 0xAB, count: 32)

    static func party(_ id: Int, _ body: Wire.PartyEnvelope.Body) -> Wire.PartyEnvelope {
        var envelope = Wire.PartyEnvelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.manifestHash = manifestHash
        envelope.roundID = 7
        envelope.partyID = UInt32(id)
        envelope.body = body
        return envelope
    }

    static func aggregator(_ body: Wire.AggregatorEnvelope.Body) -> Wire.AggregatorEnvelope {
        var envelope = Wire.AggregatorEnvelope()
        envelope.protocolVersion = WireProtocol.version
        envelope.manifestHash = manifestHash
        envelope.roundID = 7
        envelope.body = body
        return envelope
    }

    static func partyEnvelopes() throws -> [String: Wire.PartyEnvelope] {
        let key = Fixtures.thresholdKey!
        let map = ProtobufTargets.map
        var random = FixedRandom()
        let ciphertexts = try [5, 6].map { try key.paillierKey.encrypt(BigInt($0), method: .plain, using: &random) }
        var hello = Wire.Hello()
        hello.supportedVersions = [1]
        hello.keyID = key.keyID
        hello.software = "fedshare fuzz seed"
        var accept = Wire.RoundAccept()
        accept.reservationID = 42
        var refuse = Wire.RoundRefuse()
        refuse.reason = .refuseBudgetExceeded
        refuse.message = "budget"
        var ack = Wire.CommitAck()
        ack.ledgerEntryID = 3
        ack.reservationID = 42
        // Signed as in protocol version 3 (a certificate-sized credential and a 64-byte r ‖ s).
        let keys = AdvertisedKeys(
            party: 0, maskPublicKey: Array(repeating: 1, count: 32), channelPublicKey: Array(repeating: 2, count: 32),
            credential: Array(repeating: 0x30, count: 500), signature: Array(repeating: 7, count: 64))
        let session = Array(repeating: UInt8(9), count: 32)
        let shares = ShareKeys(
            sessionID: session, sender: 0,
            shares: [
                EncryptedShare(sender: 0, recipient: 1, ciphertext: Array(repeating: 3, count: 80)),
                EncryptedShare(sender: 0, recipient: 2, ciphertext: Array(repeating: 4, count: 80)),
            ])
        let masked = SecAggWire.maskedInputChunks(MaskedInput(sessionID: session, sender: 0, vector: [1, 2, 3, UInt64.max]))
        let response = UnmaskingResponse(
            sessionID: session, sender: 0, seedShares: [RevealedShare(owner: 1, share: Array(repeating: 5, count: 40))],
            maskKeyShares: [RevealedShare(owner: 2, share: Array(repeating: 6, count: 40))])
        var error = Wire.Error()
        error.message = "refused"
        var result: [String: Wire.PartyEnvelope] = [
            "hello": party(1, .hello(hello)),
            "accept": party(1, .accept(accept)),
            "refuse": party(2, .refuse(refuse)),
            "commit-ack": party(1, .commitAck(ack)),
            "advertise-keys": party(1, .advertiseKeys(SecAggWire.advertise(AdvertiseKeys(round: 7, sessionNonce: session, keys: keys), map: map))),
            "share-keys": party(1, .shareKeys(SecAggWire.shareKeys(shares, map: map))),
            "masked-input": party(1, .maskedInput(masked[0])),
            "unmasking-response": party(1, .unmaskingResponse(SecAggWire.unmaskingResponse(response, map: map))),
            "result-ack": party(3, .resultAck(Wire.ResultAck())),
            "survivor-signature": party(
                1,
                .survivorSignature(
                    SecAggWire.survivorSignature(
                        SurvivorSignature(sessionID: session, sender: 0, signature: Array(repeating: 8, count: 64))))),
            "error": party(2, .error(error)),
        ]
        for (index, var chunk) in CiphertextChunking.contributionChunks(ciphertexts, key: key.paillierKey).enumerated() {
            if index == 0 {
                chunk.certificate = [UInt8](repeating: 0x30, count: 500)
                chunk.signature = [UInt8](repeating: 7, count: 64)
            }
            result["contribution-\(index)"] = party(2, .contribution(chunk))
        }
        for share in Fixtures.decryptionShares {
            for (index, chunk) in PartialDecryptionChunking.chunks(share, key: key).enumerated() {
                result["partial-decryption-party-\(share.party)-\(index)"] = party(share.party, .partialDecryption(chunk))
            }
        }
        return result
    }

    static func aggregatorEnvelopes() throws -> [String: Wire.AggregatorEnvelope] {
        let key = Fixtures.thresholdKey!
        let map = ProtobufTargets.map
        var random = FixedRandom()
        let ciphertexts = try [5, 6, 7].map { try key.paillierKey.encrypt(BigInt($0), method: .plain, using: &random) }
        var welcome = Wire.Welcome()
        welcome.federation = "fuzz"
        welcome.connected = [1, 2]
        var open = Wire.RoundOpen()
        open.mode = .paillier
        open.manifestHash = manifestHash
        open.cost = Wire.PrivacyCost(
            MechanismEvent(mechanism: .gaussian, noise: 3.5, sensitivity: 1, dimension: 4, shares: 3, count: 1),
            relation: .addOrRemoveOne, unit: "user", epsilon: 1, delta: 1e-6)
        open.layout = Wire.SlotLayout(try SlotLayout(valueBound: 1 << 40, noiseBound: 1 << 30, parties: 3, modulusBits: 3072))
        open.parties = [1, 2, 3]
        open.threshold = 2
        open.fractionalBits = 32
        open.valueCount = 8
        open.groups = 2
        open.anchors = 4
        open.keyID = key.keyID
        open.sessionNonce = [UInt8](repeating: 8, count: 32)
        var deadline = Wire.PhaseDeadline()
        deadline.phase = .contribute
        deadline.milliseconds = 60_000
        open.deadlines = [deadline]
        var scope = CatalogQuery(text: "jazz", conditions: [.init(key: "kind", value: "event")], limit: 0)
        scope.near = .init(center: .init(x: 1, y: -2), radius: 5)
        open.request.request = try RoundRequest(
            manifestHash: manifestHash, analyst: "alice", issuedAt: 1_764_000_000_000_000, nonce: [UInt8](repeating: 7, count: 16), scope: scope
        ).serialized()
        open.request.certificate = [UInt8](repeating: 0x30, count: 40)
        open.request.signature = [UInt8](repeating: 1, count: 64)
        let session = Array(repeating: UInt8(9), count: 32)
        let keys = (0..<3).map {
            AdvertisedKeys(party: $0, maskPublicKey: Array(repeating: UInt8($0), count: 32), channelPublicKey: Array(repeating: UInt8($0 + 3), count: 32))
        }
        let forwarded = ForwardedShares(
            sessionID: session, recipient: 1,
            shares: [
                EncryptedShare(sender: 0, recipient: 1, ciphertext: Array(repeating: 3, count: 80)),
                EncryptedShare(sender: 2, recipient: 1, ciphertext: Array(repeating: 4, count: 80)),
            ])
        var header = Wire.ResultHeader()
        header.mode = .paillier
        header.groups = ["a", "b"]
        header.anchors = ["up", "down"]
        header.fractionalBits = 32
        header.contributors = [1, 2]
        var dropped = Wire.DroppedParty()
        dropped.party = 3
        dropped.phase = .contribute
        dropped.reason = "timeout"
        header.dropped = [dropped]
        header.charge = open.cost
        header.valueCount = 4
        var chunk = Wire.ResultChunk()
        chunk.chunk = Wire.Chunk(index: 0, total: 1)
        chunk.header = header
        chunk.values = [1, -2, 3, -4]
        var abort = Wire.Abort()
        abort.reason = "too few parties"
        var result: [String: Wire.AggregatorEnvelope] = [
            "welcome": aggregator(.welcome(welcome)),
            "open": aggregator(.open(open)),
            "key-directory": aggregator(.keyDirectory(SecAggWire.directory(KeyDirectory(round: 7, sessionID: session, keys: keys), map: map))),
            "forwarded-shares": aggregator(.forwardedShares(SecAggWire.forwarded(forwarded, map: map))),
            "unmasking-request": aggregator(
                .unmaskingRequest(
                    SecAggWire.unmaskingRequest(
                        UnmaskingRequest(
                            sessionID: session, alive: [0, 1], dead: [2],
                            signatures: [
                                SignedSurvivor(party: 0, signature: Array(repeating: 1, count: 64)),
                                SignedSurvivor(party: 1, signature: Array(repeating: 2, count: 64)),
                            ]), map: map))),
            "survivor-set": aggregator(.survivorSet(SecAggWire.survivorSet(SurvivorSet(sessionID: session, survivors: [0, 1]), map: map))),
            "result": aggregator(.result(chunk)),
            "abort": aggregator(.abort(abort)),
        ]
        for (index, chunk) in CiphertextChunking.encryptedSumChunks(
            ciphertexts, key: key.paillierKey, contributors: [1, 2],
            context: Fixtures.context
        ).enumerated() {
            result["encrypted-sum-\(index)"] = aggregator(.encryptedSum(chunk))
        }
        for (index, var chunk) in CiphertextChunking.contributionChunks(ciphertexts, key: key.paillierKey).enumerated() {
            if index == 0 {
                chunk.certificate = [UInt8](repeating: 0x30, count: 500)
                chunk.signature = [UInt8](repeating: 7, count: 64)
            }
            var relay = Wire.RelayedContribution()
            relay.party = 2
            relay.contribution = chunk
            result["relayed-contribution-\(index)"] = aggregator(.relayedContribution(relay))
        }
        return result
    }
}
