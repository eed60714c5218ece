import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File system steps of provisioning and kit loading, with errors that name the path.
enum KitFiles {
    /// Creates `url` (which must not exist) with exactly `permissions`, writes `data` and syncs
    /// it to disk. The mode is set at creation, so a secret is never briefly readable by others.
    static func create(_ data: Data, at url: URL, permissions: mode_t) throws {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw FederationError.io(path: url.path, problem: "cannot create: \(errnoText())") }
        defer { close(fd) }
        guard fchmod(fd, permissions) == 0 else { throw FederationError.io(path: url.path, problem: "cannot set permissions: \(errnoText())") }
        try data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FederationError.io(path: url.path, problem: "cannot write: \(errnoText())")
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw FederationError.io(path: url.path, problem: "cannot sync to disk: \(errnoText())") }
    }

    /// Creates a folder with `permissions` (its parent must exist).
    static func makeFolder(_ url: URL, permissions: mode_t = 0o700) throws {
        guard mkdir(url.path, permissions) == 0 else {
            throw FederationError.io(path: url.path, problem: "cannot create the folder: \(errnoText())")
        }
        _ = chmod(url.path, permissions)
    }

    /// Creates a folder and any missing parents (for the output folder the user names).
    static func makeFolderTree(_ url: URL) throws {
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw FederationError.io(path: url.path, problem: "cannot create the folder (is its parent writable?)")
        }
    }

    /// Atomically renames `source` to `destination` (same file system).
    static func move(_ source: URL, to destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            throw FederationError.io(path: destination.path, problem: "cannot move into place: \(errnoText())")
        }
    }

    /// Syncs a folder's entries (so renames inside it survive a crash).
    static func syncFolder(_ url: URL) {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    static func exists(_ url: URL) -> Bool {
        var status = stat()
        return lstat(url.path, &status) == 0
    }

    /// Reads a whole (small) file.
    static func read(_ url: URL, limit: Int = 16 << 20) throws -> Data {
        var status = stat()
        guard stat(url.path, &status) == 0 else {
            throw FederationError.io(path: url.path, problem: "missing or unreadable: \(errnoText())")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw FederationError.io(path: url.path, problem: "not a regular file") }
        guard Int(status.st_size) <= limit else {
            throw FederationError.malformedFile(path: url.path, problem: "too large (\(status.st_size) bytes; at most \(limit))")
        }
        do { return try Data(contentsOf: url) } catch {
            throw FederationError.io(path: url.path, problem: "cannot read (permissions?)")
        }
    }

    /// Refuses a secret file that its group or others can access.
    static func checkPrivate(_ url: URL) throws {
        var status = stat()
        guard stat(url.path, &status) == 0 else {
            throw FederationError.io(path: url.path, problem: "missing or unreadable: \(errnoText())")
        }
        let mode = Int(status.st_mode & 0o777)
        guard mode & 0o077 == 0 else { throw FederationError.insecurePermissions(path: url.path, mode: mode) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// Whether a path lies below a folder, decided on bytes, as the file system sees paths.
///
/// `String.hasPrefix` and `split` compare extended grapheme clusters under canonical
/// equivalence: a combining mark right after a `/` fuses with it, so `"../\u{65E}x"` has no
/// `/` character and no `..` component, and `"/kit/"` is not a prefix of `"/kit/\u{65E}.pem"`.
/// The fuzz target `kit` found the first of these (see Papers/reliability.md).
public enum PathContainment {
    /// `path` relative to `folder` (both standardised absolute paths), or nil when it is not
    /// strictly below it.
    public static func relative(_ path: String, under folder: String) -> String? {
        let prefix = Array(folder.utf8) + (folder.utf8.last == UInt8(ascii: "/") ? [] : [UInt8(ascii: "/")])
        guard path.utf8.count > prefix.count, path.utf8.starts(with: prefix) else { return nil }
        return String(decoding: path.utf8.dropFirst(prefix.count), as: UTF8.self)
    }
}
