import Arithmetic
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
}
