// torch.save reader/writer: container handling (zip, legacy), state-dict extraction, tensor
// validation and conversion. The pickle VM is in pickle.cpp, the zip code in zip.cpp.
#include "dynn/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/checkpoint/pickle.hpp"
#include "core/checkpoint/zip.hpp"
#include "core/io/file.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn {

const char* dtype_name(DType t) noexcept {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int64: return "int64";
    case DType::Int32: return "int32";
    case DType::Int16: return "int16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::Float64: case DType::Int64: return 8;
    case DType::Float32: case DType::Int32: return 4;
    case DType::Float16: case DType::BFloat16: case DType::Int16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: return 1;
  }
  return 1;
}

namespace {

using ckpt::Kind;
using ckpt::Unpickler;
using ckpt::Value;

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats expected");

bool host_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

// Checks that the elements addressed by (offset, shape, stride) lie inside a storage of
// `storage_numel` elements, without overflow, and that numel does not exceed the storage (so a
// stride-0 view cannot make to_float() allocate more than the file holds). Returns "" when fine.
std::string extent_error(const std::vector<int64_t>& shape, const std::vector<int64_t>& stride, int64_t offset,
                         int64_t storage_numel) {
  if (shape.size() != stride.size())
    return fmt::format("shape has {} dims but strides have {}", shape.size(), stride.size());
  if (offset < 0) return fmt::format("negative storage offset {}", offset);
  __int128 last = offset, numel = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] < 0) return fmt::format("negative size {} in dim {}", shape[d], d);
    if (stride[d] < 0) return fmt::format("negative stride {} in dim {}", stride[d], d);
  }
  for (size_t d = 0; d < shape.size(); ++d) {
    numel *= shape[d];
    if (numel == 0) return "";
    if (numel > storage_numel) break;
  }
  if (numel > storage_numel)
    return fmt::format("shape {} has more elements than its storage ({}), which is not supported",
                       fmt::join(shape, "x"), storage_numel);
  if (offset >= storage_numel)
    return fmt::format("storage offset {} is past the end of a storage of {} elements", offset, storage_numel);
  // Each term is below 2^127 and `last` stays below 2^63 until the check, so this cannot overflow.
  for (size_t d = 0; d < shape.size(); ++d) {
    last += static_cast<__int128>(shape[d] - 1) * stride[d];
    if (last >= storage_numel)
      return fmt::format("offset {} + extent of size/stride passes the end of a storage of {} elements", offset,
                         storage_numel);
  }
  return "";
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: value = mant * 2^-24
      const float f = std::ldexp(static_cast<float>(mant), -24);
      return sign ? -f : f;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class Out>
Out load_elem(const uint8_t* p, DType t) {
  switch (t) {
    case DType::Float32: { float v; std::memcpy(&v, p, 4); return static_cast<Out>(v); }
    case DType::Float64: { double v; std::memcpy(&v, p, 8); return static_cast<Out>(v); }
    case DType::Float16: { uint16_t v; std::memcpy(&v, p, 2); return static_cast<Out>(half_to_float(v)); }
    case DType::BFloat16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      const uint32_t bits = static_cast<uint32_t>(v) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return static_cast<Out>(f);
    }
    case DType::Int64: { int64_t v; std::memcpy(&v, p, 8); return static_cast<Out>(v); }
    case DType::Int32: { int32_t v; std::memcpy(&v, p, 4); return static_cast<Out>(v); }
    case DType::Int16: { int16_t v; std::memcpy(&v, p, 2); return static_cast<Out>(v); }
    case DType::Int8: return static_cast<Out>(static_cast<int8_t>(*p));
    case DType::UInt8: return static_cast<Out>(*p);
    case DType::Bool: return static_cast<Out>(*p != 0);
  }
  return Out{};
}

