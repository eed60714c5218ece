#!/usr/bin/env python3
"""Checks that Package.swift declares exactly what each Swift target imports.

For every target with Swift sources, the modules its files import (`import X`, `@testable import X`,
`import struct X.Y`) are compared with the target's declared dependencies (targets, products and
by-name dependencies, all named after the module they provide). A module imported but not
declared builds only by accident (through another target's dependency); one declared but never
imported is a dependency nobody needs. Either is printed, one line each, and the exit status is 1.

    scripts/check-package-deps.py [PACKAGE_DIR]

Reads the manifest with `swift package dump-package` (no build needed).
"""
import json
import pathlib
import re
import subprocess
import sys

# Modules that come with the toolchain or the system, never declared in Package.swift.
PLATFORM = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Musl", "Darwin",
    "Testing", "XCTest", "Synchronization", "_Concurrency", "Swift", "os",
}
IMPORT = re.compile(
    r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*import\s+"
    r"(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE)


def dependency_names(target):
    names = set()
    for dependency in target.get("dependencies", []):
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                names.add(dependency[kind][0])
    return names


def target_folder(root, target):
    if target.get("path"):
        return root / target["path"]
    base = "Tests" if target["type"] == "test" else "Sources"
    return root / base / target["name"]


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    manifest = json.loads(subprocess.run(
        ["swift", "package", "--package-path", str(root), "dump-package"],
        check=True, capture_output=True, text=True).stdout)
    problems = []
    checked = 0
    for target in manifest["targets"]:
        if target["type"] in ("system", "binary", "plugin", "macro"):
            continue
        files = sorted(target_folder(root, target).rglob("*.swift"))
        if not files:
            continue
        checked += 1
        imported = set()
        for file in files:
            imported |= set(IMPORT.findall(file.read_text(encoding="utf-8"))) - PLATFORM
        imported.discard(target["name"])
        declared = dependency_names(target)
        for module in sorted(imported - declared):
            problems.append(f"Package.swift: target {target['name']} imports {module} but does not declare it")
        for module in sorted(declared - imported):
            problems.append(f"Package.swift: target {target['name']} declares {module} but no file of it imports it")
    for line in problems:
        print(line)
    if problems:
        return 1
    print(f"check-package-deps: {checked} targets declare exactly what they import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
