// A prepared CPU network: float32, NHWC activations, BN already folded by the family code that
// builds it. Dense convolutions and fully connected layers run on dynn's GEMM tiles
// (pointwise.hpp), depthwise ones on dynn's loop where it is the faster (depthwise.hpp), the rest on
// XNNPACK operators. Torch-free, so it builds and runs wherever XNNPACK does (x86-64 and aarch64
// alike).
//
// A Graph owns its operators and so their packed weights; activations live in a Workspace that the
// caller hands to run(), so many prepared graphs share one activation arena. An XNNPACK operator
// holds the pointers of its last setup, so run() re-binds only when the workspace, the batch size
// or the thread pool changed, and one Graph runs one inference at a time (the caller serialises).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

typedef struct xnn_operator* xnn_operator_t;
typedef struct pthreadpool* pthreadpool_t;

namespace dynn::cpu {

// True when XNNPACK initialised on this CPU (it refuses CPUs without the ISA it was built for).
bool available();
// Why available() is false ("" when it is true).
std::string unavailable_reason();

// Activation memory for graph runs, grown on demand; one per concurrently running inference.
class Workspace {
 public:
  float* reserve(size_t floats);  // keeps the contents' address unless it must grow
  size_t bytes() const { return m_size * sizeof(float); }

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::unique_ptr<float, Free> m_data;
  size_t m_size = 0;
};

// A pthreadpool of n threads whose workers were created on a thread with the calling thread's
// current CPU affinity, so they run where the platform pinned the inference thread. n == 1 is no
// pool at all (XNNPACK then runs on the calling thread).
class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  pthreadpool_t get() const { return m_pool; }
  int threads() const { return m_threads; }
  // The affinity mask (first 1024 CPUs) its workers inherited.
  const std::vector<uint64_t>& mask() const { return m_mask; }
  static std::vector<uint64_t> calling_thread_mask();
  // Puts the workers to sleep now instead of letting them spin-wait for the next job (pthreadpool
  // spins for up to a million iterations after each one). Called at the end of an inference: a
  // worker spinning between inferences takes a core from the application, and after the affinity
  // knob moved it onto the inference thread's CPU (fewer threads, fewer CPUs) it takes that one.
  void release_workers() const;

 private:
  pthreadpool_t m_pool = nullptr;
  int m_threads = 1;
  std::vector<uint64_t> m_mask;
};

enum class Act { None, Relu, Hardswish };

struct PointwiseParams;

// A fully-connected layer that several graphs run, packed once: the classifier head, whose
// weights are the same in every sub-network of a supernet. It keeps no per-run state (dynn's
// pointwise kernel takes its buffers per call), so graphs sharing it run it concurrently.
class SharedFullyConnected {
 public:
  // kernel [out][in]; bias may be null; output clamped to [lo, hi].
  SharedFullyConnected(int in, int out, const float* kernel, const float* bias, float lo, float hi);
  ~SharedFullyConnected();
  SharedFullyConnected(const SharedFullyConnected&) = delete;
  SharedFullyConnected& operator=(const SharedFullyConnected&) = delete;
  int in() const;
  int out() const;
  size_t bytes() const;
  size_t weight_floats() const { return m_weight_floats; }
  void run(const float* x, float* y, size_t batch, pthreadpool_t pool) const;

 private:
  std::unique_ptr<PointwiseParams> m_pw;
  size_t m_weight_floats = 0;
};

