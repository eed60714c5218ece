#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A NumPy `.npy` file of float32 or float64 values (format versions 1, 2 and 3), read in rows
/// without loading the whole array.
final class NumPyFile {
    let displayName: String
    /// The array's shape.
    let shape: [Int]
    /// 4 (float32) or 8 (float64).
    let itemSize: Int
    let littleEndian: Bool
    private let descriptor: Int32
    private let dataOffset: Int
    private var rowsRead = 0
    private var raw: UnsafeMutableRawPointer
    private var rawCapacity = 0

    /// Values per row (1 for a one-dimensional array).
    var columns: Int { shape.count == 2 ? shape[1] : 1 }
    var rows: Int { shape[0] }

    init(path: String, displayName: String) throws {
        self.displayName = displayName
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw AttentionError.unreadable(file: displayName, reason: String(cString: strerror(errno)))
        }
        self.descriptor = descriptor
        // The header is read into locals and the stored properties are set only once every check
        // has passed: a throw after full initialisation would run deinit, which closes the
        // descriptor too (fuzzing found the double close, and the leak of `raw` before).
        let itemSize: Int
        let littleEndian: Bool
        let shape: [Int]
        let dataOffset: Int
        do {
            func fail(_ problem: String) -> AttentionError { .malformedFile(file: displayName, problem: problem) }
            var prefix = [UInt8](repeating: 0, count: 12)
            guard pread(descriptor, &prefix, 12, 0) == 12,
                prefix[0..<6].elementsEqual([0x93] + Array("NUMPY".utf8))
            else {
                throw fail("not a NumPy .npy file (bad magic string)")
            }
            let major = prefix[6]
            let headerLength: Int
            let headerStart: Int
            switch major {
            case 1:
                headerLength = Int(prefix[8]) | Int(prefix[9]) << 8
                headerStart = 10
            case 2, 3:
                headerLength = Int(prefix[8]) | Int(prefix[9]) << 8 | Int(prefix[10]) << 16 | Int(prefix[11]) << 24
                headerStart = 12
            default:
                throw fail("unsupported .npy format version \(major) (expected 1, 2 or 3)")
            }
            guard headerLength > 0, headerLength < 1 << 20 else { throw fail("implausible header length \(headerLength)") }
            var headerBytes = [UInt8](repeating: 0, count: headerLength)
            guard pread(descriptor, &headerBytes, headerLength, off_t(headerStart)) == headerLength else {
                throw fail("the header is truncated")
            }
            let header = String(decoding: headerBytes, as: UTF8.self)
            guard let descr = NumPyFile.value(of: "descr", in: header) else { throw fail("the header has no 'descr'") }
            switch descr {
            case "'<f8'", "\"<f8\"":
                itemSize = 8
                littleEndian = true
            case "'>f8'", "\">f8\"":
                itemSize = 8
                littleEndian = false
            case "'<f4'", "\"<f4\"":
                itemSize = 4
                littleEndian = true
            case "'>f4'", "\">f4\"":
                itemSize = 4
                littleEndian = false
            default: throw fail("dtype \(descr) is not supported (expected float32 or float64: '<f4', '<f8', '>f4', '>f8')")
            }
            guard let order = NumPyFile.value(of: "fortran_order", in: header) else { throw fail("the header has no 'fortran_order'") }
            guard order == "False" else { throw fail("Fortran-ordered arrays are not supported (save with C order)") }
            guard let shapeText = NumPyFile.value(of: "shape", in: header),
                shapeText.hasPrefix("("), shapeText.hasSuffix(")")
            else { throw fail("the header has no valid 'shape'") }
            let dimensions = shapeText.dropFirst().dropLast().split(separator: ",")
                .map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
            var dimensionValues: [Int] = []
            for dimension in dimensions {
                guard let value = Int(dimension), value >= 0 else { throw fail("the shape \(shapeText) is not valid") }
                dimensionValues.append(value)
            }
            shape = dimensionValues
            guard shape.count == 1 || shape.count == 2 else {
                throw fail("expected a one- or two-dimensional array, found shape \(shapeText)")
            }
            dataOffset = headerStart + headerLength
            var status = stat()
            guard fstat(descriptor, &status) == 0 else { throw fail("cannot determine the file size") }
            var bytes = itemSize
            var overflow = false
            for dimension in shape {
                let product = bytes.multipliedReportingOverflow(by: dimension)
                bytes = product.partialValue
                overflow = overflow || product.overflow
            }
            let end = dataOffset.addingReportingOverflow(bytes)
            guard !overflow, !end.overflow, Int(status.st_size) == end.partialValue else {
                throw fail("the file holds \(Int(status.st_size) - dataOffset) data bytes but shape \(shapeText) needs \(bytes) (truncated or corrupt)")
            }
        } catch {
            close(descriptor)
            throw error
        }
        self.itemSize = itemSize
        self.littleEndian = littleEndian
        self.shape = shape
        self.dataOffset = dataOffset
        raw = .allocate(byteCount: 16, alignment: 16)
    }

    deinit {
        close(descriptor)
        raw.deallocate()
    }

    /// The text after `'key':` in a header dict, up to the matching comma at depth 0.
    private static func value(of key: String, in header: String) -> String? {
        let patterns = ["'\(key)':", "\"\(key)\":"]
        guard let range = patterns.lazy.compactMap({ header.range(of: $0) }).first else { return nil }
        var depth = 0
        var result = ""
        for character in header[range.upperBound...] {
            if character == "(" { depth += 1 }
            if character == ")" { depth -= 1 }
            if depth == 0 && (character == "," || character == "}") { break }
            result.append(character)
            if depth < 0 { return nil }
        }
        return result.trimmingCharacters()
    }

    /// Reads up to `count` further rows as Doubles into `target` (row-major); returns the number
    /// of rows read (0 at the end).
    func readRows(into target: UnsafeMutablePointer<Double>, count: Int) throws -> Int {
        let n = min(count, rows - rowsRead)
        guard n > 0 else { return 0 }
        let byteCount = n * columns * itemSize
        if byteCount > rawCapacity {
            raw.deallocate()
            raw = .allocate(byteCount: byteCount, alignment: 16)
            rawCapacity = byteCount
        }
        var done = 0
        let offset = dataOffset + rowsRead * columns * itemSize
        while done < byteCount {
            let got = pread(descriptor, raw + done, byteCount - done, off_t(offset + done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                throw AttentionError.unreadable(file: displayName, reason: got < 0 ? String(cString: strerror(errno)) : "unexpected end of file")
            }
            done += got
        }
        let values = n * columns
        if itemSize == 8 {
            let source = raw.assumingMemoryBound(to: UInt64.self)
            for k in 0..<values {
                let bits = littleEndian ? UInt64(littleEndian: source[k]) : UInt64(bigEndian: source[k])
                target[k] = Double(bitPattern: bits)
            }
        } else {
            let source = raw.assumingMemoryBound(to: UInt32.self)
            for k in 0..<values {
                let bits = littleEndian ? UInt32(littleEndian: source[k]) : UInt32(bigEndian: source[k])
                target[k] = Double(Float(bitPattern: bits))
            }
        }
        rowsRead += n
        return n
    }

    /// The whole array (for small files such as an encoder).
    func readAll() throws -> [Double] {
        var values = [Double](repeating: 0, count: rows * columns)
        guard !values.isEmpty else { return values }
        let n = try values.withUnsafeMutableBufferPointer { try readRows(into: $0.baseAddress!, count: rows) }
        precondition(n == rows)
        return values
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return String(slice)
    }
}
