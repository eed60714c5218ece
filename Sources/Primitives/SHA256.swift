import COpenSSL

/// SHA-256 (FIPS 180-4) through OpenSSL.
public enum SHA256 {
    public static let digestLength = 32

    /// The digest of `data`.
    public static func hash<Bytes: ContiguousBytes>(_ data: Bytes) -> [UInt8] {
        var hasher = Hasher()
        hasher.update(data)
        return hasher.finalize()
    }

    /// An incremental SHA-256 computation.
    public struct Hasher: ~Copyable {
        private let context: OpaquePointer

        public init() {
            guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
                fatalError("OpenSSL could not initialise SHA-256")
            }
            self.context = context
        }

        deinit { EVP_MD_CTX_free(context) }

        public mutating func update<Bytes: ContiguousBytes>(_ data: Bytes) {
            data.withUnsafeBytes { raw in
                _ = EVP_DigestUpdate(context, raw.baseAddress, raw.count)
            }
        }

        /// Appends a length-prefixed field (8-byte big-endian length, then the bytes), so that
        /// a sequence of fields hashes unambiguously.
        public mutating func updateField<Bytes: ContiguousBytes>(_ data: Bytes) {
            let count = data.withUnsafeBytes { UInt64($0.count) }
            update(withUnsafeBytes(of: count.bigEndian) { Array($0) })
            update(data)
        }

        public consuming func finalize() -> [UInt8] {
            var digest = [UInt8](repeating: 0, count: SHA256.digestLength)
            var length: UInt32 = 0
            _ = EVP_DigestFinal_ex(context, &digest, &length)
            return digest
        }
    }
}

/// Types whose bytes can be read contiguously; `[UInt8]` and `ArraySlice<UInt8>` conform.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension ContiguousArray: ContiguousBytes where Element == UInt8 {}