template <class Out>
std::vector<Out> convert(const TensorData& t) {
  const size_t es = dtype_size(t.dtype);
  const int64_t storage_numel = t.storage ? static_cast<int64_t>(t.storage->size() / es) : 0;
  const std::string err = extent_error(t.shape, t.strides, t.storage_offset, storage_numel);
  if (!err.empty()) throw Error(ErrorCode::InvalidArgument, "tensor " + t.shape_string() + ": " + err);
  const int64_t n = t.numel();
  std::vector<Out> out(static_cast<size_t>(n));
  if (n == 0) return out;
  const uint8_t* base = t.storage->data();
  const size_t nd = t.shape.size();
  if (t.is_contiguous()) {
    const uint8_t* p = base + static_cast<size_t>(t.storage_offset) * es;
    if constexpr (std::is_same_v<Out, float>) {
      if (t.dtype == DType::Float32) {
        std::memcpy(out.data(), p, static_cast<size_t>(n) * 4);
        return out;
      }
    }
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = load_elem<Out>(p + static_cast<size_t>(i) * es, t.dtype);
    return out;
  }
  std::vector<int64_t> idx(nd, 0);
  int64_t off = t.storage_offset;
  for (int64_t i = 0; i < n; ++i) {
    out[static_cast<size_t>(i)] = load_elem<Out>(base + static_cast<size_t>(off) * es, t.dtype);
    for (size_t d = nd; d-- > 0;) {  // odometer increment, last dim fastest
      if (++idx[d] < t.shape[d]) {
        off += t.strides[d];
        break;
      }
      off -= (t.shape[d] - 1) * t.strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

bool metadata_like(const std::string& key) {
  const std::string m = "_metadata";
  return key == m || (key.size() > m.size() && key.compare(key.size() - m.size(), m.size(), m) == 0 &&
                      (key[key.size() - m.size() - 1] == '.' || key[key.size() - m.size() - 1] == '/'));
}

struct Selected {
  std::vector<std::pair<std::string, uint32_t>> tensors;  // key -> value index of a Tensor
  bool wrapped = false;
};

std::string list_keys(const Unpickler& vm, const Value& dict) {
  const auto& it = vm.items(dict);
  std::string out;
  for (size_t k = 0; k + 1 < it.size() && k < 40; k += 2) {
    if (!out.empty()) out += ", ";
    const Value& key = vm.at(it[k]);
    out += key.kind == Kind::Str ? "'" + vm.str(key) + "'" : vm.describe(it[k]);
    out += ": " + vm.describe(it[k + 1]);
  }
  if (it.size() > 40) out += fmt::format(", ... ({} keys)", it.size() / 2);
  return out;
}

// Finds the dict of tensors: 'state_dict' first, else the top-level dict if it holds only tensors.
Selected select_state_dict(const Unpickler& vm, uint32_t root, const std::string& file) {
  const Value& top = vm.at(root);
  if (top.kind != Kind::Dict)
    throw Error(ErrorCode::Unsupported,
                fmt::format("{}: the checkpoint holds a {}, not a dict of tensors", file, vm.describe(root)));
  Selected sel;
  uint32_t dict = root;
  const auto& top_items = vm.items(top);
  for (size_t k = 0; k + 1 < top_items.size(); k += 2) {
    const Value& key = vm.at(top_items[k]);
    if (key.kind == Kind::Str && vm.str(key) == "state_dict") {
      if (vm.at(top_items[k + 1]).kind != Kind::Dict)
        throw Error(ErrorCode::Unsupported, fmt::format("{}: 'state_dict' is a {}, not a dict of tensors", file,
                                                        vm.describe(top_items[k + 1])));
      dict = top_items[k + 1];
      sel.wrapped = true;
    }
  }
  const auto& items = vm.items(vm.at(dict));
  if (!sel.wrapped) {
    for (size_t k = 0; k + 1 < items.size(); k += 2) {
      const Value& key = vm.at(items[k]);
      const bool meta = key.kind == Kind::Str && metadata_like(vm.str(key));
      if (vm.at(items[k + 1]).kind != Kind::Tensor && !meta)
        throw Error(ErrorCode::Unsupported,
                    fmt::format("{}: no state dict found: no 'state_dict' key and the top-level dict does not hold "
                                "only tensors; top-level keys: {{{}}}",
                                file, list_keys(vm, top)));
    }
  }
  std::unordered_map<std::string, size_t> pos;
  for (size_t k = 0; k + 1 < items.size(); k += 2) {
    const Value& key = vm.at(items[k]);
    if (key.kind != Kind::Str)
      throw Error(ErrorCode::Unsupported, fmt::format("{}: state dict key #{} is a {}, not a str", file, k / 2,
                                                      vm.describe(items[k])));
    const std::string& name = vm.str(key);
    if (vm.at(items[k + 1]).kind != Kind::Tensor) {
      if (metadata_like(name)) continue;
      throw Error(ErrorCode::Unsupported, fmt::format("{}: state dict entry '{}' is a {}, not a tensor", file, name,
                                                      vm.describe(items[k + 1])));
    }
    auto [it, fresh] = pos.emplace(name, sel.tensors.size());
    if (fresh) sel.tensors.emplace_back(name, items[k + 1]);
    else sel.tensors[it->second].second = items[k + 1];  // a dict keeps the first position, last value
  }
  return sel;
}

using Bytes = std::shared_ptr<const std::vector<uint8_t>>;

// Builds the StateDict once the root storages' bytes are known.
StateDict materialize(const Unpickler& vm, const Selected& sel, const std::unordered_map<std::string, Bytes>& roots,
                      const std::string& file) {
  StateDict sd;
  sd.entries.reserve(sel.tensors.size());
  for (const auto& [key, vidx] : sel.tensors) {
    const ckpt::TensorRef& t = vm.tensor(vm.at(vidx));
    const ckpt::StorageRef& s = vm.storages()[t.storage];
    auto it = roots.find(s.key);
    if (it == roots.end())
      throw Error(ErrorCode::Parse, fmt::format("{}: tensor '{}' uses storage '{}', which has no data", file, key, s.key));
    const int64_t view_numel = s.view_numel >= 0 ? s.view_numel : s.numel;
    const std::string err = extent_error(t.size, t.stride, t.offset, view_numel);
    if (!err.empty())
      throw Error(ErrorCode::Parse, fmt::format("{}: tensor '{}' (size {}, stride {}, offset {}) does not fit storage "
                                                "'{}': {} (pickle offset {})",
                                                file, key, fmt::join(t.size, "x"), fmt::join(t.stride, "x"),
                                                t.offset, s.key, err, t.pickle_offset));
    TensorData td;
    td.dtype = s.dtype;
    td.shape = t.size;
    td.strides = t.stride;
    td.storage_offset = t.offset + s.view_offset;
    td.storage = it->second;
    td.location = s.location;
    sd.entries.emplace_back(key, std::move(td));
  }
  return sd;
}

std::unordered_set<uint32_t> needed_storages(const Unpickler& vm, const Selected& sel) {
  std::unordered_set<uint32_t> out;
  for (const auto& kv : sel.tensors) out.insert(vm.tensor(vm.at(kv.second)).storage);
  return out;
}

Bytes copy_bytes(const uint8_t* p, size_t n) { return std::make_shared<const std::vector<uint8_t>>(p, p + n); }

StateDict load_zip(const uint8_t* data, size_t size, const std::string& file, CheckpointInfo* info) {
  const ckpt::ZipReader zip(data, size);
  const ckpt::ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const bool match = e.name == "data.pkl" ||
                       (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0 &&
                        std::count(e.name.begin(), e.name.end(), '/') == 1);
    if (!match) continue;
    if (pkl) throw Error(ErrorCode::Parse, fmt::format("{}: two data.pkl entries ('{}', '{}')", file, pkl->name, e.name));
    pkl = &e;
  }
  if (!pkl) {
    for (const auto& e : zip.entries())
      if (e.name.find("/code/") != std::string::npos || e.name.find("constants.pkl") != std::string::npos)
        throw Error(ErrorCode::Unsupported,
                    fmt::format("{}: a TorchScript archive (torch.jit.save), not a torch.save checkpoint", file));
    throw Error(ErrorCode::Parse, fmt::format("{}: zip archive without a data.pkl entry (not a torch.save file)", file));
  }
  const std::string top = pkl->name.substr(0, pkl->name.size() - 8);  // "<top>/"
  if (const auto* bo = zip.find(top + "byteorder")) {
    const uint8_t* p = zip.read(*bo);
    const std::string order(reinterpret_cast<const char*>(p), static_cast<size_t>(bo->size));
    if (order != "little")
      throw Error(ErrorCode::Unsupported, fmt::format("{}: byte order '{}' is not supported", file, ellipsize(order, 16)));
  }
  const uint8_t* pdata = zip.read(*pkl);
  Unpickler vm(pdata, static_cast<size_t>(pkl->size), pkl->data_offset, file + ": " + pkl->name);
  size_t end = 0;
  const uint32_t root = vm.run(0, &end);
  const Selected sel = select_state_dict(vm, root, file);
  // Check every needed storage entry before reading (CRC) and copying any of them.
  std::vector<std::pair<std::string, const ckpt::ZipEntry*>> wanted;
  std::unordered_set<std::string> keys_seen;
  for (uint32_t si : needed_storages(vm, sel)) {
    const ckpt::StorageRef& s = vm.storages()[si];
    if (!keys_seen.insert(s.key).second) continue;
    const std::string name = top + "data/" + s.key;
    const ckpt::ZipEntry* e = zip.find(name);
    if (!e) throw Error(ErrorCode::Parse, fmt::format("{}: storage entry '{}' is missing", file, name));
    const size_t es = dtype_size(s.dtype);
    if (e->size / es != static_cast<uint64_t>(s.numel) || e->size % es != 0)
      throw Error(ErrorCode::Parse, fmt::format("{}: storage '{}' holds {} bytes, expected {} x {} ({} bytes)", file,
                                                name, e->size, s.numel, dtype_name(s.dtype),
                                                static_cast<uint64_t>(s.numel) * es));
    if (e->method != 0) zip.read(*e);  // throws Unsupported, naming the entry
    wanted.emplace_back(s.key, e);
  }
  std::unordered_map<std::string, Bytes> roots;
  for (const auto& [key, e] : wanted) roots.emplace(key, copy_bytes(zip.read(*e), static_cast<size_t>(e->size)));
  if (info) {
    info->container = "zip";
    info->wrapped = sel.wrapped;
  }
  return materialize(vm, sel, roots, file);
}

StateDict load_legacy(const uint8_t* data, size_t size, const std::string& file, CheckpointInfo* info) {
  Unpickler vm(data, size, 0, file + ": legacy container");
  size_t pos = 0;
  // 1. magic number, 2. protocol version, 3. sys info
  static const uint8_t magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
  const Value& m = vm.at(vm.run(pos, &pos));
  if (m.kind != Kind::BigInt || vm.str(m) != std::string(reinterpret_cast<const char*>(magic), sizeof magic))
    throw Error(ErrorCode::Parse, fmt::format("{}: not a torch.save file (legacy magic number missing)", file));
  const uint32_t proto = vm.run(pos, &pos);
  if (vm.at(proto).kind != Kind::Int || vm.at(proto).i != 1001)
    throw Error(ErrorCode::Unsupported,
                fmt::format("{}: legacy protocol version {} (only 1001 is supported)", file, vm.describe(proto)));
  const Value& sys = vm.at(vm.run(pos, &pos));
  if (sys.kind != Kind::Dict) throw Error(ErrorCode::Parse, fmt::format("{}: legacy sys-info is not a dict", file));
  const auto& sys_items = vm.items(sys);
  for (size_t k = 0; k + 1 < sys_items.size(); k += 2) {
    const Value& key = vm.at(sys_items[k]);
    const Value& val = vm.at(sys_items[k + 1]);
    if (key.kind == Kind::Str && vm.str(key) == "little_endian" && !(val.kind == Kind::Bool && val.i == 1))
      throw Error(ErrorCode::Unsupported, fmt::format("{}: big-endian legacy checkpoints are not supported", file));
  }
  // 4. the object, 5. the storage keys in data order
  const uint32_t root = vm.run(pos, &pos);
  const uint32_t keys_idx = vm.run(pos, &pos);
  const Value& keys = vm.at(keys_idx);
  if (keys.kind != Kind::List)
    throw Error(ErrorCode::Parse, fmt::format("{}: legacy storage-key list is a {}", file, vm.describe(keys_idx)));
  const Selected sel = select_state_dict(vm, root, file);
  const auto needed = needed_storages(vm, sel);
  std::unordered_map<std::string, const ckpt::StorageRef*> by_key;
  for (const auto& s : vm.storages()) by_key.emplace(s.key, &s);
  std::unordered_set<std::string> needed_keys;
  for (uint32_t si : needed) needed_keys.insert(vm.storages()[si].key);

  // First walk the whole data section and check every size, then copy: a truncated or corrupt
  // file fails before anything large is allocated.
  std::vector<std::pair<const std::string*, size_t>> spans;  // key, data offset
  std::unordered_set<std::string> seen;
  for (uint32_t kidx : vm.items(keys)) {
    const Value& kv = vm.at(kidx);
    if (kv.kind != Kind::Str)
      throw Error(ErrorCode::Parse, fmt::format("{}: legacy storage key is a {}", file, vm.describe(kidx)));
    const std::string& key = vm.str(kv);
    auto it = by_key.find(key);
    if (it == by_key.end())
      throw Error(ErrorCode::Parse, fmt::format("{}: storage '{}' is listed but no tensor declares it", file, key));
    if (!seen.insert(key).second) throw Error(ErrorCode::Parse, fmt::format("{}: storage '{}' listed twice", file, key));
    const ckpt::StorageRef& s = *it->second;
    if (size - pos < 8)
      throw Error(ErrorCode::Parse, fmt::format("{}: truncated before the size of storage '{}' (file offset {})", file,
                                                key, pos));
    uint64_t u = 0;
    for (int b = 0; b < 8; ++b) u |= static_cast<uint64_t>(data[pos + b]) << (8 * b);
    const int64_t count = static_cast<int64_t>(u);
    if (count != s.numel)
      throw Error(ErrorCode::Parse, fmt::format("{}: storage '{}' has {} elements in the data, {} in the pickle (file "
                                                "offset {})",
                                                file, key, count, s.numel, pos));
    pos += 8;
    const size_t es = dtype_size(s.dtype);
    if (static_cast<uint64_t>(count) > (size - pos) / es)
      throw Error(ErrorCode::Parse, fmt::format("{}: truncated: storage '{}' needs {} x {} bytes at file offset {}, "
                                                "{} left",
                                                file, key, count, es, pos, size - pos));
    spans.emplace_back(&key, pos);
    pos += static_cast<size_t>(count) * es;
  }
  std::unordered_map<std::string, Bytes> roots;
  for (const auto& [key, at] : spans) {
    if (!needed_keys.count(*key)) continue;
    const ckpt::StorageRef& s = *by_key.at(*key);
    roots.emplace(*key, copy_bytes(data + at, static_cast<size_t>(s.numel) * dtype_size(s.dtype)));
  }
  if (info) {
    info->container = "legacy";
    info->wrapped = sel.wrapped;
  }
  return materialize(vm, sel, roots, file);
}

StateDict load_any(const uint8_t* data, size_t size, const std::string& file, CheckpointInfo* info) {
  if (!host_little_endian()) throw Error(ErrorCode::Unsupported, "checkpoint reader needs a little-endian host");
  if (size >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4)
    return load_zip(data, size, file, info);
  if (size >= 2 && data[0] == 0x80 && data[1] <= 5) return load_legacy(data, size, file, info);
  if (size >= 262 && std::memcmp(data + 257, "ustar", 5) == 0)
    throw Error(ErrorCode::Unsupported,
                fmt::format("{}: tar-based torch.save container (torch < 0.4) is not supported", file));
  std::string head;
  for (size_t i = 0; i < size && i < 8; ++i) head += fmt::format("{:02x} ", data[i]);
  throw Error(ErrorCode::Parse,
              fmt::format("{}: not a torch.save file (neither a zip archive nor a legacy pickle; first bytes: {})",
                          file, size ? head : std::string("none, empty file")));
}

// ---- writer ----

class PickleWriter {
 public:
  std::vector<uint8_t> out;
  void op(uint8_t c) { out.push_back(c); }
  void raw(const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }
  void le(uint64_t v, int n) {
    for (int k = 0; k < n; ++k) out.push_back(static_cast<uint8_t>(v >> (8 * k)));
  }
  void global(const char* module, const char* name) {
    op('c');
    raw(module);
    op('\n');
    raw(name);
    op('\n');
  }
  void str(const std::string& s) {
    op('X');
    le(s.size(), 4);
    raw(s);
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      op('M');
      le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      le(static_cast<uint64_t>(v), 4);
    } else {
      op(0x8a);
      op(8);
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) return op(')');
    if (v.size() > 3) op('(');
    for (int64_t x : v) integer(x);
    op(v.size() > 3 ? 't' : static_cast<uint8_t>(0x84 + v.size()));
  }
};

const char* storage_class(DType t) {
  switch (t) {
    case DType::Float32: return "FloatStorage";
    case DType::Float64: return "DoubleStorage";
    case DType::Float16: return "HalfStorage";
    case DType::BFloat16: return "BFloat16Storage";
    case DType::Int64: return "LongStorage";
    case DType::Int32: return "IntStorage";
    case DType::Int16: return "ShortStorage";
    case DType::Int8: return "CharStorage";
    case DType::UInt8: return "ByteStorage";
    case DType::Bool: return "BoolStorage";
  }
  return "FloatStorage";
}

}  // namespace

