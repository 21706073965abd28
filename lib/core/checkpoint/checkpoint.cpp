// torch.save data in memory: dtypes, TensorData (validation, conversion) and StateDict. The
// reader is in checkpoint_read.cpp, the writer in checkpoint_write.cpp, the pickle VM in
// pickle.cpp, the zip code in zip.cpp.
#include "dynn/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "core/checkpoint/extent.hpp"
#include "dynn/error.hpp"

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

std::string ckpt::extent_error(const std::vector<int64_t>& shape, const std::vector<int64_t>& stride, int64_t offset,
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

namespace {

using ckpt::extent_error;

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IEEE floats expected");

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

}  // namespace dynn
