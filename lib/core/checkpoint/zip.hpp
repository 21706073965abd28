// Minimal zip reader/writer for torch.save archives: stored (uncompressed) entries only, zip64
// sizes and offsets read (not written). Internal to dynn::core.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace dynn::ckpt {

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);

struct ZipEntry {
  std::string name;
  uint64_t data_offset = 0;  // file offset of the entry's bytes
  uint64_t size = 0;
  uint32_t crc = 0;
  uint16_t method = 0;
};

class ZipReader {
 public:
  // Parses the central directory; throws Error(Parse/Unsupported) naming what is wrong.
  ZipReader(const uint8_t* data, size_t size);

  const std::vector<ZipEntry>& entries() const { return m_entries; }
  const ZipEntry* find(const std::string& name) const;
  // The entry's bytes, after checking it is stored (not compressed) and its CRC-32.
  const uint8_t* read(const ZipEntry& e) const;

 private:
  const uint8_t* m_data;
  size_t m_size;
  std::vector<ZipEntry> m_entries;
  std::unordered_map<std::string, size_t> m_index;
};

// Writes stored entries with each entry's data aligned to 64 bytes, as PyTorch does.
class ZipWriter {
 public:
  void add(const std::string& name, const uint8_t* data, size_t size);
  std::vector<uint8_t> finish();

 private:
  struct Central {
    std::string name;
    uint32_t crc;
    uint32_t size;
    uint32_t offset;
  };
  std::vector<uint8_t> m_out;
  std::vector<Central> m_central;
};

}  // namespace dynn::ckpt
