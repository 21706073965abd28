#include "core/checkpoint/zip.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::ckpt {
namespace {

constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr uint32_t kZip64LocSig = 0x07064b50, kZip64EocdSig = 0x06064b50;
constexpr size_t kAlign = 64;  // PyTorch aligns every record's data to 64 bytes

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
  return v;
}

[[noreturn]] void bad(const std::string& msg) { throw Error(ErrorCode::Parse, "zip container: " + msg); }

std::string printable(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 32 && c < 127) out += ch;
    else out += fmt::format("\\x{:02x}", c);
  }
  return out;
}

// Slice-by-8 tables: the storages of a 30 MB checkpoint are checksummed on every load.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;
const CrcTables& crc_tables() {
  static const CrcTables t = [] {
    CrcTables r{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      r[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) r[s][i] = (r[s - 1][i] >> 8) ^ r[0][r[s - 1][i] & 0xff];
    return r;
  }();
  return t;
}

void put(std::vector<uint8_t>& o, uint64_t v, int n) {
  for (int k = 0; k < n; ++k) o.push_back(static_cast<uint8_t>(v >> (8 * k)));
}

}  // namespace

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
  const auto& t = crc_tables();
  crc = ~crc;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    const uint32_t lo = crc ^ (data[i] | data[i + 1] << 8 | data[i + 2] << 16 | uint32_t{data[i + 3]} << 24);
    crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][data[i + 4]] ^
          t[2][data[i + 5]] ^ t[1][data[i + 6]] ^ t[0][data[i + 7]];
  }
  for (; i < size; ++i) crc = t[0][(crc ^ data[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

ZipReader::ZipReader(const uint8_t* data, size_t size) : m_data(data), m_size(size) {
  // End of central directory: the last signature within the final 22 + 65535 bytes.
  if (size < 22) bad(fmt::format("file of {} bytes is too short for an end-of-central-directory record", size));
  size_t eocd = size;
  const size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  for (size_t p = size - 22 + 1; p-- > lowest;) {
    if (le(data + p, 4) == kEocdSig && p + 22 + le(data + p + 20, 2) <= size) {
      eocd = p;
      break;
    }
  }
  if (eocd == size) bad("no end-of-central-directory record (truncated file?)");
  uint64_t n_entries = le(data + eocd + 10, 2);
  uint64_t cd_size = le(data + eocd + 12, 4);
  uint64_t cd_off = le(data + eocd + 16, 4);
  if (le(data + eocd + 4, 2) != 0 || le(data + eocd + 6, 2) != 0) throw Error(ErrorCode::Unsupported, "zip container: multi-disk archives are not supported");
  const bool zip64 = n_entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu ||
                     (eocd >= 20 && le(data + eocd - 20, 4) == kZip64LocSig);
  if (zip64) {
    if (eocd < 20 || le(data + eocd - 20, 4) != kZip64LocSig) bad("zip64 fields without a zip64 locator");
    const uint64_t rec = le(data + eocd - 20 + 8, 8);
    if (rec > eocd - 20 || eocd - 20 - rec < 56 || le(data + rec, 4) != kZip64EocdSig)
      bad(fmt::format("zip64 end-of-central-directory record at {} is invalid", rec));
    n_entries = le(data + rec + 32, 8);
    cd_size = le(data + rec + 40, 8);
    cd_off = le(data + rec + 48, 8);
  }
  if (cd_off > size || cd_size > size - cd_off)
    bad(fmt::format("central directory [{}, +{}) lies outside the {}-byte file", cd_off, cd_size, size));
  if (n_entries > cd_size / 46)
    bad(fmt::format("{} entries cannot fit a {}-byte central directory", n_entries, cd_size));
  m_entries.reserve(static_cast<size_t>(n_entries));
  size_t p = static_cast<size_t>(cd_off);
  const size_t cd_end = static_cast<size_t>(cd_off + cd_size);
  for (uint64_t i = 0; i < n_entries; ++i) {
    if (cd_end - p < 46 || le(data + p, 4) != kCentralSig)
      bad(fmt::format("central directory entry {} at offset {} is invalid", i, p));
    const uint64_t flags = le(data + p + 8, 2);
    ZipEntry e;
    e.method = static_cast<uint16_t>(le(data + p + 10, 2));
    e.crc = static_cast<uint32_t>(le(data + p + 16, 4));
    uint64_t csize = le(data + p + 20, 4), usize = le(data + p + 24, 4);
    const size_t nlen = le(data + p + 28, 2), xlen = le(data + p + 30, 2), clen = le(data + p + 32, 2);
    uint64_t local = le(data + p + 42, 4);
    if (cd_end - p - 46 < nlen + xlen + clen) bad(fmt::format("central directory entry {} overruns the directory", i));
    e.name.assign(reinterpret_cast<const char*>(data + p + 46), nlen);
    // zip64 extended information: 8-byte values for the fields saturated at 0xffffffff, in order.
    for (size_t x = p + 46 + nlen, xe = x + xlen; x + 4 <= xe;) {
      const uint64_t id = le(data + x, 2), len = le(data + x + 2, 2);
      if (len > xe - x - 4) bad(fmt::format("entry '{}': extra field overruns its header", printable(e.name)));
      if (id == 1) {
        size_t q = x + 4;
        const size_t qe = q + len;
        for (uint64_t* f : {&usize, &csize, &local}) {
          if (*f != 0xffffffffu) continue;
          if (qe - q < 8) bad(fmt::format("entry '{}': zip64 extra field too short", printable(e.name)));
          *f = le(data + q, 8);
          q += 8;
        }
      }
      x += 4 + len;
    }
    if (flags & 1) throw Error(ErrorCode::Unsupported, fmt::format("zip container: entry '{}' is encrypted", printable(e.name)));
    if (e.method == 0 && csize != usize)
      bad(fmt::format("stored entry '{}' has compressed size {} != size {}", printable(e.name), csize, usize));
    if (local > size || size - local < 30 || le(data + local, 4) != kLocalSig)
      bad(fmt::format("entry '{}': local header at offset {} is invalid", printable(e.name), local));
    const uint64_t lnlen = le(data + local + 26, 2), lxlen = le(data + local + 28, 2);
    e.data_offset = local + 30 + lnlen + lxlen;
    e.size = csize;
    if (e.data_offset > size || csize > size - e.data_offset)
      bad(fmt::format("entry '{}': data [{}, +{}) lies outside the {}-byte file", printable(e.name), e.data_offset,
                      csize, size));
    if (!m_index.emplace(e.name, m_entries.size()).second)
      bad(fmt::format("duplicate entry '{}'", printable(e.name)));
    m_entries.push_back(std::move(e));
    p += 46 + nlen + xlen + clen;
  }
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = m_index.find(name);
  return it == m_index.end() ? nullptr : &m_entries[it->second];
}

const uint8_t* ZipReader::read(const ZipEntry& e) const {
  if (e.method != 0)
    throw Error(ErrorCode::Unsupported,
                fmt::format("zip container: entry '{}' is compressed (method {}{}); torch.save writes stored entries, "
                            "re-save the checkpoint without recompressing the archive",
                            printable(e.name), e.method, e.method == 8 ? ", deflate" : ""));
  const uint8_t* p = m_data + e.data_offset;
  const uint32_t c = crc32(p, static_cast<size_t>(e.size));
  if (c != e.crc)
    bad(fmt::format("entry '{}' is corrupt: CRC-32 {:08x}, expected {:08x}", printable(e.name), c, e.crc));
  return p;
}

void ZipWriter::add(const std::string& name, const uint8_t* data, size_t size) {
  if (name.size() > 0xffff) throw Error(ErrorCode::InvalidArgument, "zip entry name too long");
  const size_t header = m_out.size();
  // Pad through an extra field ("FB", as PyTorch) so the data starts on a 64-byte boundary.
  const size_t start = header + 30 + name.size() + 4;
  const size_t pad = (kAlign - start % kAlign) % kAlign;
  const uint64_t end = static_cast<uint64_t>(start) + pad + size;
  if (end >= 0xffffffffu)
    throw Error(ErrorCode::Unsupported, "save_checkpoint: archives of 4 GiB or more (zip64) are not written");
  const uint32_t crc = crc32(data, size);
  put(m_out, kLocalSig, 4);
  put(m_out, 20, 2);  // version needed
  put(m_out, 0, 2);   // flags
  put(m_out, 0, 2);   // stored
  put(m_out, 0, 2);   // time
  put(m_out, 0x21, 2);  // date: 1980-01-01
  put(m_out, crc, 4);
  put(m_out, size, 4);
  put(m_out, size, 4);
  put(m_out, name.size(), 2);
  put(m_out, 4 + pad, 2);
  m_out.insert(m_out.end(), name.begin(), name.end());
  put(m_out, 0x4246, 2);  // "FB"
  put(m_out, pad, 2);
  m_out.insert(m_out.end(), pad, 'Z');
  m_out.insert(m_out.end(), data, data + size);
  m_central.push_back({name, crc, static_cast<uint32_t>(size), static_cast<uint32_t>(header)});
}

std::vector<uint8_t> ZipWriter::finish() {
  const size_t cd_off = m_out.size();
  for (const auto& c : m_central) {
    put(m_out, kCentralSig, 4);
    put(m_out, 20, 2);  // made by
    put(m_out, 20, 2);  // needed
    put(m_out, 0, 2);
    put(m_out, 0, 2);
    put(m_out, 0, 2);
    put(m_out, 0x21, 2);
    put(m_out, c.crc, 4);
    put(m_out, c.size, 4);
    put(m_out, c.size, 4);
    put(m_out, c.name.size(), 2);
    put(m_out, 0, 2);  // extra
    put(m_out, 0, 2);  // comment
    put(m_out, 0, 2);  // disk
    put(m_out, 0, 2);  // internal attributes
    put(m_out, 0, 4);  // external attributes
    put(m_out, c.offset, 4);
    m_out.insert(m_out.end(), c.name.begin(), c.name.end());
  }
  const size_t cd_size = m_out.size() - cd_off;
  if (m_central.size() >= 0xffff || m_out.size() >= 0xffffffffu)
    throw Error(ErrorCode::Unsupported, "save_checkpoint: archive needs zip64 (too many entries or bytes)");
  put(m_out, kEocdSig, 4);
  put(m_out, 0, 2);
  put(m_out, 0, 2);
  put(m_out, m_central.size(), 2);
  put(m_out, m_central.size(), 2);
  put(m_out, cd_size, 4);
  put(m_out, cd_off, 4);
  put(m_out, 0, 2);
  return std::move(m_out);
}

}  // namespace dynn::ckpt
