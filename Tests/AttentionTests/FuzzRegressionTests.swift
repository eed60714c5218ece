import Foundation
import Testing
import _TestSupport

@testable import Attention

/// Inputs found by fuzzing (`scripts/fuzz.sh`, Tests/Fuzz/Regressions), each refused cleanly.
@Suite("Fuzzing regressions (Attention)")
struct FuzzRegressionTests {
    static let regressions = fuzzRegressionsDirectory

    /// A .npy header whose shape needs 2^63 − 8 data bytes: adding the header length trapped
    /// on Int overflow (the process crashed) instead of reporting a truncated file.
    @Test("a .npy shape whose byte count overflows with the header is refused")
    func numpySizeOverflow() throws {
        let path = FuzzRegressionTests.regressions.appendingPathComponent("npy/crash-size-overflow").path
        #expect { try NumPyFile(path: path, displayName: "crash-size-overflow.npy") } throws: { error in
            "\(error)".contains("crash-size-overflow.npy") && "\(error)".contains("shape")
        }
    }

    /// Headers that fail after every field is read (size mismatch) and before (bad dtype): the
    /// descriptor is closed once and nothing leaks (the leak and the double close showed under
    /// AddressSanitizer; here the files are opened many times to check nothing else breaks).
    @Test("failed .npy opens release the file", arguments: ["leak-bad-header", "crash-double-close"])
    func numpyFailedOpen(name: String) throws {
        let path = FuzzRegressionTests.regressions.appendingPathComponent("npy/\(name)").path
        for _ in 0..<16 {
            #expect(throws: AttentionError.self) { try NumPyFile(path: path, displayName: name) }
        }
    }
}
