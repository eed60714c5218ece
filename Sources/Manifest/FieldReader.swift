import Attention
import TOMLKit

/// Typed access to one TOML table that remembers which keys were read, so leftovers can be
/// reported as unknown.
struct FieldReader {
    let table: TOMLTable
    let path: String
    let file: String
    var used: Set<String> = []

    init(table: TOMLTable, path: String, file: String) {
        self.table = table
        self.path = path
        self.file = file
    }

    func fail(_ key: String, _ problem: String) -> ManifestError {
        .field(file: file, field: path.isEmpty ? key : "\(path).\(key)", problem: problem)
    }

    private func describe(_ value: TOMLValueConvertible) -> String {
        switch value.type {
        case .string: return "the string \"\(value.string ?? "")\""
        case .int: return "the integer \(value.int ?? 0)"
        case .double: return "the number \(value.double ?? 0)"
        case .bool: return "the boolean \(value.bool ?? false)"
        case .array: return "an array"
        case .table: return "a table"
        default: return "a \(value.type)"
        }
    }

    private mutating func value(_ key: String, required: Bool, expected: String) throws -> TOMLValueConvertible? {
        used.insert(key)
        guard let value = table[key] else {
            if required { throw fail(key, "missing; expected \(expected)") }
            return nil
        }
        return value
    }

    mutating func table(_ key: String) throws -> FieldReader {
        guard let value = try self.value(key, required: true, expected: "a [\(key)] table"), let inner = value.table else {
            throw fail(key, "expected a [\(key)] table")
        }
        return FieldReader(table: inner, path: key, file: file)
    }

    mutating func optionalTable(_ key: String) throws -> FieldReader? {
        guard let value = try self.value(key, required: false, expected: "a table") else { return nil }
        guard let inner = value.table else { throw fail(key, "expected a [\(key)] table, found \(describe(value))") }
        return FieldReader(table: inner, path: key, file: file)
    }

    mutating func optionalString(_ key: String) throws -> String? {
        guard let value = try self.value(key, required: false, expected: "a string") else { return nil }
        guard let string = value.string else { throw fail(key, "expected a string, found \(describe(value))") }
        return string
    }

    mutating func string(_ key: String) throws -> String {
        guard let string = try optionalString(key) else { throw fail(key, "missing; expected a string") }
        return string
    }

    mutating func optionalInt(_ key: String) throws -> Int? {
        guard let value = try self.value(key, required: false, expected: "an integer") else { return nil }
        guard let int = value.int else { throw fail(key, "expected an integer, found \(describe(value))") }
        return int
    }

    mutating func int(_ key: String) throws -> Int {
        guard let int = try optionalInt(key) else { throw fail(key, "missing; expected an integer") }
        return int
    }

    mutating func optionalNumber(_ key: String) throws -> Double? {
        guard let value = try self.value(key, required: false, expected: "a number") else { return nil }
        if let double = value.double { return double }
        if let int = value.int { return Double(int) }
        throw fail(key, "expected a number, found \(describe(value))")
    }

    mutating func number(_ key: String) throws -> Double {
        guard let number = try optionalNumber(key) else { throw fail(key, "missing; expected a number") }
        return number
    }

    enum NumberOrNumbers {
        case one(Double)
        case many([Double])
    }

    mutating func optionalNumberOrNumbers(_ key: String) throws -> NumberOrNumbers? {
        guard let value = try self.value(key, required: false, expected: "a number or an array of numbers") else { return nil }
        func finite(_ number: Double, _ index: Int?) throws -> Double {
            guard number.isFinite else { throw fail(key, "expected finite numbers, found \(number)\(index.map { " at position \($0 + 1)" } ?? "")") }
            return number
        }
        if let double = value.double { return .one(try finite(double, nil)) }
        if let int = value.int { return .one(Double(int)) }
        if let array = value.array {
            var numbers: [Double] = []
            for (index, element) in array.enumerated() {
                if let double = element.double {
                    numbers.append(try finite(double, index))
                } else if let int = element.int {
                    numbers.append(Double(int))
                } else {
                    throw fail(key, "expected numbers, found \(describe(element)) at position \(index + 1)")
                }
            }
            return .many(numbers)
        }
        throw fail(key, "expected a number or an array of numbers, found \(describe(value))")
    }

    mutating func optionalStringArray(_ key: String) throws -> [String]? {
        guard let value = try self.value(key, required: false, expected: "an array of strings") else { return nil }
        guard let array = value.array else { throw fail(key, "expected an array of strings, found \(describe(value))") }
        return try array.enumerated().map { index, element in
            guard let string = element.string else { throw fail(key, "expected strings, found \(describe(element)) at position \(index + 1)") }
            return string
        }
    }

    mutating func stringArray(_ key: String) throws -> [String] {
        guard let array = try optionalStringArray(key) else { throw fail(key, "missing; expected an array of strings") }
        return array
    }

    mutating func intArray(_ key: String) throws -> [Int] {
        guard let value = try self.value(key, required: true, expected: "an array of integers") else { throw fail(key, "missing") }
        guard let array = value.array else { throw fail(key, "expected an array of integers, found \(describe(value))") }
        return try array.enumerated().map { index, element in
            guard let int = element.int else { throw fail(key, "expected integers, found \(describe(element)) at position \(index + 1)") }
            return int
        }
    }

    func rejectUnknown() throws {
        for key in table.keys.sorted() where !used.contains(key) {
            let known = used.sorted().joined(separator: ", ")
            throw ManifestError.field(
                file: file, field: path.isEmpty ? key : "\(path).\(key)",
                problem: "unknown key (known here: \(known))")
        }
    }
}
