// A small, bounded pickle virtual machine for the subset of pickle that torch.save writes
// (protocols 2-5 opcodes without buffers). Internal to dynn::core.
//
// Values live in an arena owned by the Unpickler and refer to each other by index, so hostile
// pickles (self-referencing lists, million-deep nesting) cannot cause recursive destruction,
// reference cycles or unbounded recursion. Every length is checked against the bytes left
// before anything is allocated, and only a whitelist of globals can be named.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "dynn/checkpoint.hpp"

namespace dynn::ckpt {

enum class Kind : uint8_t {
  None, Bool, Int, BigInt, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor
};
const char* kind_name(Kind k) noexcept;

// The only callables a pickle may name.
enum class GlobalId : uint8_t {
  OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, RebuildParameterWithState, RestoreTypeTag, StorageType
};

// A storage reference from a persistent id ('storage', cls, key, location, numel[, view]).
struct StorageRef {
  std::string key;       // root key (data/<key> in zip, storage-keys list in legacy)
  DType dtype = DType::Float32;
  std::string location;
  int64_t numel = 0;      // elements of the root storage as declared
  int64_t view_offset = 0;  // legacy view_metadata: this storage is root[view_offset : view_offset+view_numel]
  int64_t view_numel = -1;  // -1: the whole root
};

struct TensorRef {
  uint32_t storage = 0;  // index into Unpickler::storages()
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
  uint64_t pickle_offset = 0;  // where it was rebuilt, for messages
};

struct Value {
  Kind kind = Kind::None;
  bool ordered = false;  // Dict built from collections.OrderedDict
  GlobalId global = GlobalId::OrderedDict;
  DType dtype = DType::Float32;  // for Global StorageType
  int64_t i = 0;         // Int, Bool; index into strings (Str/Bytes/BigInt/Global name);
                         // index into lists (Tuple/List/Dict); storage or tensor index
  double f = 0;
};

class Unpickler {
 public:
  // `base` is the file offset of data[0], used only in error messages; `where` names the stream.
  Unpickler(const uint8_t* data, size_t size, uint64_t base, std::string where);

  // Runs from `pos` to STOP; returns the index of the result and sets `end` past STOP.
  uint32_t run(size_t pos, size_t* end);

  const Value& at(uint32_t idx) const { return m_values[idx]; }
  const std::string& str(const Value& v) const { return m_strings[static_cast<size_t>(v.i)]; }
  const std::vector<uint32_t>& items(const Value& v) const { return m_lists[static_cast<size_t>(v.i)]; }
  const std::vector<StorageRef>& storages() const { return m_storages; }
  const TensorRef& tensor(const Value& v) const { return m_tensors[static_cast<size_t>(v.i)]; }

  // Short description for messages: "int 3", "str 'abc'", "tuple of 2", ...
  std::string describe(uint32_t idx) const;

 private:
  [[noreturn]] void fail(const std::string& msg) const;
  [[noreturn]] void fail_at(uint64_t op_offset, const std::string& msg) const;
  void need(size_t n) const;
  uint64_t read_le(size_t n);
  uint32_t push_value(Value v);
  uint32_t new_string(Kind k, std::string s);
  uint32_t new_list(Kind k, std::vector<uint32_t> items);
  uint32_t pop();
  uint32_t top() const;
  size_t pop_mark();
  void push(uint32_t idx);
  uint32_t make_global(const std::string& module, const std::string& name);
  uint32_t persistent_load(uint32_t pid);
  uint32_t reduce(uint32_t callable, uint32_t args);
  void build(uint32_t obj, uint32_t state);
  void setitems(uint32_t dict, size_t from);
  int64_t as_int(uint32_t idx, const char* what) const;
  std::vector<int64_t> as_int_tuple(uint32_t idx, const char* what) const;

  const uint8_t* m_data;
  size_t m_size;
  uint64_t m_base;
  std::string m_where;
  size_t m_pos = 0;
  uint64_t m_op = 0;  // offset of the opcode being executed

  std::vector<Value> m_values;
  std::vector<std::string> m_strings;
  std::vector<std::vector<uint32_t>> m_lists;
  std::vector<StorageRef> m_storages;
  std::unordered_map<std::string, uint32_t> m_storage_by_pid;  // key + view, for sharing
  std::unordered_map<std::string, std::pair<DType, int64_t>> m_roots;  // root key -> declared type, numel
  std::vector<TensorRef> m_tensors;
  std::vector<uint32_t> m_stack;
  std::vector<size_t> m_marks;
  std::unordered_map<uint32_t, uint32_t> m_memo;
  uint32_t m_none = 0, m_true = 0, m_false = 0, m_empty_tuple = 0;
};

}  // namespace dynn::ckpt
