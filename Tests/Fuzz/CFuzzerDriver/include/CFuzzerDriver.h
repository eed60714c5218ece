// libFuzzer's driver entry point (compiler-rt), called from the harness's main.swift.
// SwiftPM links executables with their own `main`, so the harness starts libFuzzer itself.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