int64_t TensorData::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

bool TensorData::is_contiguous() const {
  int64_t expect = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 1) continue;
    if (d >= strides.size() || strides[d] != expect) return false;
    expect *= shape[d];
  }
  return true;
}

std::vector<float> TensorData::to_float() const { return convert<float>(*this); }
std::vector<double> TensorData::to_double() const { return convert<double>(*this); }

std::string TensorData::shape_string() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

TensorData TensorData::from_bytes(DType dtype, std::vector<int64_t> shape, const void* bytes, size_t size) {
  TensorData t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  __int128 n = 1;
  for (int64_t s : t.shape) {
    if (s < 0) throw Error(ErrorCode::InvalidArgument, fmt::format("tensor shape {} has a negative size", t.shape_string()));
    n *= s;
    if (n > static_cast<__int128>(SIZE_MAX)) break;
  }
  if (n * static_cast<__int128>(dtype_size(dtype)) != static_cast<__int128>(size))
    throw Error(ErrorCode::InvalidArgument, fmt::format("tensor {} of {} needs {} bytes, got {}", t.shape_string(),
                                                        dtype_name(dtype), static_cast<long long>(n) * static_cast<long long>(dtype_size(dtype)), size));
  t.strides.assign(t.shape.size(), 1);
  for (size_t d = t.shape.size(); d-- > 1;) t.strides[d - 1] = t.strides[d] * std::max<int64_t>(t.shape[d], 1);
  const auto* p = static_cast<const uint8_t*>(bytes);
  t.storage = std::make_shared<const std::vector<uint8_t>>(p, p + size);
  t.location = "cpu";
  return t;
}

