import Arithmetic
import Foundation

/// Labels and byte encodings shared by key ids, proofs and the serialised formats.
enum ThresholdEncoding {
    static let keyIDLabel = "fedshare/threshold-paillier/key-id/v1"
    static let batchLabel = "fedshare/threshold-paillier/batch/v1"
    static let batchWeightsLabel = "fedshare/threshold-paillier/batch-weights/v1"
    static let batchProofLabel = "fedshare/threshold-paillier/batch-decryption-proof/v1"

    static let publicKeyFormat = "fedshare.threshold-paillier.public-key"
    static let keyShareFormat = "fedshare.threshold-paillier.key-share"
    static let decryptionShareFormat = "fedshare.threshold-paillier.decryption-share"
    /// The format version of keys and key shares this build reads and writes.
    static let version = 1
    /// The format version of decryption shares: 2 carries one batch proof (`proof`); version 1
    /// carried one proof per value (`proofs`) and is no longer read.
    static let decryptionShareVersion = 2

    static func hex(_ bytes: [UInt8]) -> String { Base16.encode(bytes) }

    static func unhex(_ text: String) -> [UInt8]? { Base16.decode(text) }

    static func uint64(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// The big-endian magnitude left-padded to `width` bytes (values here are below n², so they fit).
    static func fixed(_ value: BigInt, width: Int) -> [UInt8] {
        value.bigEndianBytes(length: width) ?? value.magnitudeBytes()
    }

    /// A context for messages: its text when it is printable ASCII, else hex (shortened).
    static func describe(_ context: [UInt8]) -> String {
        if !context.isEmpty, context.count <= 64, context.allSatisfy({ (0x20...0x7E).contains($0) }) {
            return "\"\(String(decoding: context, as: UTF8.self))\""
        }
        let text = hex(context)
        return text.isEmpty ? "(empty)" : (text.count > 16 ? "0x" + text.prefix(16) + "…" : "0x" + text)
    }

    // MARK: Reading fields

    static func integer(_ text: String, field: String, in what: String) throws -> BigInt {
        guard !text.isEmpty, let bytes = Base64URL.decode(text) else {
            throw PaillierError.malformedEncoding("\(what): field \"\(field)\" is not base64url")
        }
        return BigInt(bigEndian: bytes)
    }

    static func checkHeader(
        format: String, version: Int, expected: String, what: String, supported: Int = ThresholdEncoding.version,
        note: String = ""
    ) throws {
        guard format == expected else {
            throw PaillierError.malformedEncoding("\(what): format is \"\(format)\", expected \"\(expected)\"")
        }
        guard version == supported else {
            throw PaillierError.malformedEncoding(
                "\(what): format version \(version) is not supported (this build reads version \(supported)\(note))")
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw PaillierError.malformedEncoding("\(what): \(describe(error))")
        } catch {
            throw PaillierError.malformedEncoding("\(what): not valid JSON")
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the top level" : "field \"" + names.joined(separator: ".") + "\""
        }
        switch error {
        case .keyNotFound(let key, _): return "missing field \"\(key.stringValue)\""
        case .typeMismatch(_, let context): return "\(path(context)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context)) is null"
        case .dataCorrupted(let context): return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context)) is invalid"
        @unknown default: return "unreadable"
        }
    }
}

// MARK: - Public key

extension ThresholdPublicKey {
    struct Encoded: Codable {
        var format: String
        var version: Int
        var keyID: String
        var n: String
        var threshold: Int
        var parties: Int
        var verificationBase: String
        var verificationKeys: [String]
    }

    /// The versioned JSON form: format name, version, key id (hex), and base64url integers.
    public func jsonData() throws -> Data {
        try ThresholdEncoding.encode(
            Encoded(
                format: ThresholdEncoding.publicKeyFormat, version: ThresholdEncoding.version, keyID: fingerprint,
                n: n.base64URL, threshold: threshold, parties: parties, verificationBase: verificationBase.base64URL,
                verificationKeys: verificationKeys.map(\.base64URL)))
    }

    /// Reads the JSON form, checks every field and that the stated key id matches the fields.
    ///
    /// - Parameter policy: `.insecureTestOnly` accepts moduli below 2048 bits (tests only).
    /// - Throws: ``PaillierError`` naming the field at fault.
    public init(jsonData: Data, policy: KeySizePolicy = .production) throws {
        let what = "threshold public key"
        let encoded = try ThresholdEncoding.decode(Encoded.self, from: jsonData, what: what)
        try ThresholdEncoding.checkHeader(
            format: encoded.format, version: encoded.version, expected: ThresholdEncoding.publicKeyFormat, what: what)
        let keys = try encoded.verificationKeys.enumerated().map { index, text in
            try ThresholdEncoding.integer(text, field: "verificationKeys[\(index)]", in: what)
        }
        try self.init(
            n: ThresholdEncoding.integer(encoded.n, field: "n", in: what), threshold: encoded.threshold,
            parties: encoded.parties,
            verificationBase: ThresholdEncoding.integer(encoded.verificationBase, field: "verificationBase", in: what),
            verificationKeys: keys, policy: policy)
        guard ThresholdEncoding.unhex(encoded.keyID) == keyID else {
            throw PaillierError.malformedEncoding(
                "\(what): field \"keyID\" does not match the key's fields (the file was altered or mixed up)")
        }
    }
}

// MARK: - Key share

extension ThresholdKeyShare {
    struct Encoded: Codable {
        var format: String
        var version: Int
        var keyID: String
        var party: Int
        var share: String
    }

