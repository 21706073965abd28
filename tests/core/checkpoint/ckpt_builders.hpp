// Hand-assembled pickles and containers for the checkpoint tests (legacy files, hostile pickles).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/checkpoint/zip.hpp"

namespace dynn::test {

// Emits pickle opcodes by hand, so tests can write exactly the (possibly hostile) bytes they want.
struct Pk {
  std::vector<uint8_t> b;
  Pk& op(uint8_t c) { b.push_back(c); return *this; }
  Pk& raw(const std::string& s) { b.insert(b.end(), s.begin(), s.end()); return *this; }
  Pk& le(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) b.push_back(static_cast<uint8_t>(v >> (8 * k)));
    return *this;
  }
  Pk& proto() { return op(0x80).op(2); }
  Pk& str(const std::string& s) { return op('X').le(s.size(), 4).raw(s); }
  Pk& i32(int32_t v) { return op('J').le(static_cast<uint32_t>(v), 4); }
  Pk& global(const std::string& m, const std::string& n) { return op('c').raw(m + "\n" + n + "\n"); }
  Pk& mark() { return op('('); }
  Pk& tuple() { return op('t'); }
  Pk& ints(const std::vector<int64_t>& v) {
    mark();
    for (int64_t x : v) op(0x8a).op(8).le(static_cast<uint64_t>(x), 8);
    return tuple();
  }
  // ('storage', torch.<cls>, key, location, numel[, None]) BINPERSID
  Pk& storage(const std::string& cls, const std::string& key, int64_t numel, bool legacy = false,
              const std::string& loc = "cpu") {
    mark().str("storage").global("torch", cls).str(key).str(loc).op(0x8a).op(8).le(static_cast<uint64_t>(numel), 8);
    if (legacy) op('N');
    return tuple().op('Q');
  }
  // _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
  Pk& tensor(const std::string& cls, const std::string& key, int64_t numel, int64_t offset,
             const std::vector<int64_t>& size, const std::vector<int64_t>& stride, bool legacy = false,
             const std::string& loc = "cpu") {
    global("torch._utils", "_rebuild_tensor_v2").mark();
    storage(cls, key, numel, legacy, loc).op(0x8a).op(8).le(static_cast<uint64_t>(offset), 8);
    ints(size).ints(stride).op(0x89).global("collections", "OrderedDict").op(')').op('R');
    return tuple().op('R');
  }
  Pk& stop() { return op('.'); }
};

inline std::vector<uint8_t> zip_with(const std::vector<uint8_t>& pkl,
                                     const std::vector<std::pair<std::string, std::vector<uint8_t>>>& storages = {}) {
  ckpt::ZipWriter z;
  z.add("archive/data.pkl", pkl.data(), pkl.size());
  for (const auto& [k, v] : storages) z.add("archive/data/" + k, v.data(), v.size());
  const std::string ver = "3\n";
  z.add("archive/version", reinterpret_cast<const uint8_t*>(ver.data()), ver.size());
  return z.finish();
}

// A legacy (pre-1.6) container: magic, 1001, sys info, `object`, keys list, then the storages.
struct LegacyStorage {
  std::string key;
  std::vector<uint8_t> bytes;
  size_t elem_size = 4;
};

inline std::vector<uint8_t> legacy_with(const std::vector<uint8_t>& object, const std::vector<LegacyStorage>& storages) {
  Pk p;
  p.proto().op(0x8a).op(10);
  for (uint8_t c : {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}) p.op(c);
  p.stop();
  p.proto().op('M').le(1001, 2).stop();
  p.proto().op('}').mark().str("protocol_version").op('M').le(1001, 2).str("little_endian").op(0x88);
  p.str("type_sizes").op('}').mark().str("short").op('K').op(2).str("int").op('K').op(4).str("long").op('K').op(4);
  p.op('u').op('u').stop();
  p.b.insert(p.b.end(), object.begin(), object.end());
  p.proto().op(']').mark();
  for (const auto& s : storages) p.str(s.key);
  p.op('e').stop();
  for (const auto& s : storages) {
    p.le(s.bytes.size() / s.elem_size, 8);
    p.b.insert(p.b.end(), s.bytes.begin(), s.bytes.end());
  }
  return p.b;
}

inline std::vector<uint8_t> floats_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

}  // namespace dynn::test
