// Whole-file reads (and the atomic whole-file write) for every file dynn loads (checkpoints, JSON formats, images, ground truth):
// only regular files (a FIFO, device or folder is refused by name, and opening never blocks), at
// most max_bytes (so /dev/zero or a huge file cannot exhaust memory), errors naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dynn::io {

// Caps by kind of file.
constexpr size_t kMaxTextBytes = size_t(64) << 20;         // JSON files, ground truth
constexpr size_t kMaxImageBytes = size_t(256) << 20;       // one encoded image
constexpr size_t kMaxCheckpointBytes = size_t(16) << 30;   // torch.save files

// Error(NotFound) missing, Error(PermissionDenied), Error(InvalidArgument) not a regular file or
// larger than max_bytes, Error(Io) read failures; every message starts "<what> '<path>': ".
std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes, const char* what);
std::string read_text_file(const std::string& path, size_t max_bytes, const char* what);

// The one writer of whole files (profiles, levels, LUTs, checkpoints, telemetry, restore records):
// written beside the target as "<path>.tmp", closed, then renamed over it, so a failed write never
// leaves a half-written file (the temporary is removed). Error(InvalidArgument) for an empty name or
// a folder, Error(Io) otherwise; messages start "<what>: ".
void write_file(const std::string& path, const void* data, size_t size, const char* what);
inline void write_file(const std::string& path, const std::string& text, const char* what) {
  write_file(path, text.data(), text.size(), what);
}

}  // namespace dynn::io
