/// A point in time with microsecond precision: microseconds since 1970-01-01T00:00:00Z.
///
/// Parsed from RFC 3339 (`2025-12-01T20:00:00Z`, `2025-12-01T21:30:00.25+01:30`); written back
/// in UTC with as many fractional digits as needed (`2025-12-01T20:00:00.25Z`), so the written
/// form is canonical: one instant, one spelling. The original offset is not kept.
public struct Instant: Sendable, Hashable, Comparable, Codable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public static func < (a: Instant, b: Instant) -> Bool { a.microseconds < b.microseconds }

    /// Parses an RFC 3339 date-time (`T` or `t` or a space between date and time, `Z`/`z` or
    /// `±hh:mm`). Digits beyond microseconds must be zero; a leap second (`:60`) is refused.
    /// - Throws: ``CatalogError/instant(text:reason:)`` (without file or field) when `text` is not
    ///   such an instant.
    public init(rfc3339 text: String) throws(CatalogError) {
        let bytes = Array(text.utf8)
        var index = 0
        let invalid = CatalogError.instant(text: text, reason: nil)
        func digits(_ count: Int) throws(CatalogError) -> Int {
            guard index + count <= bytes.count else { throw invalid }
            var value = 0
            for byte in bytes[index..<(index + count)] {
                guard byte >= 48, byte <= 57 else { throw invalid }
                value = value * 10 + Int(byte - 48)
            }
            index += count
            return value
        }
        func expect(_ allowed: [UInt8]) throws(CatalogError) {
            guard index < bytes.count, allowed.contains(bytes[index]) else { throw invalid }
            index += 1
        }
        let year = try digits(4)
        try expect([45])
        let month = try digits(2)
        try expect([45])
        let day = try digits(2)
        try expect([84, 116, 32])
        let hour = try digits(2)
        try expect([58])
        let minute = try digits(2)
        try expect([58])
        let second = try digits(2)
        var fraction: Int64 = 0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var count = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                let digit = Int64(bytes[index] - 48)
                if count < 6 {
                    fraction = fraction * 10 + digit
                } else if digit != 0 {
                    throw CatalogError.instant(text: text, reason: "finer than a microsecond")
                }
                count += 1
                index += 1
            }
            guard count > 0 else { throw invalid }
            for _ in count..<max(count, 6) { fraction *= 10 }
        }
        var offsetMinutes = 0
        guard index < bytes.count else { throw CatalogError.instant(text: text, reason: "no time zone (Z or ±hh:mm)") }
        if bytes[index] == 90 || bytes[index] == 122 {
            index += 1
        } else {
            let sign = bytes[index] == 45 ? -1 : 1
            try expect([43, 45])
            let offsetHour = try digits(2)
            try expect([58])
            let offsetMinute = try digits(2)
            guard offsetHour < 24, offsetMinute < 60 else { throw invalid }
            offsetMinutes = sign * (offsetHour * 60 + offsetMinute)
        }
        guard index == bytes.count else { throw invalid }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
            hour < 24, minute < 60
        else { throw invalid }
        guard second < 60 else { throw CatalogError.instant(text: text, reason: second == 60 ? "leap seconds are not supported" : nil) }
        let days = Self.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetMinutes * 60)
        microseconds = seconds * 1_000_000 + fraction
    }

    /// The canonical RFC 3339 form, in UTC.
    public var rfc3339: String {
        let (seconds, fraction) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        let (wholeSeconds, micros) = fraction < 0 ? (seconds - 1, fraction + 1_000_000) : (seconds, fraction)
        let (days, secondOfDay) = wholeSeconds.quotientAndRemainder(dividingBy: 86_400)
        let (day, second) = secondOfDay < 0 ? (days - 1, secondOfDay + 86_400) : (days, secondOfDay)
        let (year, month, dayOfMonth) = Self.civil(fromDays: day)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(dayOfMonth, 2))T\(pad(second / 3600, 2)):\(pad(second / 60 % 60, 2)):\(pad(second % 60, 2))"
        if micros != 0 {
            var digits = pad(micros, 6)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text + "Z"
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The inverse of `daysSinceEpoch` (Hinnant's civil_from_days).
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(rfc3339: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rfc3339)
    }
}