TensorData TensorData::from_float(std::vector<int64_t> shape, const std::vector<float>& values) {
  return from_bytes(DType::Float32, std::move(shape), values.data(), values.size() * sizeof(float));
}

bool StateDict::contains(const std::string& key) const { return find(key) != nullptr; }

const TensorData* StateDict::find(const std::string& key) const {
  for (const auto& e : entries)
    if (e.first == key) return &e.second;
  return nullptr;
}

const TensorData& StateDict::at(const std::string& key) const {
  if (const TensorData* t = find(key)) return *t;
  throw Error(ErrorCode::NotFound, fmt::format("state dict has no tensor '{}' ({} entries)", key, entries.size()));
}

std::vector<std::string> StateDict::keys() const {
  std::vector<std::string> k;
  k.reserve(entries.size());
  for (const auto& e : entries) k.push_back(e.first);
  return k;
}

void StateDict::set(const std::string& key, TensorData t) {
  for (auto& e : entries)
    if (e.first == key) {
      e.second = std::move(t);
      return;
    }
  entries.emplace_back(key, std::move(t));
}

StateDict load_checkpoint_from_memory(const uint8_t* data, size_t size, CheckpointInfo* info) {
  if (!data && size) throw Error(ErrorCode::InvalidArgument, "load_checkpoint_from_memory: null data");
  return load_any(data, size, "<memory>", info);
}

