#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Byte-level text reading shared by the CSV, TSV and JSON Lines readers: a buffered line reader
// whose memory is bounded by its block size (not by the file), an exact decimal parser, and
// RFC 4180 field splitting.

/// Reads a file line by line through a fixed-size buffer.
final class LineReader {
    let displayName: String
    private let descriptor: Int32
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var start = 0
    private var end = 0
    private var endOfFile = false
    /// The 1-based number of the line last returned.
    private(set) var lineNumber = 0

    init(path: String, displayName: String, blockSize: Int = 1 << 20) throws {
        self.displayName = displayName
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw AttentionError.unreadable(file: displayName, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        capacity = max(blockSize, 64)
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        close(descriptor)
        buffer.deallocate()
    }

    /// The next line without its terminator (`\n` or `\r\n`), valid until the next call; `nil`
    /// at the end of the file. A UTF-8 byte-order mark at the start of the file is dropped.
    func nextLine() throws -> UnsafeBufferPointer<UInt8>? {
        while true {
            if start < end, let found = memchr(buffer + start, 10, end - start) {
                let newline = found.assumingMemoryBound(to: UInt8.self) - buffer
                let line = trimmedLine(from: start, to: newline)
                start = newline + 1
                return line
            }
            if endOfFile {
                guard start < end else { return nil }
                let line = trimmedLine(from: start, to: end)
                start = end
                return line
            }
            try refill()
        }
    }

    private func trimmedLine(from lineStart: Int, to lineEnd: Int) -> UnsafeBufferPointer<UInt8> {
        lineNumber += 1
        var first = lineStart
        var last = lineEnd
        if last > first, buffer[last - 1] == 13 { last -= 1 }
        if lineNumber == 1, last - first >= 3, buffer[first] == 0xEF, buffer[first + 1] == 0xBB, buffer[first + 2] == 0xBF {
            first += 3
        }
        return UnsafeBufferPointer(start: buffer + first, count: last - first)
    }

    private func refill() throws {
        if start > 0 {
            let remaining = end - start
            if remaining > 0 { memmove(buffer, buffer + start, remaining) }
            start = 0
            end = remaining
        }
        if end == capacity {
            // A line longer than the buffer: grow (lines, not files, set the memory needed).
            let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            larger.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = larger
            capacity *= 2
        }
        let count = read(descriptor, buffer + end, capacity - end)
        if count < 0 {
            if errno == EINTR { return }
            throw AttentionError.unreadable(file: displayName, reason: String(cString: strerror(errno)))
        }
        if count == 0 { endOfFile = true }
        end += count
    }
}

/// 10^k for k in 0...22, all exact in a Double (a switch, not a global array, so the hot path
/// has no lazy-initialisation check).
@inline(__always)
private func exactPowerOfTen(_ k: Int) -> Double {
    switch k {
    case 0: return 1e0
    case 1: return 1e1
    case 2: return 1e2
    case 3: return 1e3
    case 4: return 1e4
    case 5: return 1e5
    case 6: return 1e6
    case 7: return 1e7
    case 8: return 1e8
    case 9: return 1e9
    case 10: return 1e10
    case 11: return 1e11
    case 12: return 1e12
    case 13: return 1e13
    case 14: return 1e14
    case 15: return 1e15
    case 16: return 1e16
    case 17: return 1e17
    case 18: return 1e18
    case 19: return 1e19
    case 20: return 1e20
    case 21: return 1e21
    default: return 1e22
    }
}

/// The outcome of parsing a numeric field.
enum ParsedNumber {
    case value(Double)
    /// The text spells NaN or infinity, or the value overflows a Double.
    case notFinite
    case notANumber
}

/// Parses a decimal number (optional sign, digits with an optional point, optional exponent;
/// surrounding spaces allowed) exactly: Clinger's fast path when the digits and the power of
/// ten are both exact in a Double, `strtod` otherwise.
func parseNumber(_ base: UnsafePointer<UInt8>, count: Int) -> ParsedNumber {
    var i = 0
    var n = count
    while i < n, base[i] == 32 || base[i] == 9 { i += 1 }
    while n > i, base[n - 1] == 32 || base[n - 1] == 9 { n -= 1 }
    guard i < n else { return .notANumber }
    let textStart = i
    var negative = false
    if base[i] == UInt8(ascii: "-") {
        negative = true
        i += 1
    } else if base[i] == UInt8(ascii: "+") {
        i += 1
    }
    var mantissa: UInt64 = 0
    var digits = 0
    var exponent = 0
    var sawDigit = false
    var inexact = false
    while i < n, base[i] &- 48 < 10 {
        let digit = UInt64(base[i] &- 48)
        sawDigit = true
        if mantissa == 0 && digit == 0 {
        } else if digits < 19 {
            mantissa = mantissa &* 10 &+ digit
            digits += 1
        } else {
            exponent += 1
            if digit != 0 { inexact = true }
        }
        i += 1
    }
    if i < n, base[i] == UInt8(ascii: ".") {
        i += 1
        while i < n, base[i] &- 48 < 10 {
            let digit = UInt64(base[i] &- 48)
            sawDigit = true
            if mantissa == 0 && digit == 0 {
                exponent -= 1
            } else if digits < 19 {
                mantissa = mantissa &* 10 &+ digit
                digits += 1
                exponent -= 1
            } else if digit != 0 {
                inexact = true
            }
            i += 1
        }
    }
    guard sawDigit else { return spellsNonFinite(base + textStart, count: n - textStart) ? .notFinite : .notANumber }
    if i < n, base[i] | 0x20 == UInt8(ascii: "e") {
        i += 1
        var exponentNegative = false
        if i < n, base[i] == UInt8(ascii: "-") {
            exponentNegative = true
            i += 1
        } else if i < n, base[i] == UInt8(ascii: "+") {
            i += 1
        }
        var written = 0
        var sawExponentDigit = false
        while i < n, base[i] &- 48 < 10 {
            if written < 100_000 { written = written * 10 + Int(base[i] &- 48) }
            sawExponentDigit = true
            i += 1
        }
        guard sawExponentDigit else { return .notANumber }
        exponent += exponentNegative ? -written : written
    }
    guard i == n else { return .notANumber }
    if mantissa == 0 { return .value(negative ? -0.0 : 0.0) }
    if !inexact, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
        var value = Double(mantissa)
        value = exponent >= 0 ? value * exactPowerOfTen(exponent) : value / exactPowerOfTen(-exponent)
        return .value(negative ? -value : value)
    }
    // Rare: many digits or a large exponent. The syntax is already checked, so strtod sees a
    // plain decimal (never hex or "nan").
    let length = n - textStart
    let value = withUnsafeTemporaryAllocation(of: CChar.self, capacity: length + 1) { text -> Double in
        for k in 0..<length { text[k] = CChar(bitPattern: base[textStart + k]) }
        text[length] = 0
        return strtod(text.baseAddress!, nil)
    }
    return value.isFinite ? .value(value) : .notFinite
}

