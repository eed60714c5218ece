/// Splits CSV text into records (RFC 4180): fields separated by commas, records by `\n` or
/// `\r\n`; a field in double quotes may hold commas, line breaks and doubled quotes (`""`).
/// Each record carries the line it starts on, for error messages. Blank lines are skipped.
struct CSVRecords {
    struct Record {
        var line: Int
        var fields: [String]
    }

    /// Why the text is not CSV, and on which line.
    struct Malformed: Error {
        var line: Int
        var reason: String
    }

    static func parse(_ bytes: [UInt8]) throws(Malformed) -> [Record] {
        let quote: UInt8 = 34
        let comma: UInt8 = 44
        let newline: UInt8 = 10
        let carriageReturn: UInt8 = 13
        var records: [Record] = []
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        while index < bytes.count {
            let recordLine = line
            var fields: [String] = []
            var endOfRecord = false
            while !endOfRecord {
                var field: [UInt8] = []
                if index < bytes.count, bytes[index] == quote {
                    index += 1
                    while true {
                        guard index < bytes.count else {
                            throw Malformed(line: recordLine, reason: "a quoted field is never closed")
                        }
                        let byte = bytes[index]
                        index += 1
                        if byte == quote {
                            if index < bytes.count, bytes[index] == quote {
                                field.append(quote)
                                index += 1
                            } else {
                                break
                            }
                        } else {
                            if byte == newline { line += 1 }
                            field.append(byte)
                        }
                    }
                    if index < bytes.count, bytes[index] != comma, bytes[index] != newline,
                        !(bytes[index] == carriageReturn && index + 1 < bytes.count && bytes[index + 1] == newline)
                    {
                        throw Malformed(line: line, reason: "text after a closing quote (a quote inside a field is written \"\")")
                    }
                } else {
                    while index < bytes.count, bytes[index] != comma, bytes[index] != newline {
                        if bytes[index] == quote {
                            throw Malformed(line: line, reason: "a quote inside an unquoted field (quote the whole field and write \"\")")
                        }
                        field.append(bytes[index])
                        index += 1
                    }
                    if field.last == carriageReturn, index >= bytes.count || bytes[index] == newline { field.removeLast() }
                }
                fields.append(String(decoding: field, as: UTF8.self))
                if index >= bytes.count {
                    endOfRecord = true
                } else if bytes[index] == comma {
                    index += 1
                } else {
                    if bytes[index] == carriageReturn { index += 1 }
                    index += 1  // the newline
                    line += 1
                    endOfRecord = true
                }
            }
            if fields.count == 1, fields[0].isEmpty { continue }  // a blank line
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}
