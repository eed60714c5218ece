/// How a party signs, and how anyone checks a party's signature, in an authenticated round
/// (Bonawitz et al., CCS 2017, §4 "malicious server"). This module never looks inside a
/// credential or a signature: the federation layer supplies the certificate and the signature
/// scheme (ECDSA P-256 over the federation certificates); tests use a deterministic fake.
public struct SecAggAuthenticator: Sendable {
    /// Checks `signature` over `message` by the holder of `credential`, who must be party
    /// `party` (an index in 0..<parties, as the module numbers them). Returns false for
    /// anything that does not verify, including a credential that is not `party`'s.
    public typealias Verify = @Sendable (_ party: Int, _ credential: [UInt8], _ message: [UInt8], _ signature: [UInt8]) -> Bool

    /// Signs a transcript with this party's private key.
    public let sign: @Sendable ([UInt8]) throws -> [UInt8]
    /// Checks another party's signature (see `Verify`).
    public let verify: Verify
    /// This party's credential, published in its `AdvertisedKeys` (its certificate DER).
    public let credential: [UInt8]

    public init(credential: [UInt8], sign: @escaping @Sendable ([UInt8]) throws -> [UInt8], verify: @escaping Verify) {
        self.credential = credential
        self.sign = sign
        self.verify = verify
    }
}

/// The exact bytes each signature of an authenticated round covers. Every variable-length
/// field is length-prefixed and every domain tag is distinct, so no transcript of one kind
/// parses as another.
public enum SecAggTranscript {
    /// Domain tag of a key advertisement.
    public static let advertisedKeysTag = Array("fedshare/secagg/v1/advertised-keys".utf8)
    /// Domain tag of a survivor set.
    public static let survivorSetTag = Array("fedshare/secagg/v1/survivor-set".utf8)

    /// tag ‖ 0x00 ‖ round (u64 BE) ‖ len(nonce) (u32 BE) ‖ nonce ‖ party (u32 BE)
    /// ‖ len(maskPK) (u32 BE) ‖ maskPK ‖ len(channelPK) (u32 BE) ‖ channelPK.
    public static func advertisedKeys(
        round: UInt64, sessionNonce: [UInt8], party: Int,
        maskPublicKey: [UInt8], channelPublicKey: [UInt8]
    ) -> [UInt8] {
        var bytes = advertisedKeysTag + [0]
        bytes += SessionCrypto.bigEndian(round)
        bytes += SessionCrypto.bigEndian32(sessionNonce.count) + sessionNonce
        bytes += SessionCrypto.bigEndian32(party)
        bytes += SessionCrypto.bigEndian32(maskPublicKey.count) + maskPublicKey
        bytes += SessionCrypto.bigEndian32(channelPublicKey.count) + channelPublicKey
        return bytes
    }

    /// The transcript of `keys` in a round with this configuration.
    public static func advertisedKeys(_ keys: AdvertisedKeys, configuration: SecAggConfiguration) -> [UInt8] {
        advertisedKeys(
            round: configuration.round, sessionNonce: configuration.sessionNonce, party: keys.party,
            maskPublicKey: keys.maskPublicKey, channelPublicKey: keys.channelPublicKey)
    }

    /// tag ‖ 0x00 ‖ len(sessionID) (u32 BE) ‖ sessionID ‖ count (u32 BE) ‖ each survivor (u32 BE),
    /// in the order given (ascending in every honest message). The session id already binds
    /// the configuration (round, nonce, threshold, graph, consistency check) and every key.
    public static func survivorSet(sessionID: [UInt8], survivors: [Int]) -> [UInt8] {
        var bytes = survivorSetTag + [0]
        bytes += SessionCrypto.bigEndian32(sessionID.count) + sessionID
        bytes += SessionCrypto.bigEndian32(survivors.count)
        for survivor in survivors { bytes += SessionCrypto.bigEndian32(survivor) }
        return bytes
    }
}
