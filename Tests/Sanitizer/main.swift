// The optimised cryptographic core under AddressSanitizer (scripts/sanitize-crypto.sh).
//
// Debug builds (what `swift test` runs) did not show it: in release builds a partial
// decryption over-released its ciphertexts (a use-after-free that crashed `fedshare simulate`).
// This driver runs the public Paillier and threshold paths, compiled with -O and ASan, and
// checks every input is intact afterwards; ASan aborts the process on any heap misuse or leak.
import Arithmetic
import Foundation
import Paillier
import Primitives

@main
struct SanitizeCrypto {
    static func check(_ condition: Bool, _ what: String) {
        if !condition {
            print("sanitize-crypto: FAILED: \(what)")
            exit(1)
        }
    }

    static func main() throws {
        var random = SecureRandom()
        // Plain and fast encryption, CRT decryption, packing.
        let key = try PaillierPrivateKey.generate(bits: 1024, policy: .insecureTestOnly)
        let pk = key.publicKey
        let messages = (0..<8).map { _ in BigInt.random(below: pk.n, using: &random) }
        for method in [EncryptionMethod.plain, .fast] {
            let ciphertexts = try messages.map { try pk.encrypt($0, method: method, using: &random) }
            check(key.decrypt(batch: ciphertexts) == messages, "decryption (\(method))")
            check(key.decrypt(pk.add(ciphertexts[0], ciphertexts[1])) == (messages[0] + messages[1]).modulo(pk.n), "addition")
        }
        let layout = try SlotLayout(valueBound: (1 << 20) - 1, noiseBound: 0, parties: 4, modulusBits: pk.bitWidth)
        let values = (0..<(layout.slotsPerPlaintext * 3)).map { _ in Int64.random(in: -1000...1000, using: &random) }
        _ = try pk.encrypt(batch: try layout.pack(values))

        // Threshold decryption: shares of batches of 1, 2 and 20 ciphertexts, verified and combined.
        let dealing = try ThresholdDealer.deal(bits: 1024, threshold: 2, parties: 3, policy: .insecureTestOnly, using: &random)
        let tpk = dealing.publicKey
        let context = Array("sanitize".utf8)
        for count in [1, 2, 20] {
            let plaintexts = (0..<count).map { _ in BigInt.random(below: tpk.paillierKey.n, using: &random) }
            let ciphertexts = try plaintexts.map { try tpk.paillierKey.encrypt($0, using: &random) }
            let before = ciphertexts.map(\.value)
            for _ in 0..<3 {
                let shares = try dealing.shares.prefix(2).map {
                    try $0.decryptionShare(for: ciphertexts, publicKey: tpk, context: context, using: &random)
                }
                for share in shares { try tpk.verify(share, for: ciphertexts, context: context) }
                let combined = try tpk.combine(shares, for: ciphertexts, context: context)
                check(combined.plaintexts == plaintexts, "threshold combination of \(count)")
            }
            check(ciphertexts.map(\.value) == before, "ciphertexts unchanged after decryption")
        }
        print("sanitize-crypto: Paillier and threshold paths clean under AddressSanitizer")
    }
}
