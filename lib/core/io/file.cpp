#include "core/io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
  Buffer buf(size, 0);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(f.fd, &buf[got], size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(ErrorCode::Io, fmt::format("{} '{}': read error: {}", what, path, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got != size) throw Error(ErrorCode::Io, fmt::format("{} '{}': shrank while being read ({} of {} bytes)", what, path, got, size));
  char extra = 0;
  ssize_t n;
  do n = ::read(f.fd, &extra, 1); while (n < 0 && errno == EINTR);
  if (n > 0) throw Error(ErrorCode::Io, fmt::format("{} '{}': grew while being read", what, path));
  return buf;
}

}  // namespace

std::vector<uint8_t> read_file(const std::string& path, size_t max_bytes, const char* what) {
  return read_into<std::vector<uint8_t>>(path, max_bytes, what);
}

std::string read_text_file(const std::string& path, size_t max_bytes, const char* what) {
  return read_into<std::string>(path, max_bytes, what);
}

}  // namespace dynn::io
