#include "core/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::io {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a folder";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

template <class Buffer>
Buffer read_into(const std::string& path, size_t max_bytes, const char* what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    const int e = errno;
    const ErrorCode code = e == ENOENT || e == ENOTDIR ? ErrorCode::NotFound
                           : e == EACCES || e == EPERM ? ErrorCode::PermissionDenied
                                                       : ErrorCode::Io;
    throw Error(code, fmt::format("{} '{}': cannot open: {}", what, path, std::strerror(e)));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw Error(ErrorCode::Io, fmt::format("{} '{}': cannot stat: {}", what, path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) throw Error(ErrorCode::InvalidArgument, fmt::format("{} '{}': is {}, not a regular file", what, path, kind_of(st.st_mode)));
  const size_t size = static_cast<size_t>(st.st_size);
  if (size > max_bytes)
    throw Error(ErrorCode::InvalidArgument, fmt::format("{} '{}': {} bytes, more than the {} bytes accepted", what, path, size, max_bytes));
  // Back to blocking reads for a regular file.
  ::fcntl(f.fd, F_SETFL, ::fcntl(f.fd, F_GETFL) & ~O_NONBLOCK);
  auto read_some = [&](char* at, size_t n) -> size_t {
    for (;;) {
      const ssize_t r = ::read(f.fd, at, n);
      if (r >= 0) return static_cast<size_t>(r);
      if (errno != EINTR) throw Error(ErrorCode::Io, fmt::format("{} '{}': read error: {}", what, path, std::strerror(errno)));
    }
  };
  if (size == 0) {
    // Size 0 is also what /proc and /sys files report: read to the end, still capped.
    Buffer buf;
    char chunk[65536];
    for (size_t n; (n = read_some(chunk, sizeof chunk)) > 0;) {
      if (buf.size() + n > max_bytes)
        throw Error(ErrorCode::InvalidArgument, fmt::format("{} '{}': more than the {} bytes accepted", what, path, max_bytes));
      buf.insert(buf.end(), chunk, chunk + n);
    }
    return buf;
  }
  Buffer buf(size, 0);
  size_t got = 0;
  for (size_t n; got < size && (n = read_some(reinterpret_cast<char*>(&buf[got]), size - got)) > 0;) got += n;
  if (got != size) throw Error(ErrorCode::Io, fmt::format("{} '{}': shrank while being read ({} of {} bytes)", what, path, got, size));
  char extra = 0;
  if (read_some(&extra, 1) > 0) throw Error(ErrorCode::Io, fmt::format("{} '{}': grew while being read", what, path));
  return buf;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes, const char* what) {
  return read_into<std::vector<uint8_t>>(path, max_bytes, what);
}

std::string read_text_file(const std::string& path, size_t max_bytes, const char* what) {
  return read_into<std::string>(path, max_bytes, what);
}

void write_file(const std::string& path, const void* data, size_t size, const char* what) {
  std::error_code ec;
  if (path.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("{}: empty file name", what));
  if (std::filesystem::is_directory(path, ec))
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: '{}' is a folder, not a file name", what, path));
  const std::string tmp = path + ".tmp";
  // Every failure removes the temporary file: a failed save leaves the folder as it was.
  auto fail = [&](const std::string& msg) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::Io, msg);
  };
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(ErrorCode::Io, fmt::format("{}: cannot write '{}'", what, tmp));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
    f.close();  // close, not only flush: a full disk may only show here
    if (!f) fail(fmt::format("{}: write to '{}' failed", what, tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail(fmt::format("{}: cannot rename '{}' to '{}': {}", what, tmp, path, ec.message()));
}

}  // namespace dynn::io