class Graph {
 public:
  using Value = int;  // an activation: [batch, h, w, c] in the workspace

  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Building. Weights are copied into XNNPACK's packed layout, so the pointers need only live for
  // the call. Every conv pads k/2 on each side (MobileNet / ResNet "same" convolutions).
  Value input(int h, int w, int c);
  // kernel: [groups][out_c/groups][k][k][in_c/groups] (OHWI per group); bias: out_c, may be null.
  Value conv(Value x, const float* kernel, const float* bias, int out_c, int k, int stride, int groups, Act act);
  Value depthwise(Value x, const float* kernel /* [c][k][k] */, const float* bias, int k, int stride, Act act) {
    return conv(x, kernel, bias, channels(x), k, stride, channels(x), act);
  }
  // A dense (one group) conv whose weights `fill` writes later (kernel OHWI, bias out_c; the
  // vectors are a thread's reused scratch), in create_deferred(): producing and packing a
  // sub-network's big convolutions then runs on several threads. fill must only read data that
  // outlives create_deferred() and may run on any thread.
  using Fill = std::function<void(std::vector<float>& kernel, std::vector<float>& bias)>;
  Value conv_deferred(Value x, Fill fill, int out_c, int k, int stride, Act act);
  // Creates the deferred convolutions on `threads` threads (the calling one among them), largest
  // first; the first failure is rethrown after all have stopped. Binding or running a graph that
  // still has deferred convolutions is an Internal error.
  void create_deferred(int threads);
  void hardswish(Value x);  // in place
  Value global_avg_pool(Value x);  // -> [batch, 1, 1, c]
  // x must be 1x1 spatially. kernel [out][in]; bias may be null; output clamped to [lo, hi].
  Value fully_connected(Value x, const float* kernel, const float* bias, int out, float lo, float hi);
  Value fully_connected(Value x, const float* kernel, const float* bias, int out, Act act);
  // A shared layer (not counted in bytes() or weight_floats()); act None or Hardswish.
  Value fully_connected(Value x, std::shared_ptr<SharedFullyConnected> fc, Act act);
  void multiply_channels(Value x, Value s);  // x[n,h,w,c] *= s[n,1,1,c], in place
  void add(Value x, Value y, Act act = Act::None);  // x = act(x + y) (same shape), in place; act None or Relu
  // k x k max pooling, stride s, padding p on each side (padding never wins the max).
  Value max_pool(Value x, int k, int stride, int pad);
  // k x k average pooling with stride k in ceil mode: a last, partial window averages over the
  // pixels it covers only (PyTorch's AvgPool2d(k, k, ceil_mode=True)).
  Value avg_pool_ceil(Value x, int k);
  // Ends a layer for per-layer timing: run() reports one time per mark, in mark order.
  void mark_layer();
  void set_output(Value v);

  int height(Value v) const;
  int width(Value v) const;
  int channels(Value v) const;
  size_t layer_count() const { return m_marks.size(); }
  // Bytes XNNPACK allocated for this graph's own packed weights and, after a run, its indirection
  // buffers (counted through dynn's XNNPACK allocator; an estimate from the weight sizes when
  // another component initialised XNNPACK with its own allocator first).
  size_t bytes() const { return m_bytes; }
  // Floats of the (folded, sliced) weights and biases this graph was built from (shared layers
  // not included).
  size_t weight_floats() const { return m_weight_floats; }
  // Activation floats per image in the workspace (the arena layout is fixed when building ends).
  size_t workspace_floats_per_image();

  // Sets the operators up for `batch` images in ws with pool (a no-op when nothing changed since
  // the last bind); run() binds itself, calling it ahead takes that cost out of the first run.
  void bind(Workspace& ws, const ThreadPool& pool, int64_t batch);
  // input: [batch, c, h, w] (NCHW, as users hand images); output: [batch, out] floats.
  // layer_seconds, when given, receives one wall time per mark_layer().
  void run(Workspace& ws, const ThreadPool& pool, const float* input_nchw, int64_t batch, float* output,
           std::vector<double>* layer_seconds = nullptr);

 private:
  struct ValueInfo {
    int h = 0, w = 0, c = 0;
    size_t offset = 0;  // per-image floats into the arena, once planned
    int first_op = -1, last_op = -1;
  };
  struct Op;
  Value new_value(int h, int w, int c);
  void use(Value v);
  void push_in_place(std::unique_ptr<Op> op, Value x, Value y);  // x op= y
  // Appends a conv op reading x ("same" padding) and its output value, then hardswish if act says so.
  Value push_conv(std::unique_ptr<Op> op, Value x, int out_c, int k, int stride, Act act);
  void plan_arena();
  void setup(Workspace& ws, const ThreadPool& pool, int64_t batch);
  float* at(Workspace& ws, Value v, int64_t batch) const;
  void check(Value v, const char* what) const;

  std::vector<ValueInfo> m_values;
  std::vector<std::unique_ptr<Op>> m_ops;
  std::vector<size_t> m_marks;  // op count at each mark
  Value m_input = -1, m_output = -1;
  bool m_planned = false;
  size_t m_arena_floats = 0;  // per image
  size_t m_bytes = 0;
  size_t m_weight_floats = 0;
  size_t m_deferred = 0;  // deferred convolutions not created yet
  // What the operators were last set up for.
  const float* m_base = nullptr;
  int64_t m_batch = 0;
  pthreadpool_t m_pool = nullptr;
  int m_pool_threads = 0;
  bool m_setup = false;
};

}  // namespace dynn::cpu
