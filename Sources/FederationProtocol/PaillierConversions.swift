import Arithmetic
import Foundation
import Paillier

/// Chunked ciphertext batches: each chunk carries a `CiphertextBatchCodec` batch of at most
/// ``WireProtocol/maximumChunkPayload`` bytes of ciphertexts.
public enum CiphertextChunking {
    /// Splits ciphertexts into (chunk, first index, codec bytes) pieces.
    public static func split(
        _ ciphertexts: [PaillierCiphertext], key: PaillierPublicKey
    )
        -> [(chunk: Wire.Chunk, first: Int, bytes: [UInt8])]
    {
        let ranges = chunkRanges(count: ciphertexts.count, itemBytes: key.ciphertextByteCount)
        return ranges.enumerated().map { index, range in
            (
                Wire.Chunk(index: index, total: ranges.count), range.lowerBound,
                CiphertextBatchCodec.encode(Array(ciphertexts[range]), key: key)
            )
        }
    }

    /// Contribution chunks for one party's batch.
    public static func contributionChunks(_ ciphertexts: [PaillierCiphertext], key: PaillierPublicKey) -> [Wire.ContributionChunk] {
        split(ciphertexts, key: key).map { piece in
            var message = Wire.ContributionChunk()
            message.chunk = piece.chunk
            message.firstCiphertext = UInt32(piece.first)
            message.ciphertextCount = UInt32(ciphertexts.count)
            message.ciphertexts = piece.bytes
            return message
        }
    }

    /// Encrypted-sum chunks for the decryption request.
    public static func encryptedSumChunks(
        _ ciphertexts: [PaillierCiphertext], key: PaillierPublicKey,
        contributors: [Int], context: [UInt8]
    ) -> [Wire.EncryptedSumChunk] {
        split(ciphertexts, key: key).map { piece in
            var message = Wire.EncryptedSumChunk()
            message.chunk = piece.chunk
            message.firstCiphertext = UInt32(piece.first)
            message.ciphertextCount = UInt32(ciphertexts.count)
            message.ciphertexts = piece.bytes
            message.contributors = contributors.map { UInt32($0) }
            message.context = context
            return message
        }
    }
}

/// Reassembles a chunked ciphertext batch, validating each element in Z*_{n²} and every size
/// against the expected count before anything is allocated.
public struct CiphertextBatchAssembler: Sendable {
    public let message: String
    public let key: PaillierPublicKey
    public let expectedCount: Int
    private var chunks: ChunkAssembler<Int>
    public private(set) var ciphertexts: [PaillierCiphertext] = []

    public init(message: String, key: PaillierPublicKey, expectedCount: Int) {
        self.message = message
        self.key = key
        self.expectedCount = expectedCount
        chunks = ChunkAssembler(message: message)
    }

    public var isComplete: Bool { chunks.isComplete && ciphertexts.count == expectedCount }

    /// Accepts one chunk: its position, declared total and bytes.
    public mutating func append(chunk: Wire.Chunk, first: UInt32, count: UInt32, bytes: [UInt8]) throws {
        guard Int(count) == expectedCount else {
            throw ProtocolError.malformed(message: message, field: "ciphertext_count", reason: "expected \(expectedCount), found \(count)")
        }
        guard Int(first) == ciphertexts.count else {
            throw ProtocolError.malformed(message: message, field: "first_ciphertext", reason: "expected \(ciphertexts.count), found \(first)")
        }
        let limit = WireProtocol.maximumChunkPayload + 64 + key.ciphertextByteCount
        guard bytes.count <= limit else {
            throw ProtocolError.tooLarge(message: message, field: "ciphertexts", size: bytes.count, limit: limit)
        }
        try chunks.append(chunk, ciphertexts.count)
        let batch: [PaillierCiphertext]
        do { batch = try CiphertextBatchCodec.decode(Array(bytes), key: key) } catch {
            throw ProtocolError.malformed(message: message, field: "ciphertexts", reason: "chunk \(chunk.index): \(error)")
        }
        guard ciphertexts.count + batch.count <= expectedCount else {
            throw ProtocolError.malformed(message: message, field: "ciphertexts", reason: "more than the \(expectedCount) ciphertexts announced")
        }
        ciphertexts += batch
        if chunks.isComplete, ciphertexts.count != expectedCount {
            throw ProtocolError.malformed(
                message: message, field: "ciphertexts", reason: "last chunk arrived with \(ciphertexts.count) of \(expectedCount) ciphertexts")
        }
    }
}

/// Threshold partial decryptions on the wire: the values in chunks, the one batch proof in the
/// first chunk (`batch_proof`, protocol version 2).
public enum PartialDecryptionChunking {
    /// Bytes one value takes, to size chunks.
    static func itemBytes(_ key: ThresholdPublicKey) -> Int { key.paillierKey.ciphertextByteCount + 8 }

