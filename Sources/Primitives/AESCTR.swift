import COpenSSL

/// An AES-256 keystream in counter mode (NIST SP 800-38A), used as a pseudorandom generator:
/// mask expansion in secure aggregation and any other "expand a seed into many bytes" need.
///
/// The 16-byte initial counter block is incremented as one big-endian 128-bit integer, as
/// OpenSSL's CTR mode does.
public struct AESCTRKeystream: ~Copyable {
    private let context: OpaquePointer

    /// - Parameters:
    ///   - key: 32 bytes.
    ///   - counter: the initial 16-byte counter block (nonce and counter).
    public init(key: [UInt8], counter: [UInt8] = [UInt8](repeating: 0, count: 16)) throws {
        guard key.count == 32 else { throw PrimitivesError.invalidLength(what: "AES-256 key", expected: 32, found: key.count) }
        guard counter.count == 16 else { throw PrimitivesError.invalidLength(what: "AES-CTR counter block", expected: 16, found: counter.count) }
        guard let context = EVP_CIPHER_CTX_new() else { throw PrimitivesError.openSSL(operation: "EVP_CIPHER_CTX_new") }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_ctr(), nil, key, counter) == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw PrimitivesError.openSSL(operation: "AES-256-CTR init")
        }
        self.context = context
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// XORs the next keystream bytes into `buffer` (encrypts or decrypts in place).
    public mutating func apply(to buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count > 0 else { return }
        var offset = 0
        // EVP_EncryptUpdate takes an Int32 length; process in bounded chunks.
        while offset < buffer.count {
            let chunk = min(buffer.count - offset, 1 << 30)
            var written: Int32 = 0
            guard EVP_EncryptUpdate(context, base + offset, &written, base + offset, Int32(chunk)) == 1 else {
                fatalError("AES-256-CTR failed after a successful initialisation")
            }
            offset += chunk
        }
    }

    /// XORs the keystream into `bytes`.
    public mutating func apply(to bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { apply(to: $0) }
    }

    /// The next `count` keystream bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        apply(to: &output)
        return output
    }

    /// Fills `words` with keystream words (little-endian interpretation of the bytes).
    public mutating func fill(_ words: inout [UInt64]) {
        for index in words.indices { words[index] = 0 }
        words.withUnsafeMutableBytes { apply(to: $0) }
        for index in words.indices { words[index] = UInt64(littleEndian: words[index]) }
    }
}
