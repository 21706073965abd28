// torch.save reader: container handling (zip, legacy), state-dict extraction and validation.
// The pickle VM is in pickle.cpp, the zip code in zip.cpp.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/checkpoint/extent.hpp"
#include "core/checkpoint/pickle.hpp"
#include "core/checkpoint/zip.hpp"
#include "core/io/file.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn {

namespace {

using ckpt::extent_error;
using ckpt::Kind;
using ckpt::Unpickler;
using ckpt::Value;

bool host_little_endian() {
  const uint16_t one = 1;
  uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
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

}  // namespace

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

}  // namespace dynn