private func spellsNonFinite(_ base: UnsafePointer<UInt8>, count: Int) -> Bool {
    var text = String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self).lowercased()
    if text.hasPrefix("+") || text.hasPrefix("-") { text.removeFirst() }
    return ["nan", "inf", "infinity"].contains(text)
}

/// One field of a delimited line: a byte range of the line (outer quotes removed).
struct FieldRange {
    var start: Int
    var end: Int
    /// The field was quoted and contains doubled quotes that must be undone.
    var hasEscapedQuotes: Bool
}

/// Splits a line into fields (RFC 4180 quoting, without line breaks inside quotes). Returns a
/// problem description for a malformed line.
func splitFields(_ line: UnsafeBufferPointer<UInt8>, delimiter: UInt8, into fields: inout [FieldRange]) -> String? {
    fields.removeAll(keepingCapacity: true)
    let n = line.count
    let quote = UInt8(ascii: "\"")
    var i = 0
    while true {
        if i < n, line[i] == quote {
            var j = i + 1
            var escaped = false
            while true {
                guard j < n else { return "unterminated quoted field" }
                if line[j] == quote {
                    if j + 1 < n, line[j + 1] == quote {
                        escaped = true
                        j += 2
                        continue
                    }
                    break
                }
                j += 1
            }
            fields.append(FieldRange(start: i + 1, end: j, hasEscapedQuotes: escaped))
            j += 1
            if j == n { return nil }
            guard line[j] == delimiter else { return "unexpected text after a closing quote" }
            i = j + 1
        } else {
            var j = i
            while j < n, line[j] != delimiter { j += 1 }
            fields.append(FieldRange(start: i, end: j, hasEscapedQuotes: false))
            if j == n { return nil }
            i = j + 1
        }
    }
}

/// The text of a field.
func fieldText(_ line: UnsafeBufferPointer<UInt8>, _ field: FieldRange) -> String {
    let text = String(decoding: UnsafeBufferPointer(rebasing: line[field.start..<field.end]), as: UTF8.self)
    return field.hasEscapedQuotes ? text.replacingOccurrences(of: "\"\"", with: "\"") : text
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

/// A field quoted for CSV when it needs to be.
func csvField(_ text: String, delimiter: Character = ",") -> String {
    let needsQuotes =
        text.contains(delimiter) || text.contains("\"") || text.contains("\n") || text.contains("\r")
        || text.first == " " || text.last == " "
    guard needsQuotes else { return text }
    return "\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\""
}

/// A Double as the shortest text that reads back to the same value.
func csvNumber(_ value: Double) -> String { value.description }

/// The delimiter for a data file, from its extension: tab for `.tsv`/`.tab`, comma otherwise.
func delimiter(forPath path: String) -> UInt8 {
    let lower = path.lowercased()
    return lower.hasSuffix(".tsv") || lower.hasSuffix(".tab") ? 9 : UInt8(ascii: ",")
}

/// Reads a whole small delimited file (anchors, encoder, capacities, labelled matrices) into
/// rows of fields with their line numbers; blank lines are skipped.
func readSmallDelimitedFile(path: String, displayName: String) throws -> [(line: Int, fields: [String])] {
    let reader = try LineReader(path: path, displayName: displayName)
    let separator = delimiter(forPath: path)
    var rows: [(line: Int, fields: [String])] = []
    var ranges: [FieldRange] = []
    while let line = try reader.nextLine() {
        if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
        if let problem = splitFields(line, delimiter: separator, into: &ranges) {
            throw AttentionError.badRecord(file: displayName, position: "line \(reader.lineNumber)", problem: problem)
        }
        rows.append((reader.lineNumber, ranges.map { fieldText(line, $0) }))
    }
    return rows
}

/// Parses a number field of a small file, or throws naming the position.
func parseFiniteNumber(_ text: String, file: String, position: String) throws -> Double {
    var text = text
    let parsed: ParsedNumber = text.isEmpty ? .notANumber : text.withUTF8 { parseNumber($0.baseAddress!, count: $0.count) }
    switch parsed {
    case .value(let value): return value
    case .notFinite: throw AttentionError.badRecord(file: file, position: position, problem: "'\(text)' is not a finite number")
    case .notANumber: throw AttentionError.badRecord(file: file, position: position, problem: "'\(text)' is not a number")
    }
}
