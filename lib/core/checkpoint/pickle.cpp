#include "core/checkpoint/pickle.hpp"

#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::ckpt {
namespace {

// Hard caps on top of "bounded by the bytes present": they keep the constant factor of a hostile
// pickle (one new list per input byte) in check. Real state dicts stay far below them (the OFA
// supernet pickle creates ~9k values).
constexpr size_t kMaxValues = size_t{1} << 24;
constexpr size_t kMaxMemo = size_t{1} << 24;
constexpr size_t kMaxDims = 64;

bool storage_dtype(const std::string& name, DType* out) {
  static const struct { const char* n; DType t; } table[] = {
      {"FloatStorage", DType::Float32}, {"DoubleStorage", DType::Float64},
      {"HalfStorage", DType::Float16},  {"BFloat16Storage", DType::BFloat16},
      {"LongStorage", DType::Int64},    {"IntStorage", DType::Int32},
      {"ShortStorage", DType::Int16},   {"CharStorage", DType::Int8},
      {"ByteStorage", DType::UInt8},    {"BoolStorage", DType::Bool},
  };
  for (const auto& e : table)
    if (name == e.n) {
      *out = e.t;
      return true;
    }
  return false;
}

std::string printable(const std::string& s, size_t max = 60) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 32 && c < 127 && c != '\'') out += static_cast<char>(c);
    else out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

