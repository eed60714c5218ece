import Arithmetic

/// A Paillier ciphertext: an element of Z*_{n²} for some key.
///
/// Values from outside are made only through `PaillierPublicKey.ciphertext(_:)`, which checks
/// 0 < c < n² and gcd(c, n) = 1; the engine's own operations produce valid values. So a
/// `PaillierCiphertext` in hand has been validated.
public struct PaillierCiphertext: Sendable, Hashable {
    public let value: BigInt

    init(unchecked value: BigInt) {
        self.value = value
    }
}
