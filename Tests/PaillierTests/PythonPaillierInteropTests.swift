import Arithmetic
import Foundation
import Paillier
import Primitives
import Testing
import _TestSupport

/// Vectors made by python-paillier 1.5 (`Tests/TestVectors/make_phe_vectors.py`): its key,
/// its ciphertexts for encrypt/add/addenc/multiply, and the values it decrypts them to.
@Suite("python-paillier interoperability")
struct PythonPaillierInteropTests {
    struct Vectors: Decodable {
        struct Case: Decodable {
            let op: String
            let x: Double
            let y: Double?
            let input: PheutilCiphertextJSON?
            let ciphertext: PheutilCiphertextJSON
            let decrypted: String
        }
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let private_key: PheutilPrivateKeyJSON
        let cases: [Case]
    }

    let vectors: Vectors
    let key: PaillierPrivateKey

    init() throws {
        vectors = try TestVectors.load(Vectors.self, from: "phe_interop.json")
        key = try vectors.private_key.privateKey()
    }

    @Test("python-paillier's ciphertexts decrypt to the values python-paillier prints")
    func decryptTheirs() throws {
        for vector in vectors.cases {
            let number = PheEncryptedNumber(ciphertext: try vector.ciphertext.ciphertext(for: key.publicKey), exponent: vector.ciphertext.e)
            #expect(try number.decryptedText(with: key) == vector.decrypted, "\(vector.op) \(vector.x) \(vector.y ?? .nan)")
        }
    }

    @Test("fedshare's arithmetic on python-paillier's ciphertexts gives python-paillier's results")
    func operateOnTheirs() throws {
        var generator = SecureRandom()
        for vector in vectors.cases {
            guard let input = vector.input, let y = vector.y else { continue }
            let number = PheEncryptedNumber(ciphertext: try input.ciphertext(for: key.publicKey), exponent: input.e)
            let result = vector.op == "add" ? try number.adding(y, key: key.publicKey) : try number.multiplied(by: y, key: key.publicKey)
            let serialised = result.serialised(key: key.publicKey, using: &generator)
            #expect(serialised.e == vector.ciphertext.e, "\(vector.op) exponent")
            let reread = PheEncryptedNumber(ciphertext: try serialised.ciphertext(for: key.publicKey), exponent: serialised.e)
            #expect(try reread.decryptedText(with: key) == vector.decrypted, "\(vector.op) \(vector.x) \(y)")
        }
    }

    @Test("fedshare encrypts values under python-paillier's key that decode identically")
    func encryptOurs() throws {
        var generator = SecureRandom()
        for vector in vectors.cases where vector.op == "encrypt" {
            let number = try PheEncryptedNumber.encrypt(vector.x, key: key.publicKey, using: &generator)
            let serialised = number.serialised(key: key.publicKey, using: &generator)
            #expect(serialised.e == vector.ciphertext.e)
            #expect(try number.decryptedText(with: key) == vector.decrypted)
        }
    }

    /// Regression (fuzzing, Tests/Fuzz/Regressions/pheutil-ciphertext): a ciphertext file with
    /// exponent 2^61 was accepted, and decrypting it trapped on `4 * exponent` overflowing;
    /// exponents far from python-paillier's range are now refused when the file is read.
    @Test("a pheutil ciphertext with a wild exponent is refused on reading")
    func wildExponentRefused() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fuzz/Regressions/pheutil-ciphertext/crash-exponent-overflow")
        var json = try JSONDecoder().decode(PheutilCiphertextJSON.self, from: Data(contentsOf: url))
        json.fedshare_key = nil
        // The regression input was made under the fuzz harness's key; test the same field here.
        let good = vectors.cases[0].ciphertext
        for exponent in [json.e, -(1 << 62), Int.max, Int.min, 2049, -2049] {
            var wild = good
            wild.e = exponent
            #expect(throws: PaillierError.self) { try wild.ciphertext(for: key.publicKey) }
        }
        for exponent in [-2048, -32, 0, 2048] {
            var fine = good
            fine.e = exponent
            let number = PheEncryptedNumber(ciphertext: try fine.ciphertext(for: key.publicKey), exponent: fine.e)
            _ = try number.decryptedText(with: key)
        }
    }
}