    /// Splits one party's share into chunks of bounded size; the first carries the batch proof.
    public static func chunks(_ share: ThresholdDecryptionShare, key: ThresholdPublicKey) -> [Wire.PartialDecryptionChunk] {
        let width = key.paillierKey.ciphertextByteCount
        let ranges = chunkRanges(count: share.values.count, itemBytes: itemBytes(key))
        return ranges.enumerated().map { index, range in
            var message = Wire.PartialDecryptionChunk()
            message.chunk = Wire.Chunk(index: index, total: ranges.count)
            message.firstValue = UInt32(range.lowerBound)
            message.valueCount = UInt32(share.values.count)
            message.keyID = share.keyID
            message.context = share.context
            message.batchDigest = share.batchDigest
            message.values = range.map { share.values[$0].bigEndianBytes(length: width) ?? share.values[$0].magnitudeBytes() }
            if index == 0 {
                var proof = Wire.DecryptionProof()
                proof.challenge = share.proof.challenge.magnitudeBytes()
                proof.response = share.proof.response.magnitudeBytes()
                message.batchProof = proof
            }
            return message
        }
    }
}

/// Reassembles one party's partial decryption, checking sizes, the key id and the context, and
/// that the batch proof comes once, in the first chunk. The proof itself is checked by
/// `ThresholdPublicKey.combine`.
public struct PartialDecryptionAssembler: Sendable {
    public let party: Int
    public let key: ThresholdPublicKey
    public let expectedCount: Int
    public let context: [UInt8]
    private var chunks: ChunkAssembler<Int>
    private var values: [BigInt] = []
    private var proof: ThresholdDecryptionProof?
    private var batchDigest: [UInt8] = []

    public init(party: Int, key: ThresholdPublicKey, expectedCount: Int, context: [UInt8]) {
        self.party = party
        self.key = key
        self.expectedCount = expectedCount
        self.context = context
        chunks = ChunkAssembler(message: "PartialDecryptionChunk from party \(party)")
    }

    public var isComplete: Bool { chunks.isComplete && values.count == expectedCount }

    public mutating func append(_ message: Wire.PartialDecryptionChunk) throws {
        let name = "PartialDecryptionChunk from party \(party)"
        guard Int(message.valueCount) == expectedCount else {
            throw ProtocolError.malformed(message: name, field: "value_count", reason: "expected \(expectedCount), found \(message.valueCount)")
        }
        guard Int(message.firstValue) == values.count else {
            throw ProtocolError.malformed(message: name, field: "first_value", reason: "expected \(values.count), found \(message.firstValue)")
        }
        guard Array(message.keyID) == key.keyID else {
            throw ProtocolError.malformed(message: name, field: "key_id", reason: "made for another threshold key")
        }
        guard Array(message.context) == context else {
            throw ProtocolError.malformed(message: name, field: "context", reason: "made for another round or sum")
        }
        guard message.batchDigest.count == 32, batchDigest.isEmpty || Array(message.batchDigest) == batchDigest else {
            throw ProtocolError.malformed(message: name, field: "batch_digest", reason: "must be 32 bytes and the same in every chunk")
        }
        guard values.count + message.values.count <= expectedCount else {
            throw ProtocolError.malformed(message: name, field: "values", reason: "\(message.values.count) more values at \(values.count) of \(expectedCount)")
        }
        let first = message.chunk.index == 0
        guard message.hasBatchProof == first else {
            throw ProtocolError.malformed(
                message: name, field: "batch_proof",
                reason: first ? "missing from the first chunk" : "only the first chunk carries it, found in chunk \(message.chunk.index)")
        }
        let width = key.paillierKey.ciphertextByteCount
        for value in message.values where value.count > width {
            throw ProtocolError.tooLarge(message: name, field: "values", size: value.count, limit: width)
        }
        // The response is below 2^(|n²| + |Δ| + 512 + 256): allow twice the ciphertext width plus slack.
        let responseLimit = 2 * width + 128
        if first {
            let wire = message.batchProof
            guard wire.challenge.count <= 32, wire.response.count <= responseLimit else {
                throw ProtocolError.tooLarge(
                    message: name, field: "batch_proof", size: max(wire.challenge.count, wire.response.count), limit: responseLimit)
            }
        }
        try chunks.append(message.chunk, values.count)
        batchDigest = Array(message.batchDigest)
        if first {
            proof = ThresholdDecryptionProof(
                challenge: BigInt(bigEndian: message.batchProof.challenge), response: BigInt(bigEndian: message.batchProof.response))
        }
        for value in message.values { values.append(BigInt(bigEndian: value)) }
        if chunks.isComplete, values.count != expectedCount {
            throw ProtocolError.malformed(message: name, field: "values", reason: "last chunk arrived with \(values.count) of \(expectedCount) values")
        }
    }

    /// The reassembled share (call once complete).
    public func share() throws -> ThresholdDecryptionShare {
        guard isComplete, let proof else {
            throw ProtocolError.malformed(message: "PartialDecryptionChunk from party \(party)", field: "chunk", reason: "incomplete")
        }
        return ThresholdDecryptionShare(
            party: party, keyID: key.keyID, context: context, batchDigest: batchDigest,
            values: values, proof: proof)
    }
}
