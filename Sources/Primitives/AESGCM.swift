import COpenSSL

/// AES-256-GCM authenticated encryption with associated data (NIST SP 800-38D).
public enum AESGCM {
    public static let keyLength = 32
    public static let nonceLength = 12
    public static let tagLength = 16

    /// Encrypts `plaintext`; the output is nonce ‖ ciphertext ‖ tag, with a fresh random nonce.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        try seal(plaintext, key: key, nonce: SecureRandom.bytes(nonceLength), associatedData: associatedData)
    }

    /// Encrypts with a caller-chosen nonce (which must never repeat under one key).
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keyLength else { throw PrimitivesError.invalidLength(what: "AES-256-GCM key", expected: keyLength, found: key.count) }
        guard nonce.count == nonceLength else { throw PrimitivesError.invalidLength(what: "AES-GCM nonce", expected: nonceLength, found: nonce.count) }
        guard let context = EVP_CIPHER_CTX_new() else { throw PrimitivesError.openSSL(operation: "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
            fs_evp_gcm_set_ivlen(context, Int32(nonceLength)) == 1,
            EVP_EncryptInit_ex(context, nil, nil, key, nonce) == 1
        else { throw PrimitivesError.openSSL(operation: "AES-256-GCM init") }
        var written: Int32 = 0
        if !associatedData.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &written, associatedData, Int32(associatedData.count)) == 1 else {
                throw PrimitivesError.openSSL(operation: "AES-256-GCM associated data")
            }
        }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count)
        if !plaintext.isEmpty {
            guard EVP_EncryptUpdate(context, &ciphertext, &written, plaintext, Int32(plaintext.count)) == 1 else {
                throw PrimitivesError.openSSL(operation: "AES-256-GCM encrypt")
            }
        }
        var finalBlock = [UInt8](repeating: 0, count: 16)
        guard EVP_EncryptFinal_ex(context, &finalBlock, &written) == 1 else { throw PrimitivesError.openSSL(operation: "AES-256-GCM final") }
        var tag = [UInt8](repeating: 0, count: tagLength)
        guard fs_evp_gcm_get_tag(context, &tag, Int32(tagLength)) == 1 else { throw PrimitivesError.openSSL(operation: "AES-256-GCM tag") }
        return nonce + ciphertext + tag
    }

    /// Decrypts nonce ‖ ciphertext ‖ tag; throws `authenticationFailed` unless the tag verifies.
    public static func open(_ sealed: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        guard key.count == keyLength else { throw PrimitivesError.invalidLength(what: "AES-256-GCM key", expected: keyLength, found: key.count) }
        guard sealed.count >= nonceLength + tagLength else { throw PrimitivesError.authenticationFailed }
        let nonce = Array(sealed[0..<nonceLength])
        let ciphertext = Array(sealed[nonceLength..<(sealed.count - tagLength)])
        var tag = Array(sealed[(sealed.count - tagLength)...])
        guard let context = EVP_CIPHER_CTX_new() else { throw PrimitivesError.openSSL(operation: "EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
            fs_evp_gcm_set_ivlen(context, Int32(nonceLength)) == 1,
            EVP_DecryptInit_ex(context, nil, nil, key, nonce) == 1
        else { throw PrimitivesError.openSSL(operation: "AES-256-GCM init") }
        var written: Int32 = 0
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &written, associatedData, Int32(associatedData.count)) == 1 else {
                throw PrimitivesError.authenticationFailed
            }
        }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        if !ciphertext.isEmpty {
            guard EVP_DecryptUpdate(context, &plaintext, &written, ciphertext, Int32(ciphertext.count)) == 1 else {
                throw PrimitivesError.authenticationFailed
            }
        }
        guard fs_evp_gcm_set_tag(context, &tag, Int32(tagLength)) == 1 else { throw PrimitivesError.openSSL(operation: "AES-256-GCM tag") }
        var finalBlock = [UInt8](repeating: 0, count: 16)
        guard EVP_DecryptFinal_ex(context, &finalBlock, &written) == 1 else {
            for index in plaintext.indices { plaintext[index] = 0 }
            throw PrimitivesError.authenticationFailed
        }
        return plaintext
    }
}