    /// The versioned JSON form, **containing the secret share**: write it only to a file that
    /// its owner alone can read (0600), and wipe the returned buffer when done.
    public func jsonData() throws -> Data {
        try ThresholdEncoding.encode(
            Encoded(
                format: ThresholdEncoding.keyShareFormat, version: ThresholdEncoding.version,
                keyID: ThresholdEncoding.hex(keyID), party: party, share: secret.base64URL))
    }

    /// Reads the JSON form. With `publicKey`, also checks that the share belongs to that key and
    /// matches the party's verification key.
    /// - Throws: ``PaillierError`` naming the field at fault, or a foreign key.
    public init(jsonData: Data, publicKey: ThresholdPublicKey? = nil) throws {
        let what = "threshold key share"
        var encoded = try ThresholdEncoding.decode(Encoded.self, from: jsonData, what: what)
        defer { encoded.share = "" }
        try ThresholdEncoding.checkHeader(
            format: encoded.format, version: encoded.version, expected: ThresholdEncoding.keyShareFormat, what: what)
        guard let keyID = ThresholdEncoding.unhex(encoded.keyID), keyID.count == 32 else {
            throw PaillierError.malformedEncoding("\(what): field \"keyID\" is not 32 bytes of hex")
        }
        guard encoded.party >= 1 else { throw PaillierError.malformedEncoding("\(what): field \"party\" must be at least 1") }
        var secret = try ThresholdEncoding.integer(encoded.share, field: "share", in: what)
        secret.markSecret()
        guard secret.signum > 0 else { throw PaillierError.malformedEncoding("\(what): field \"share\" is zero") }
        self.init(party: encoded.party, keyID: keyID, secret: secret)
        if let publicKey { try verify(against: publicKey) }
    }
}

// MARK: - Decryption share

extension ThresholdDecryptionShare {
    struct Encoded: Codable {
        struct Proof: Codable {
            var e: String
            var z: String
        }

        var format: String
        var version: Int
        var keyID: String
        var party: Int
        var context: String
        var batch: String
        var values: [String]
        var proof: Proof
    }

    /// Just the header, read first so that an old version gets a clear message rather than a
    /// missing field.
    struct EncodedHeader: Codable {
        var format: String
        var version: Int
    }

    /// The versioned JSON form (version 2): key id, party, context (base64url), batch digest
    /// (hex), values and the one batch proof `{e, z}` (base64url integers).
    public func jsonData() throws -> Data {
        try ThresholdEncoding.encode(
            Encoded(
                format: ThresholdEncoding.decryptionShareFormat, version: ThresholdEncoding.decryptionShareVersion,
                keyID: ThresholdEncoding.hex(keyID), party: party, context: Base64URL.encode(context),
                batch: ThresholdEncoding.hex(batchDigest), values: values.map(\.base64URL),
                proof: Encoded.Proof(e: proof.challenge.base64URL, z: proof.response.base64URL)))
    }

    /// Reads the JSON form (version 2 only). With `publicKey` and `context`, refuses a share made
    /// for another key or another round/context (the proof is checked later, by combination).
    /// - Throws: ``PaillierError/wrongKey(what:expected:found:)``,
    ///   ``PaillierError/wrongContext(what:expected:found:)`` or
    ///   ``PaillierError/malformedEncoding(_:)``.
    public init(jsonData: Data, publicKey: ThresholdPublicKey? = nil, context: [UInt8]? = nil) throws {
        let what = "threshold decryption share"
        let header = try ThresholdEncoding.decode(EncodedHeader.self, from: jsonData, what: what)
        try ThresholdEncoding.checkHeader(
            format: header.format, version: header.version, expected: ThresholdEncoding.decryptionShareFormat, what: what,
            supported: ThresholdEncoding.decryptionShareVersion,
            note: header.version == 1 ? "; version 1 carried one proof per value, make the share again" : "")
        let encoded = try ThresholdEncoding.decode(Encoded.self, from: jsonData, what: what)
        guard let keyID = ThresholdEncoding.unhex(encoded.keyID), keyID.count == 32 else {
            throw PaillierError.malformedEncoding("\(what): field \"keyID\" is not 32 bytes of hex")
        }
        guard let batch = ThresholdEncoding.unhex(encoded.batch), batch.count == 32 else {
            throw PaillierError.malformedEncoding("\(what): field \"batch\" is not 32 bytes of hex")
        }
        guard let contextBytes = Base64URL.decode(encoded.context) else {
            throw PaillierError.malformedEncoding("\(what): field \"context\" is not base64url")
        }
        let values = try encoded.values.enumerated().map { index, text in
            try ThresholdEncoding.integer(text, field: "values[\(index)]", in: what)
        }
        let proof = ThresholdDecryptionProof(
            challenge: try ThresholdEncoding.integer(encoded.proof.e, field: "proof.e", in: what),
            response: try ThresholdEncoding.integer(encoded.proof.z, field: "proof.z", in: what))
        self.init(
            party: encoded.party, keyID: keyID, context: contextBytes, batchDigest: batch, values: values, proof: proof)
        if let publicKey {
            guard keyID == publicKey.keyID else {
                throw PaillierError.wrongKey(
                    what: "the decryption share from party \(party)", expected: publicKey.fingerprint.prefixed,
                    found: ThresholdEncoding.hex(keyID).prefixed)
            }
            guard publicKey.partyIDs.contains(party) else {
                throw PaillierError.unknownParty(party, parties: publicKey.parties)
            }
        }
        if let context, context != contextBytes {
            throw PaillierError.wrongContext(
                what: "the decryption share from party \(party)", expected: ThresholdEncoding.describe(context),
                found: ThresholdEncoding.describe(contextBytes))
        }
    }
}
