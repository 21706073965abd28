#include "core/platform/sysfs.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::sysfs {

namespace {
[[noreturn]] void fail_errno(int err, const std::string& op, const fs::path& p) {
  ErrorCode code = ErrorCode::Io;
  if (err == ENOENT || err == ENOTDIR) code = ErrorCode::NotFound;
  else if (err == EACCES || err == EPERM) code = ErrorCode::PermissionDenied;
  throw Error(code, fmt::format("cannot {} {}: {}", op, p.string(), std::strerror(err)));
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t' || s.back() == '\0' || s.back() == '\r'))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n')) ++i;
  return s.substr(i);
}
}  // namespace

std::string read(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_errno(errno, "open", p);
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      fail_errno(err, "read", p);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) {
      ::close(fd);
      throw Error(ErrorCode::Parse, fmt::format("{} is larger than 1 MiB; not a sysfs attribute", p.string()));
    }
  }
  ::close(fd);
  return trim(out);
}

int64_t parse_int(const std::string& s, const std::string& what) {
  std::string t = trim(s);
  if (t.empty()) throw Error(ErrorCode::Parse, fmt::format("{} is empty, expected an integer", what));
  size_t pos = 0;
  long long v = 0;
  try {
    v = std::stoll(t, &pos, 10);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != t.size())
    throw Error(ErrorCode::Parse, fmt::format("{} holds '{}', expected an integer", what, t.substr(0, 64)));
  return v;
}

double parse_double(const std::string& s, const std::string& what) {
  std::string t = trim(s);
  size_t pos = 0;
  double v = 0;
  try {
    v = std::stod(t, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (t.empty() || pos == 0 || pos != t.size())
    throw Error(ErrorCode::Parse, fmt::format("{} holds '{}', expected a number", what, t.substr(0, 64)));
  return v;
}

int64_t read_int(const fs::path& p) { return parse_int(read(p), p.string()); }

std::vector<int64_t> read_ints(const fs::path& p) {
  std::istringstream in(read(p));
  std::vector<int64_t> out;
  std::string tok;
  while (in >> tok) out.push_back(parse_int(tok, p.string()));
  if (out.empty()) throw Error(ErrorCode::Parse, fmt::format("{} is empty, expected a list of integers", p.string()));
  return out;
}

std::vector<std::string> read_words(const fs::path& p) {
  std::istringstream in(read(p));
  std::vector<std::string> out;
  std::string tok;
  while (in >> tok) out.push_back(tok);
  return out;
}

std::vector<int> parse_cpu_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  std::string t = trim(text);
  if (t.empty()) return out;
  for (char& ch : t)  // related_cpus uses spaces, online uses commas and ranges
    if (ch == ' ' || ch == '\t' || ch == '\n') ch = ',';
  std::stringstream ss(t);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (part.empty()) continue;
    auto dash = part.find('-');
    int64_t a = 0, b = 0;
    if (dash == std::string::npos) {
      a = b = parse_int(part, what);
    } else {
      a = parse_int(part.substr(0, dash), what);
      b = parse_int(part.substr(dash + 1), what);
    }
    if (a < 0 || b < a || b > 4095) throw Error(ErrorCode::Parse, fmt::format("{}: bad CPU range '{}'", what, part));
    for (int64_t c = a; c <= b; ++c) out.push_back(static_cast<int>(c));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void write(const fs::path& p, const std::string& text) {
  int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail_errno(errno, "open for writing", p);
  const char* d = text.data();
  size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, d, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      fail_errno(err, "write '" + text + "' to", p);
    }
    d += n;
    left -= static_cast<size_t>(n);
  }
  if (::close(fd) != 0) fail_errno(errno, "close", p);
}

bool exists(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}

std::string read_problem(const fs::path& p) {
  if (!sysfs::exists(p)) return "missing: " + p.string();
  std::error_code ec;
  if (fs::is_directory(p, ec)) return "not a file: " + p.string();
  if (::access(p.c_str(), R_OK) != 0) return "permission denied: " + p.string() + " (needs root)";
  return {};
}

std::string write_problem(const fs::path& p) {
  if (!sysfs::exists(p)) return "missing: " + p.string();
  std::error_code ec;
  if (fs::is_directory(p, ec)) return "not a file: " + p.string();
  if (::access(p.c_str(), W_OK) != 0) return "permission denied: " + p.string() + " (writes need root)";
  return {};
}

std::vector<fs::path> list(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<std::pair<long long, std::string>, fs::path>> found;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return {};
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    std::string n = it->path().filename().string();
    if (n.compare(0, prefix.size(), prefix) != 0) continue;
    long long num = -1;
    std::string rest = n.substr(prefix.size());
    if (!rest.empty() && std::all_of(rest.begin(), rest.end(), ::isdigit) && rest.size() < 12) num = std::stoll(rest);
    found.push_back({{num, n}, it->path()});
  }
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

}  // namespace dynn::sysfs