const char* kind_name(Kind k) noexcept {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "long";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

Unpickler::Unpickler(const uint8_t* data, size_t size, uint64_t base, std::string where)
    : m_data(data), m_size(size), m_base(base), m_where(std::move(where)) {
  Value v;
  v.kind = Kind::None;
  m_none = push_value(v);
  v.kind = Kind::Bool;
  v.i = 1;
  m_true = push_value(v);
  v.i = 0;
  m_false = push_value(v);
  m_empty_tuple = new_list(Kind::Tuple, {});
}

void Unpickler::fail(const std::string& msg) const { fail_at(m_op, msg); }

void Unpickler::fail_at(uint64_t op_offset, const std::string& msg) const {
  throw Error(ErrorCode::Parse, fmt::format("{}: {} (pickle offset {}, file offset {})", m_where, msg, op_offset,
                                            m_base + op_offset));
}

void Unpickler::need(size_t n) const {
  if (n > m_size - m_pos)
    fail(fmt::format("truncated: opcode needs {} more bytes, {} left", n, m_size - m_pos));
}

uint64_t Unpickler::read_le(size_t n) {
  need(n);
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(m_data[m_pos + k]) << (8 * k);
  m_pos += n;
  return v;
}

uint32_t Unpickler::push_value(Value v) {
  if (m_values.size() >= kMaxValues) fail(fmt::format("more than {} pickle values", kMaxValues));
  m_values.push_back(v);
  return static_cast<uint32_t>(m_values.size() - 1);
}

uint32_t Unpickler::new_string(Kind k, std::string s) {
  Value v;
  v.kind = k;
  v.i = static_cast<int64_t>(m_strings.size());
  m_strings.push_back(std::move(s));
  return push_value(v);
}

uint32_t Unpickler::new_list(Kind k, std::vector<uint32_t> items) {
  Value v;
  v.kind = k;
  v.i = static_cast<int64_t>(m_lists.size());
  m_lists.push_back(std::move(items));
  return push_value(v);
}

void Unpickler::push(uint32_t idx) { m_stack.push_back(idx); }

uint32_t Unpickler::pop() {
  const size_t floor = m_marks.empty() ? 0 : m_marks.back();
  if (m_stack.size() <= floor) fail("stack underflow");
  const uint32_t v = m_stack.back();
  m_stack.pop_back();
  return v;
}

uint32_t Unpickler::top() const {
  const size_t floor = m_marks.empty() ? 0 : m_marks.back();
  if (m_stack.size() <= floor) fail("stack underflow");
  return m_stack.back();
}

size_t Unpickler::pop_mark() {
  if (m_marks.empty()) fail("no MARK on the stack");
  const size_t m = m_marks.back();
  m_marks.pop_back();
  return m;
}

std::string Unpickler::describe(uint32_t idx) const {
  const Value& v = m_values[idx];
  switch (v.kind) {
    case Kind::Int: return fmt::format("int {}", v.i);
    case Kind::Bool: return v.i ? "True" : "False";
    case Kind::Float: return fmt::format("float {}", v.f);
    case Kind::Str: return fmt::format("str '{}'", printable(str(v)));
    case Kind::Bytes: return fmt::format("bytes of {}", str(v).size());
    case Kind::Tuple: case Kind::List: return fmt::format("{} of {}", kind_name(v.kind), items(v).size());
    case Kind::Dict: return fmt::format("{} of {}", v.ordered ? "OrderedDict" : "dict", items(v).size() / 2);
    case Kind::Global: return fmt::format("global {}", printable(str(v)));
    case Kind::Tensor: {
      const auto& t = tensor(v);
      return fmt::format("tensor of {} dims", t.size.size());
    }
    default: return kind_name(v.kind);
  }
}

int64_t Unpickler::as_int(uint32_t idx, const char* what) const {
  const Value& v = m_values[idx];
  if (v.kind != Kind::Int && v.kind != Kind::Bool) fail(fmt::format("{} must be an int, got {}", what, describe(idx)));
  return v.i;
}

std::vector<int64_t> Unpickler::as_int_tuple(uint32_t idx, const char* what) const {
  const Value& v = m_values[idx];
  if (v.kind != Kind::Tuple && v.kind != Kind::List)
    fail(fmt::format("{} must be a tuple of ints, got {}", what, describe(idx)));
  const auto& it = items(v);
  if (it.size() > kMaxDims) fail(fmt::format("{} has {} dimensions (at most {})", what, it.size(), kMaxDims));
  std::vector<int64_t> out;
  out.reserve(it.size());
  for (uint32_t e : it) out.push_back(as_int(e, what));
  return out;
}

uint32_t Unpickler::make_global(const std::string& module, const std::string& name) {
  Value v;
  v.kind = Kind::Global;
  DType dt;
  if (module == "collections" && name == "OrderedDict") {
    v.global = GlobalId::OrderedDict;
  } else if (module == "torch._utils" && name == "_rebuild_tensor_v2") {
    v.global = GlobalId::RebuildTensorV2;
  } else if (module == "torch._utils" && name == "_rebuild_tensor") {
    v.global = GlobalId::RebuildTensor;
  } else if (module == "torch._utils" && name == "_rebuild_parameter") {
    v.global = GlobalId::RebuildParameter;
  } else if (module == "torch._utils" && name == "_rebuild_parameter_with_state") {
    v.global = GlobalId::RebuildParameterWithState;
  } else if (module == "torch.jit._pickle" && name == "restore_type_tag") {
    v.global = GlobalId::RestoreTypeTag;  // LibTorch's pickle_save tags typed containers with it
  } else if ((module == "torch" || module == "torch.cuda") && storage_dtype(name, &dt)) {
    v.global = GlobalId::StorageType;
    v.dtype = dt;
  } else {
    fail(fmt::format("global '{}.{}' is not allowed (only OrderedDict, torch._utils tensor/parameter rebuilders, restore_type_tag "
                     "and torch[.cuda].<Type>Storage)",
                     printable(module), printable(name)));
  }
  v.i = static_cast<int64_t>(m_strings.size());
  m_strings.push_back(module + "." + name);
  return push_value(v);
}

uint32_t Unpickler::persistent_load(uint32_t pid) {
  const Value& p = m_values[pid];
  if (p.kind != Kind::Tuple) fail(fmt::format("persistent id must be a tuple, got {}", describe(pid)));
  const auto f = items(p);  // copy: push_value may reallocate
  if (f.empty() || m_values[f[0]].kind != Kind::Str || str(m_values[f[0]]) != "storage")
    fail(fmt::format("persistent id must start with 'storage' ({})", describe(pid)));
  if (f.size() != 5 && f.size() != 6)
    fail(fmt::format("storage persistent id has {} fields, expected 5 or 6", f.size()));
  const Value& cls = m_values[f[1]];
  if (cls.kind != Kind::Global || cls.global != GlobalId::StorageType)
    fail(fmt::format("storage persistent id: type must be a torch storage class, got {}", describe(f[1])));
  if (m_values[f[2]].kind != Kind::Str) fail(fmt::format("storage key must be a str, got {}", describe(f[2])));
  if (m_values[f[3]].kind != Kind::Str) fail(fmt::format("storage location must be a str, got {}", describe(f[3])));
  StorageRef s;
  s.dtype = cls.dtype;
  s.key = str(m_values[f[2]]);
  s.location = str(m_values[f[3]]);
  s.numel = as_int(f[4], "storage element count");
  if (s.numel < 0) fail(fmt::format("storage '{}' has negative element count {}", printable(s.key), s.numel));
  std::string share_key = s.key;
  if (f.size() == 6 && m_values[f[5]].kind != Kind::None) {
    // Legacy view_metadata = (view_key, offset, view_size): a slice of the root storage.
    const Value& vm = m_values[f[5]];
    if (vm.kind != Kind::Tuple || items(vm).size() != 3 || m_values[items(vm)[0]].kind != Kind::Str)
      fail(fmt::format("storage view metadata must be (key, offset, size), got {}", describe(f[5])));
    share_key = "view:" + str(m_values[items(vm)[0]]);
    s.view_offset = as_int(items(vm)[1], "storage view offset");
    s.view_numel = as_int(items(vm)[2], "storage view size");
    if (s.view_offset < 0 || s.view_numel < 0 || s.view_offset > s.numel || s.view_numel > s.numel - s.view_offset)
      fail(fmt::format("storage view [{}, +{}) lies outside root storage '{}' of {} elements", s.view_offset,
                       s.view_numel, printable(s.key), s.numel));
  }
  Value v;
  v.kind = Kind::Storage;
  auto it = m_storage_by_pid.find(share_key);
  if (it != m_storage_by_pid.end()) {
    const StorageRef& old = m_storages[it->second];
    if (old.dtype != s.dtype || old.numel != s.numel || old.key != s.key)
      fail(fmt::format("storage '{}' declared twice with different type or size ({} x {} vs {} x {})",
                       printable(s.key), dtype_name(old.dtype), old.numel, dtype_name(s.dtype), s.numel));
    v.i = it->second;
  } else {
    // Two views of one root, or one root declared with two dtypes, must agree on the root.
    auto [root, fresh] = m_roots.emplace(s.key, std::make_pair(s.dtype, s.numel));
    if (!fresh && (root->second.first != s.dtype || root->second.second != s.numel))
      fail(fmt::format("storage '{}' declared twice with different type or size", printable(s.key)));
    v.i = static_cast<int64_t>(m_storages.size());
    m_storage_by_pid.emplace(share_key, static_cast<uint32_t>(m_storages.size()));
    m_storages.push_back(std::move(s));
  }
  return push_value(v);
}

uint32_t Unpickler::reduce(uint32_t callable, uint32_t args_idx) {
  const Value& c = m_values[callable];
  if (c.kind != Kind::Global) fail(fmt::format("REDUCE on a non-callable {}", describe(callable)));
  const Value& a = m_values[args_idx];
  if (a.kind != Kind::Tuple) fail(fmt::format("REDUCE arguments must be a tuple, got {}", describe(args_idx)));
  const auto args = items(a);  // copy: new values may reallocate m_lists
  const GlobalId g = c.global;
  switch (g) {
    case GlobalId::OrderedDict: {
      if (!args.empty()) fail(fmt::format("OrderedDict() called with {} arguments, expected none", args.size()));
      const uint32_t d = new_list(Kind::Dict, {});
      m_values[d].ordered = true;
      return d;
    }
    case GlobalId::RebuildTensorV2:
    case GlobalId::RebuildTensor: {
      const bool v2 = g == GlobalId::RebuildTensorV2;
      if (v2 ? (args.size() != 6 && args.size() != 7) : args.size() != 4)
        fail(fmt::format("{} called with {} arguments, expected {}", v2 ? "_rebuild_tensor_v2" : "_rebuild_tensor",
                         args.size(), v2 ? "6 or 7" : "4"));
      const Value& st = m_values[args[0]];
      if (st.kind != Kind::Storage) fail(fmt::format("tensor storage must be a storage, got {}", describe(args[0])));
      TensorRef t;
      t.storage = static_cast<uint32_t>(st.i);
      t.offset = as_int(args[1], "tensor storage offset");
      t.size = as_int_tuple(args[2], "tensor size");
      t.stride = as_int_tuple(args[3], "tensor stride");
      t.pickle_offset = m_op;
      if (t.size.size() != t.stride.size())
        fail(fmt::format("tensor size has {} dims but stride has {}", t.size.size(), t.stride.size()));
      Value v;
      v.kind = Kind::Tensor;
      v.i = static_cast<int64_t>(m_tensors.size());
      m_tensors.push_back(std::move(t));
      return push_value(v);
    }
    case GlobalId::RebuildParameter:
    case GlobalId::RebuildParameterWithState: {
      const size_t want = g == GlobalId::RebuildParameter ? 3 : 4;
      if (args.size() != want)
        fail(fmt::format("_rebuild_parameter called with {} arguments, expected {}", args.size(), want));
      if (m_values[args[0]].kind != Kind::Tensor)
        fail(fmt::format("parameter data must be a tensor, got {}", describe(args[0])));
      return args[0];  // a Parameter is its tensor here
    }
    case GlobalId::RestoreTypeTag: {
      if (args.size() != 2 || m_values[args[1]].kind != Kind::Str)
        fail("restore_type_tag must be called with (object, type string)");
      return args[0];  // the tag only restores a static type; the object is unchanged
    }
    case GlobalId::StorageType: break;
  }
  fail(fmt::format("REDUCE: {} cannot be called", describe(callable)));
}

void Unpickler::build(uint32_t obj, uint32_t state) {
  // Only OrderedDict._metadata (or other plain attributes of a dict or tensor) arrive here; the
  // state is dropped, as nothing in it describes tensor data.
  const Kind k = m_values[obj].kind;
  if (k != Kind::Dict && k != Kind::Tensor)
    fail(fmt::format("BUILD on {} is not supported", describe(obj)));
  const Kind s = m_values[state].kind;
  if (s != Kind::Dict && s != Kind::Tuple && s != Kind::None)
    fail(fmt::format("BUILD state must be a dict, got {}", describe(state)));
}

void Unpickler::setitems(uint32_t dict, size_t from) {
  Value& d = m_values[dict];
  if (d.kind != Kind::Dict) fail(fmt::format("SETITEM(S) on {}, not a dict", describe(dict)));
  if ((m_stack.size() - from) % 2 != 0) fail("SETITEMS with an odd number of stack items");
  auto& it = m_lists[static_cast<size_t>(d.i)];
  it.insert(it.end(), m_stack.begin() + static_cast<std::ptrdiff_t>(from), m_stack.end());
  m_stack.resize(from);
}

uint32_t Unpickler::run(size_t pos, size_t* end) {
  m_pos = pos;
  m_stack.clear();
  m_marks.clear();
  m_memo.clear();
  for (;;) {
    m_op = m_pos;
    if (m_pos >= m_size) fail("truncated: no STOP opcode before the end of the data");
    const uint8_t op = m_data[m_pos++];
    switch (op) {
      case 0x80: {  // PROTO
        const uint64_t p = read_le(1);
        if (p > 5) fail(fmt::format("unsupported pickle protocol {}", p));
        break;
      }
      case 0x95: {  // FRAME: only a hint; check the length is plausible
        const uint64_t n = read_le(8);
        if (n > m_size - m_pos) fail(fmt::format("FRAME of {} bytes, only {} left", n, m_size - m_pos));
        break;
      }
      case '.': {  // STOP
        const uint32_t r = pop();
        if (!m_marks.empty()) fail("STOP with an open MARK");
        *end = m_pos;
        return r;
      }
      case '(': m_marks.push_back(m_stack.size()); break;  // MARK
      case '0': pop(); break;                               // POP
      case '1': m_stack.resize(pop_mark()); break;          // POP_MARK
      case '2': push(top()); break;                         // DUP
      case 'N': push(m_none); break;
      case 0x88: push(m_true); break;   // NEWTRUE
      case 0x89: push(m_false); break;  // NEWFALSE
      case 'J': case 'K': case 'M': {  // BININT, BININT1, BININT2
        Value v;
        v.kind = Kind::Int;
        if (op == 'J') v.i = static_cast<int32_t>(static_cast<uint32_t>(read_le(4)));
        else v.i = static_cast<int64_t>(read_le(op == 'K' ? 1 : 2));
        push(push_value(v));
        break;
      }
      case 0x8a: {  // LONG1
        const size_t n = static_cast<size_t>(read_le(1));
        need(n);
        if (n <= 8) {
          uint64_t u = 0;
          for (size_t k = 0; k < n; ++k) u |= static_cast<uint64_t>(m_data[m_pos + k]) << (8 * k);
          if (n > 0 && n < 8 && (m_data[m_pos + n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);  // sign-extend
          Value v;
          v.kind = Kind::Int;
          v.i = static_cast<int64_t>(u);
          m_pos += n;
          push(push_value(v));
        } else {
          push(new_string(Kind::BigInt, std::string(reinterpret_cast<const char*>(m_data + m_pos), n)));
          m_pos += n;
        }
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        need(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | m_data[m_pos + k];
        m_pos += 8;
        Value v;
        v.kind = Kind::Float;
        std::memcpy(&v.f, &u, 8);
        push(push_value(v));
        break;
      }
      case 'X': case 0x8c: case 0x8d:  // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
      case 'T': case 'U':              // BINSTRING, SHORT_BINSTRING
      case 'B': case 'C': case 0x8e: {  // BINBYTES, SHORT_BINBYTES, BINBYTES8
        const size_t lw = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        const uint64_t n = read_le(lw);
        if (op == 'T' && n > 0x7fffffffu) fail("BINSTRING with a negative length");
        if (n > m_size - m_pos) fail(fmt::format("string of {} bytes, only {} left", n, m_size - m_pos));
        const Kind k = (op == 'B' || op == 'C' || op == 0x8e) ? Kind::Bytes : Kind::Str;
        push(new_string(k, std::string(reinterpret_cast<const char*>(m_data + m_pos), static_cast<size_t>(n))));
        m_pos += static_cast<size_t>(n);
        break;
      }
      case ')': push(m_empty_tuple); break;  // EMPTY_TUPLE
      case 't': {                            // TUPLE
        const size_t m = pop_mark();
        std::vector<uint32_t> it(m_stack.begin() + static_cast<std::ptrdiff_t>(m), m_stack.end());
        m_stack.resize(m);
        push(new_list(Kind::Tuple, std::move(it)));
        break;
      }
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        const size_t n = static_cast<size_t>(op - 0x84);
        std::vector<uint32_t> it(n);
        for (size_t k = n; k-- > 0;) it[k] = pop();
        push(new_list(Kind::Tuple, std::move(it)));
        break;
      }
      case ']': push(new_list(Kind::List, {})); break;  // EMPTY_LIST
      case 'l': {                                       // LIST
        const size_t m = pop_mark();
        std::vector<uint32_t> it(m_stack.begin() + static_cast<std::ptrdiff_t>(m), m_stack.end());
        m_stack.resize(m);
        push(new_list(Kind::List, std::move(it)));
        break;
      }
      case 'a': {  // APPEND
        const uint32_t v = pop();
        const uint32_t l = top();
        if (m_values[l].kind != Kind::List) fail(fmt::format("APPEND to {}, not a list", describe(l)));
        m_lists[static_cast<size_t>(m_values[l].i)].push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        const size_t m = pop_mark();
        if (m == 0) fail("APPENDS without a list below the MARK");
        const uint32_t l = m_stack[m - 1];
        if (m_values[l].kind != Kind::List) fail(fmt::format("APPENDS to {}, not a list", describe(l)));
        auto& it = m_lists[static_cast<size_t>(m_values[l].i)];
        it.insert(it.end(), m_stack.begin() + static_cast<std::ptrdiff_t>(m), m_stack.end());
        m_stack.resize(m);
        break;
      }
      case '}': push(new_list(Kind::Dict, {})); break;  // EMPTY_DICT
      case 'd': {                                       // DICT
        const size_t m = pop_mark();
        const uint32_t d = new_list(Kind::Dict, {});
        setitems(d, m);
        push(d);
        break;
      }
      case 's': {  // SETITEM
        const uint32_t v = pop();
        const uint32_t k = pop();
        const uint32_t d = top();
        push(k);
        push(v);
        setitems(d, m_stack.size() - 2);
        break;
      }
      case 'u': {  // SETITEMS
        const size_t m = pop_mark();
        if (m == 0) fail("SETITEMS without a dict below the MARK");
        setitems(m_stack[m - 1], m);
        break;
      }
      case 'q': case 'r': {  // BINPUT, LONG_BINPUT
        const uint32_t idx = static_cast<uint32_t>(read_le(op == 'q' ? 1 : 4));
        if (m_memo.size() >= kMaxMemo && !m_memo.count(idx)) fail("memo too large");
        m_memo[idx] = top();
        break;
      }
      case 0x94: {  // MEMOIZE
        if (m_memo.size() >= kMaxMemo) fail("memo too large");
        m_memo[static_cast<uint32_t>(m_memo.size())] = top();
        break;
      }
      case 'h': case 'j': {  // BINGET, LONG_BINGET
        const uint32_t idx = static_cast<uint32_t>(read_le(op == 'h' ? 1 : 4));
        auto it = m_memo.find(idx);
        if (it == m_memo.end()) fail(fmt::format("memo index {} was never stored", idx));
        push(it->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string parts[2];
        for (auto& p : parts) {
          const void* nl = std::memchr(m_data + m_pos, '\n', std::min<size_t>(m_size - m_pos, 256));
          if (!nl) fail("GLOBAL name not terminated by a newline within 256 bytes");
          const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (m_data + m_pos));
          p.assign(reinterpret_cast<const char*>(m_data + m_pos), len);
          m_pos += len + 1;
        }
        push(make_global(parts[0], parts[1]));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        const uint32_t name = pop();
        const uint32_t module = pop();
        if (m_values[name].kind != Kind::Str || m_values[module].kind != Kind::Str)
          fail(fmt::format("STACK_GLOBAL needs two strs, got {} and {}", describe(module), describe(name)));
        push(make_global(str(m_values[module]), str(m_values[name])));
        break;
      }
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      case 'R': {                                     // REDUCE
        const uint32_t args = pop();
        const uint32_t fn = pop();
        push(reduce(fn, args));
        break;
      }
      case 'b': {  // BUILD
        const uint32_t state = pop();
        build(top(), state);
        break;
      }
      default: {
        const bool printable_op = op >= 32 && op < 127;
        fail(fmt::format("unsupported pickle opcode 0x{:02x}{}", op,
                         printable_op ? fmt::format(" ('{}')", static_cast<char>(op)) : std::string()));
      }
    }
  }
}

}  // namespace dynn::ckpt
