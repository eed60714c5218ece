import COpenSSL

/// X25519 Diffie–Hellman (RFC 7748) through OpenSSL.
public enum X25519 {
    public static let keyLength = 32

    /// A private key; its bytes are wiped when the last copy goes away.
    public struct PrivateKey: Sendable {
        private let secret: SecretBytes

        /// A fresh key from the CSPRNG.
        public init() {
            secret = SecretBytes(SecureRandom.bytes(X25519.keyLength))
        }

        /// A key from its 32 raw bytes (RFC 7748 scalar, clamped by the function itself).
        public init(rawRepresentation: [UInt8]) throws {
            guard rawRepresentation.count == X25519.keyLength else {
                throw PrimitivesError.invalidLength(what: "X25519 private key", expected: X25519.keyLength, found: rawRepresentation.count)
            }
            secret = SecretBytes(rawRepresentation)
        }

        /// The raw scalar bytes. Handle with care: this is the secret.
        public var rawRepresentation: [UInt8] { secret.bytes }

        /// The matching public key.
        public var publicKey: PublicKey {
            // The base point u = 9.
            var basePoint = [UInt8](repeating: 0, count: X25519.keyLength)
            basePoint[0] = 9
            // Multiplying by the base point never fails for a well-formed scalar.
            let raw = try! X25519.scalarMultiply(secret.bytes, basePoint, rejectZero: false)
            return PublicKey(validated: raw)
        }

        /// The shared secret with `peer`; refuses the all-zero result of small-order points.
        public func sharedSecret(with peer: PublicKey) throws -> [UInt8] {
            try X25519.scalarMultiply(secret.bytes, peer.rawRepresentation, rejectZero: true)
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

    /// The RFC 7748 function X25519(k, u).
    static func scalarMultiply(_ scalar: [UInt8], _ uCoordinate: [UInt8], rejectZero: Bool) throws -> [UInt8] {
        guard let privateKey = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, scalar, scalar.count) else {
            throw PrimitivesError.openSSL(operation: "X25519 private key")
        }
        defer { EVP_PKEY_free(privateKey) }
        guard let peerKey = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, uCoordinate, uCoordinate.count) else {
            throw PrimitivesError.openSSL(operation: "X25519 public key")
        }
        defer { EVP_PKEY_free(peerKey) }
        guard let context = EVP_PKEY_CTX_new(privateKey, nil) else { throw PrimitivesError.openSSL(operation: "X25519 context") }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, peerKey) == 1 else {
            throw PrimitivesError.openSSL(operation: "X25519 derive init")
        }
        var length = X25519.keyLength
        var output = [UInt8](repeating: 0, count: length)
        guard EVP_PKEY_derive(context, &output, &length) == 1, length == X25519.keyLength else {
            // OpenSSL refuses an all-zero result itself.
            if rejectZero { throw PrimitivesError.weakPublicKey }
            throw PrimitivesError.openSSL(operation: "X25519 derive")
        }
        if rejectZero, output.allSatisfy({ $0 == 0 }) { throw PrimitivesError.weakPublicKey }
        return output
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
