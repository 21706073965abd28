// Internal: small, strict helpers for sysfs/procfs files. Every error names the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace dynn::sysfs {

namespace fs = std::filesystem;

// Whole file, trailing whitespace/NULs trimmed. Throws NotFound / PermissionDenied / Io.
std::string read(const fs::path& p);
// One integer (decimal). Throws Parse naming the file and the content when it is not one.
int64_t read_int(const fs::path& p);
// Whitespace-separated integers (e.g. scaling_available_frequencies); Parse on any bad token or empty.
std::vector<int64_t> read_ints(const fs::path& p);
// Whitespace-separated words.
std::vector<std::string> read_words(const fs::path& p);
// CPU list "0-3,6" -> {0,1,2,3,6}; Parse on bad syntax.
std::vector<int> parse_cpu_list(const std::string& text, const std::string& what);
// Write text (open O_WRONLY|O_TRUNC, no create). Throws NotFound / PermissionDenied / Io.
void write(const fs::path& p, const std::string& text);
// "" when the file can be read/written by this process, else a reason ("missing: p", "permission denied: p").
std::string read_problem(const fs::path& p);
std::string write_problem(const fs::path& p);
bool exists(const fs::path& p);
// Directory entries whose name starts with prefix, sorted by the number after the prefix (then name).
std::vector<fs::path> list(const fs::path& dir, const std::string& prefix);
int64_t parse_int(const std::string& s, const std::string& what);
double parse_double(const std::string& s, const std::string& what);

}  // namespace dynn::sysfs
