// Native reader for torch.save files (zip and legacy pre-1.6 containers), without LibTorch or Python.
//
// It reads the tensors of a state dict (bare, or wrapped as {'state_dict': ...}) into plain
// buffers, so torch-free code (the accuracy predictor) and the LibTorch model share one reader.
// The reader is defensive: every count and size is bounded by the bytes present, unknown pickle
// opcodes, globals and storage types are rejected by name, and nothing allocates more than the
// file could describe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dynn {

enum class DType { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };
const char* dtype_name(DType t) noexcept;
size_t dtype_size(DType t) noexcept;

// One tensor from a checkpoint. Storage is shared between tensors that view the same storage.
struct TensorData {
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // in elements
  int64_t storage_offset = 0;    // in elements
  std::shared_ptr<const std::vector<uint8_t>> storage;  // raw little-endian bytes of the whole storage
  std::string location;          // "cpu", "cuda:0", ... as written (always loaded to host memory)

  int64_t numel() const;
  bool is_contiguous() const;  // row-major strides (size-1 dims ignored)
  // Contiguous row-major copy converted to float32 / float64 (integers and halves converted too).
  std::vector<float> to_float() const;
  std::vector<double> to_double() const;
  std::string shape_string() const;  // "[400, 128]"

  // A contiguous tensor owning a copy of `bytes` (which must hold numel * dtype_size bytes), on "cpu".
  static TensorData from_bytes(DType dtype, std::vector<int64_t> shape, const void* bytes, size_t size);
  static TensorData from_float(std::vector<int64_t> shape, const std::vector<float>& values);
};

// Key -> tensor, in file order.
struct StateDict {
  std::vector<std::pair<std::string, TensorData>> entries;

  size_t size() const { return entries.size(); }
  bool contains(const std::string& key) const;
  const TensorData& at(const std::string& key) const;  // throws Error(NotFound) naming the key
  const TensorData* find(const std::string& key) const;
  std::vector<std::string> keys() const;
  // Appends, or replaces the tensor in place when the key exists (as a Python dict does).
  void set(const std::string& key, TensorData t);
};

struct CheckpointInfo {
  std::string container;  // "zip" or "legacy"
  bool wrapped = false;   // the tensors were under 'state_dict'
};

// Loads a torch.save file. Throws dynn::Error: NotFound / Io for the file, Parse for corrupt,
// truncated or hostile content (with the byte offset where known), Unsupported for valid pickles
// that don't hold a state dict of tensors.
StateDict load_checkpoint(const std::string& path, CheckpointInfo* info = nullptr);
StateDict load_checkpoint_from_memory(const uint8_t* data, size_t size, CheckpointInfo* info = nullptr);

// Writes a state dict as a torch.save zip container (readable by torch.load and load_checkpoint).
// Tensors sharing a storage buffer share it in the file; locations are written as "cpu".
void save_checkpoint(const std::string& path, const StateDict& sd);
// The same bytes, in memory.
std::vector<uint8_t> save_checkpoint_to_memory(const StateDict& sd);

}  // namespace dynn
