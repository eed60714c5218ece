import COpenSSL

/// HKDF with SHA-256 (RFC 5869) through OpenSSL's KDF interface.
public enum HKDF {
    /// Derives `length` bytes (at most 255 × 32) from input keying material.
    /// - Parameters:
    ///   - ikm: the input keying material (for example an X25519 shared secret).
    ///   - salt: optional salt; empty means a string of zeros, as RFC 5869 says.
    ///   - info: context binding (protocol, session, purpose).
    public static func deriveKey(ikm: [UInt8], salt: [UInt8] = [], info: [UInt8], length: Int) throws -> [UInt8] {
        guard length > 0, length <= 255 * SHA256.digestLength else {
            throw PrimitivesError.unsupportedSize("HKDF output length \(length) is outside 1...\(255 * SHA256.digestLength)")
        }
        var output = [UInt8](repeating: 0, count: length)
        let status = ikm.withUnsafeBufferPointer { ikmBuffer in
            salt.withUnsafeBufferPointer { saltBuffer in
                info.withUnsafeBufferPointer { infoBuffer in
                    output.withUnsafeMutableBufferPointer { out in
                        fs_hkdf_sha256(
                            ikmBuffer.baseAddress, ikmBuffer.count,
                            saltBuffer.baseAddress, saltBuffer.count,
                            infoBuffer.baseAddress, infoBuffer.count,
                            out.baseAddress, out.count)
                    }
                }
            }
        }
        guard status == 1 else { throw PrimitivesError.openSSL(operation: "HKDF-SHA256") }
        return output
    }
}
