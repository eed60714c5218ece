import COpenSSL

/// X25519 Diffie–Hellman (RFC 7748) through OpenSSL.
public enum X25519 {
    public static let keyLength = 32

    /// A private key, held as one OpenSSL key object for its lifetime so that each agreement
    /// costs one scalar multiplication; OpenSSL cleanses the scalar when the last copy goes
    /// away.
    public struct PrivateKey: Sendable {
        private let box: KeyBox

        /// A fresh key from the CSPRNG.
        public init() {
            var raw = SecureRandom.bytes(X25519.keyLength)
            defer { raw.withUnsafeMutableBytes { memsetZero($0.baseAddress!, $0.count) } }
            // A 32-byte string is always a valid X25519 scalar.
            box = try! KeyBox(raw)
        }

        /// A key from its 32 raw bytes (RFC 7748 scalar, clamped by the function itself).
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == X25519.keyLength else {
                throw PrimitivesError.invalidLength(what: "X25519 private key", expected: X25519.keyLength, found: rawRepresentation.count)
            }
            box = try KeyBox(rawRepresentation)
        }

        /// The raw scalar bytes. Handle with care: this is the secret.
        public var rawRepresentation: [UInt8] { box.rawPrivateKey() }

        /// The matching public key.
        public var publicKey: PublicKey { PublicKey(validated: box.publicKey) }

        /// The shared secret with `peer`; refuses the all-zero result of small-order points.
        public func sharedSecret(with peer: PublicKey) throws -> [UInt8] {
            try box.derive(with: peer.rawRepresentation)
        }
    }

    /// Owns the OpenSSL key object of a private key.
    final class KeyBox: @unchecked Sendable {
        // Immutable after init; concurrent derivations each use their own context.
        private let key: OpaquePointer
        let publicKey: [UInt8]

        init(_ raw: [UInt8]) throws {
            guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, raw, raw.count) else {
                throw PrimitivesError.openSSL(operation: "X25519 private key")
            }
            var length = X25519.keyLength
            var publicKey = [UInt8](repeating: 0, count: X25519.keyLength)
            guard EVP_PKEY_get_raw_public_key(key, &publicKey, &length) == 1, length == X25519.keyLength else {
                EVP_PKEY_free(key)
                throw PrimitivesError.openSSL(operation: "X25519 public key")
            }
            self.key = key
            self.publicKey = publicKey
        }

        deinit { EVP_PKEY_free(key) }

        func rawPrivateKey() -> [UInt8] {
            var length = X25519.keyLength
            var raw = [UInt8](repeating: 0, count: X25519.keyLength)
            _ = EVP_PKEY_get_raw_private_key(key, &raw, &length)
            return raw
        }

        func derive(with peer: [UInt8]) throws -> [UInt8] {
            guard let peerKey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peer, peer.count) else {
                throw PrimitivesError.openSSL(operation: "X25519 public key")
            }
            defer { EVP_PKEY_free(peerKey) }
            guard let context = EVP_PKEY_CTX_new(key, nil) else { throw PrimitivesError.openSSL(operation: "X25519 context") }
            defer { EVP_PKEY_CTX_free(context) }
            guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, peerKey) == 1 else {
                throw PrimitivesError.openSSL(operation: "X25519 derive init")
            }
            var length = X25519.keyLength
            var output = [UInt8](repeating: 0, count: X25519.keyLength)
            // OpenSSL refuses an all-zero result itself; the check below is belt and braces.
            guard EVP_PKEY_derive(context, &output, &length) == 1, length == X25519.keyLength,
                !output.allSatisfy({ $0 == 0 })
            else { throw PrimitivesError.weakPublicKey }
            return output
        }
    }

    /// A public key (a u-coordinate).
    public struct PublicKey: Sendable, Hashable {
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == X25519.keyLength else {
                throw PrimitivesError.invalidLength(what: "X25519 public key", expected: X25519.keyLength, found: rawRepresentation.count)
            }
            self.rawRepresentation = rawRepresentation
        }

        init(validated raw: [UInt8]) {
            rawRepresentation = raw
        }
    }
}

/// Bytes that are overwritten with zeros when the last reference goes away.
public final class SecretBytes: @unchecked Sendable {
    public private(set) var bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    deinit {
        bytes.withUnsafeMutableBytes { raw in
            if let base = raw.baseAddress { memsetZero(base, raw.count) }
        }
    }
}

/// Zeroes memory in a way the optimiser may not remove (OpenSSL's `OPENSSL_cleanse`).
public func memsetZero(_ pointer: UnsafeMutableRawPointer, _ count: Int) {
    OPENSSL_cleanse(pointer, count)
}
