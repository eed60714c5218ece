import Foundation
import Testing
import _TestSupport

@testable import Attention

@Suite("Vector exponential and number parsing")
struct VectorMathTests {
    @Test("vectorExp matches libm to a few ulp over [-708, 709]")
    func expAccuracy() {
        var worst = 0.0
        var x = -708.0
        while x <= 709 {
            let lanes = SIMD4<Double>(x, x + 0.173, x + 0.347, x + 0.521)
            let result = vectorExp(lanes)
            for k in 0..<4 where lanes[k] <= 709 {
                let exact = Foundation.exp(lanes[k])
                worst = max(worst, abs(result[k] - exact) / exact)
            }
            x += 0.6931
        }
        #expect(worst < 1e-15)
        #expect(vectorExp(0) == 1)
        #expect(vectorExp(-.infinity) == 0)
        #expect(vectorExp(-800) == 0)
        #expect(abs(vectorExp(1) - M_E) < 1e-15)
    }

    @Test(
        "decimal parsing is exact",
        arguments: [
            "0", "-0", "1", "+1", "0.1", "-2.5e-3", "1e22", "1e23", "123456789012345678901234567890",
            "0.000000000000000000000000000001", "4.9e-324", "1.7976931348623157e308", " 3.25 ", ".5", "5.", "1E+5",
        ])
    func parseExact(text: String) throws {
        var copy = text
        let parsed = copy.withUTF8 { parseNumber($0.baseAddress!, count: $0.count) }
        guard case .value(let value) = parsed else {
            Issue.record("\(text) did not parse")
            return
        }
        let expected = try #require(Double(text.trimmingCharacters(in: .whitespaces)))
        #expect(value == expected)
    }

    @Test("random decimal texts parse to the same Double as the standard library")
    func parseRandom() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let value = Double(bitPattern: random.next() & 0x7FEF_FFFF_FFFF_FFFF) * (Bool.random() ? 1 : -1)
            for text in [value.description, String(format: "%.17g", value), String(format: "%.6f", value / 1e300)] {
                var copy = text
                let parsed = copy.withUTF8 { parseNumber($0.baseAddress!, count: $0.count) }
                guard case .value(let got) = parsed else {
                    Issue.record("\(text) did not parse")
                    return
                }
                #expect(got == Double(text)!, "\(text)")
            }
        }
    }

    @Test(
        "non-numbers and non-finite texts are told apart",
        arguments: [
            ("abc", false), ("", false), ("1.2.3", false), ("1e", false), ("--1", false), ("0x10", false), ("1,5", false),
            ("NaN", true), ("inf", true), ("-Infinity", true), ("1e400", true),
        ])
    func parseRejects(text: String, nonFinite: Bool) {
        var copy = text
        let parsed: ParsedNumber = copy.isEmpty ? .notANumber : copy.withUTF8 { parseNumber($0.baseAddress!, count: $0.count) }
        switch parsed {
        case .value(let value): Issue.record("\(text) parsed as \(value)")
        case .notFinite: #expect(nonFinite)
        case .notANumber: #expect(!nonFinite)
        }
    }
}

@Suite("Line reader")
struct LineReaderTests {
    @Test("lines longer than the buffer, CRLF, no final newline, and blank lines")
    func longLines() throws {
        let folder = try TemporaryFolder()
        let long = String(repeating: "x", count: 1000)
        let url = try folder.write("lines.txt", "a\r\n\(long)\n\nb,\"c\"\n\(long)\(long)")
        let reader = try LineReader(path: url.path, displayName: "lines.txt", blockSize: 64)
        var lines: [String] = []
        while let line = try reader.nextLine() { lines.append(String(decoding: line, as: UTF8.self)) }
        #expect(lines == ["a", long, "", "b,\"c\"", long + long])
        #expect(reader.lineNumber == 5)
    }

    @Test("field splitting with quotes")
    func fields() {
        var ranges: [FieldRange] = []
        let text = Array("1,\"a, \"\"b\"\"\",,x".utf8)
        text.withUnsafeBufferPointer { line in
            #expect(splitFields(line, delimiter: 44, into: &ranges) == nil)
            #expect(ranges.map { fieldText(line, $0) } == ["1", "a, \"b\"", "", "x"])
        }
        let bad = Array("1,\"a\"b".utf8)
        bad.withUnsafeBufferPointer { line in
            #expect(splitFields(line, delimiter: 44, into: &ranges) == "unexpected text after a closing quote")
        }
        #expect(csvField("a, \"b\"") == "\"a, \"\"b\"\"\"")
        #expect(csvField("plain") == "plain")
    }
}
