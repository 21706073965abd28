// torch.save writer: a protocol-2 pickle of an OrderedDict of tensors in a zip archive, as
// torch.save writes it.
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_set>

#include <fmt/format.h>

#include "core/checkpoint/extent.hpp"
#include "core/checkpoint/zip.hpp"
#include "core/io/file.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"

namespace dynn {

namespace {

using ckpt::extent_error;

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

  io::write_file(path, bytes.data(), bytes.size(), "save_checkpoint");  // atomic: never half-written
}

}  // namespace dynn