StateDict load_checkpoint(const std::string& path, CheckpointInfo* info) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::NotFound, fmt::format("checkpoint file '{}' does not exist", path));
  const std::vector<uint8_t> buf = io::read_file(path, io::kMaxCheckpointBytes, "checkpoint file");
  return load_any(buf.data(), buf.size(), path, info);
}

std::vector<uint8_t> save_checkpoint_to_memory(const StateDict& sd) {
  // One storage per distinct (buffer, dtype), so tensors sharing a storage still share it.
  std::map<std::pair<const void*, int>, size_t> storage_ids;
  std::vector<std::pair<const std::vector<uint8_t>*, DType>> storages;
  PickleWriter w;
  w.op(0x80);
  w.op(2);
  w.global("collections", "OrderedDict");
  w.op(')');
  w.op('R');
  size_t batch = 0;
  std::unordered_set<std::string> seen;
  for (const auto& [key, t] : sd.entries) {
    if (!seen.insert(key).second)
      throw Error(ErrorCode::InvalidArgument, fmt::format("save_checkpoint: duplicate key '{}'", key));
    const size_t es = dtype_size(t.dtype);
    if (!t.storage) throw Error(ErrorCode::InvalidArgument, fmt::format("save_checkpoint: tensor '{}' has no storage", key));
    if (t.storage->size() % es != 0)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("save_checkpoint: tensor '{}': storage of {} bytes is not a whole number of {}", key,
                              t.storage->size(), dtype_name(t.dtype)));
    const int64_t storage_numel = static_cast<int64_t>(t.storage->size() / es);
    const std::string err = extent_error(t.shape, t.strides, t.storage_offset, storage_numel);
    if (!err.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("save_checkpoint: tensor '{}': {}", key, err));
    auto [it, fresh] = storage_ids.emplace(std::make_pair(static_cast<const void*>(t.storage.get()), static_cast<int>(t.dtype)),
                                           storages.size());
    if (fresh) storages.emplace_back(t.storage.get(), t.dtype);
    if (batch == 0) w.op('(');
    w.str(key);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op('(');
    w.op('(');
    w.str("storage");
    w.global("torch", storage_class(t.dtype));
    w.str(std::to_string(it->second));
    w.str("cpu");
    w.integer(storage_numel);
    w.op('t');
    w.op('Q');
    w.integer(t.storage_offset);
    w.int_tuple(t.shape);
    w.int_tuple(t.strides);
    w.op(0x89);
    w.global("collections", "OrderedDict");
    w.op(')');
    w.op('R');
    w.op('t');
    w.op('R');
    if (++batch == 1000) {  // Python's pickler batches SETITEMS by 1000
      w.op('u');
      batch = 0;
    }
  }
  if (batch) w.op('u');
  w.op('.');

  ckpt::ZipWriter zip;
  zip.add("archive/data.pkl", w.out.data(), w.out.size());
  static const char order[] = "little";
  zip.add("archive/byteorder", reinterpret_cast<const uint8_t*>(order), 6);
  for (size_t i = 0; i < storages.size(); ++i)
    zip.add("archive/data/" + std::to_string(i), storages[i].first->data(), storages[i].first->size());
  static const char version[] = "3\n";
  zip.add("archive/version", reinterpret_cast<const uint8_t*>(version), 2);
  return zip.finish();
}

void save_checkpoint(const std::string& path, const StateDict& sd) {
  const std::vector<uint8_t> bytes = save_checkpoint_to_memory(sd);

  // Write beside the target and rename, so a failed save never leaves a half-written checkpoint.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(ErrorCode::Io, fmt::format("save_checkpoint: cannot create '{}'", tmp));
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    f.flush();
    if (!f) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw Error(ErrorCode::Io, fmt::format("save_checkpoint: write to '{}' failed", tmp));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error(ErrorCode::Io, fmt::format("save_checkpoint: cannot rename '{}' to '{}'", tmp, path));
  }
}

}  // namespace dynn
