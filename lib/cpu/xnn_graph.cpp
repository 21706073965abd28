#include "cpu/xnn_graph.hpp"

#include "cpu/depthwise.hpp"
#include "cpu/pointwise.hpp"

#include <pthread.h>
#include <sched.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <xnnpack.h>
#include <pthreadpool.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <system_error>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn::cpu {
namespace {

const char* status_name(xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown status";
}

void check_status(xnn_status s, const char* what) {
  if (s == xnn_status_success) return;
  throw Error(s == xnn_status_out_of_memory ? ErrorCode::OutOfMemory : ErrorCode::Backend,
              fmt::format("XNNPACK {} failed: {}", what, status_name(s)));
}

// XNNPACK allocations are counted against the graph being built or set up on this thread, so
// memory() reports what a prepared sub-network really holds.
thread_local size_t* t_counter = nullptr;
std::atomic<bool> g_counting{false};  // our allocator is the one XNNPACK uses

size_t usable(void* p) {
#ifdef __GLIBC__
  return p ? malloc_usable_size(p) : 0;
#else
  (void)p;
  return 0;
#endif
}
void count(void* p, bool add) {
  if (add) g_counting.store(true, std::memory_order_relaxed);
  if (!t_counter || !p) return;
  const size_t n = usable(p);
  *t_counter = add ? *t_counter + n : (*t_counter >= n ? *t_counter - n : 0);
}
void* xa_allocate(void*, size_t size) {
  void* p = std::malloc(size);
  count(p, true);
  return p;
}
void* xa_reallocate(void*, void* ptr, size_t size) {
  const size_t old = usable(ptr);
  void* p = std::realloc(ptr, size);
  if (p && t_counter) {
    const size_t now = usable(p);
    *t_counter = *t_counter + now >= old ? *t_counter + now - old : 0;
  }
  return p;
}
void xa_deallocate(void*, void* ptr) {
  count(ptr, false);
  std::free(ptr);
}
void* xa_aligned_allocate(void*, size_t alignment, size_t size) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max(alignment, sizeof(void*)), size) != 0) return nullptr;
  count(p, true);
  return p;
}
void xa_aligned_deallocate(void* c, void* ptr) { xa_deallocate(c, ptr); }

const xnn_allocator g_allocator{nullptr, xa_allocate, xa_reallocate, xa_deallocate, xa_aligned_allocate,
                                xa_aligned_deallocate};

struct Init {
  xnn_status status;
  Init() : status(xnn_initialize(&g_allocator)) {}
};
const Init& init() {
  static Init i;
  return i;
}

// Counts XNNPACK allocations on this thread into *c while alive.
struct CountInto {
  size_t* saved;
  explicit CountInto(size_t* c) : saved(t_counter) { t_counter = c; }
  ~CountInto() { t_counter = saved; }
};

}  // namespace

bool available() { return init().status == xnn_status_success; }

std::string unavailable_reason() {
  if (available()) return "";
  return fmt::format("XNNPACK failed to initialise on this CPU: {}", status_name(init().status));
}

void Workspace::Free::operator()(float* p) const { std::free(p); }

float* Workspace::reserve(size_t floats) {
  if (floats <= m_size && m_data) return m_data.get();
  void* p = nullptr;
  // 64-byte aligned, plus XNNPACK's documented slack: kernels may read up to 16 bytes past the end.
  if (posix_memalign(&p, 64, floats * sizeof(float) + 64) != 0 || !p)
    throw Error(ErrorCode::OutOfMemory, fmt::format("workspace of {} bytes: allocation failed", floats * sizeof(float)));
  m_data.reset(static_cast<float*>(p));
  m_size = floats;
  return m_data.get();
}

std::vector<uint64_t> ThreadPool::calling_thread_mask() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<uint64_t> m(CPU_SETSIZE / 64, 0);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return m;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) m[static_cast<size_t>(c / 64)] |= uint64_t{1} << (c % 64);
  return m;
}

ThreadPool::ThreadPool(int threads) : m_threads(threads), m_mask(calling_thread_mask()) {
  if (threads < 1) throw Error(ErrorCode::InvalidArgument, fmt::format("thread pool of {} threads", threads));
  if (threads == 1) return;
  // Workers inherit the creating thread's affinity (clone), which is the calling thread's.
  m_pool = pthreadpool_create(static_cast<size_t>(threads));
  if (!m_pool) throw Error(ErrorCode::OutOfMemory, fmt::format("pthreadpool_create({}) failed", threads));
}

ThreadPool::~ThreadPool() {
  if (m_pool) pthreadpool_destroy(m_pool);
}

void ThreadPool::release_workers() const {
  if (!m_pool) return;
  // An empty job over one item per thread (a single item would run inline) whose flag sends every
  // worker to its futex when done.
  pthreadpool_parallelize_1d(m_pool, [](void*, size_t) {}, nullptr, static_cast<size_t>(m_threads), PTHREADPOOL_FLAG_YIELD_WORKERS);
}

enum class Kind { Conv, Depthwise, Gemm, Hardswish, GlobalAvgPool, SharedFullyConnected, Multiply, Add, MaxPool, AvgPool };

// A dense conv created by create_deferred(): its shape and the function that writes its weights.
struct Deferred {
  Graph::Fill fill;
  int k = 1, stride = 1, in_c = 0, out_c = 0;
  float lo = 0, hi = 0;
};

struct Graph::Op {
  Kind kind;
  xnn_operator_t op = nullptr;
  std::unique_ptr<Deferred> deferred;  // Kind::Conv until create_deferred()
  Value in = -1, in2 = -1, out = -1;
  DepthwiseParams dw;                           // Kind::Depthwise (dynn's own loop)
  PointwiseParams pw;                           // Kind::Gemm (dense convs and FC on dynn's tiles); in2: its residual
  std::shared_ptr<SharedFullyConnected> shared;  // Kind::SharedFullyConnected
  float* x = nullptr;  // Kind::Depthwise, Gemm and SharedFullyConnected: their binding
  float* y = nullptr;
  float* residual = nullptr;
  size_t batch = 0;  // images; pixels for a 1x1 Gemm
  ~Op() {
    if (op) xnn_delete_operator(op);
  }
};

Graph::Graph() {
  if (!available()) throw Error(ErrorCode::Unsupported, unavailable_reason());
}
Graph::~Graph() = default;

void Graph::check(Value v, const char* what) const {
  if (v < 0 || static_cast<size_t>(v) >= m_values.size())
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: {} uses unknown value {}", what, v));
  if (m_planned) throw Error(ErrorCode::Internal, "cpu graph: built after its first run");
}

Graph::Value Graph::new_value(int h, int w, int c) {
  ValueInfo vi;
  vi.h = h, vi.w = w, vi.c = c;
  vi.first_op = static_cast<int>(m_ops.size());
  vi.last_op = vi.first_op;
  m_values.push_back(vi);
  return static_cast<Value>(m_values.size() - 1);
}

void Graph::use(Value v) { m_values[static_cast<size_t>(v)].last_op = static_cast<int>(m_ops.size()); }

int Graph::height(Value v) const { return m_values.at(static_cast<size_t>(v)).h; }
int Graph::width(Value v) const { return m_values.at(static_cast<size_t>(v)).w; }
int Graph::channels(Value v) const { return m_values.at(static_cast<size_t>(v)).c; }

Graph::Value Graph::input(int h, int w, int c) {
  if (m_input >= 0) throw Error(ErrorCode::Internal, "cpu graph: second input");
  m_input = new_value(h, w, c);
  return m_input;
}

namespace {
std::pair<float, float> range(Act a) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  return a == Act::Relu ? std::pair<float, float>{0.f, inf} : std::pair<float, float>{-inf, inf};
}

// Weights of a convolution: out_c filters of in_per_group x k x k.
size_t conv_weights(int out_c, int in_per_group, int k) {
  return static_cast<size_t>(out_c) * static_cast<size_t>(in_per_group) * static_cast<size_t>(k) * static_cast<size_t>(k);
}

// Dense (one group) convolutions run on dynn's own GEMM tiles (pointwise.hpp): 1x1 ones as a plain
// GEMM, k x k ones (k odd, up to 7) gathering each pixel's taps. A stem's few input channels
// leave too little work per gathered tap (MobileNetV3's 3-channel stem ran slower there than on
// XNNPACK), so thin inputs and grouped convolutions stay on XNNPACK.
bool own_gemm(int k, int stride, int groups, int in_c) {
  if (groups != 1) return false;
  return (k == 1 && stride == 1) || (k % 2 == 1 && k <= 7 && in_c >= 16);
}

void set_act(PointwiseParams& p, Act a) {
  std::tie(p.lo, p.hi) = range(a);
  p.hardswish = a == Act::Hardswish;
}

// A convolution with "same" padding (k/2 each side) in `groups` groups: XNNPACK packs the weights
// (copied; the buffers may go).
xnn_operator_t create_conv(const float* kernel, const float* bias, int in_c, int out_c, int k, int stride, int groups, float lo,
                           float hi) {
  const uint32_t pad = static_cast<uint32_t>(k / 2);
  xnn_operator_t op = nullptr;
  check_status(xnn_create_convolution2d_nhwc_f32(pad, pad, pad, pad, static_cast<uint32_t>(k), static_cast<uint32_t>(k),
                                                 static_cast<uint32_t>(stride), static_cast<uint32_t>(stride), 1, 1,
                                                 static_cast<uint32_t>(groups), static_cast<size_t>(in_c / groups),
                                                 static_cast<size_t>(out_c / groups), static_cast<size_t>(in_c),
                                                 static_cast<size_t>(out_c), kernel, bias, lo, hi, 0, &op),
               "convolution create");
  return op;
}
}  // namespace

Graph::Value Graph::conv(Value x, const float* kernel, const float* bias, int out_c, int k, int stride, int groups,
                         Act act) {
  check(x, "conv");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  if (groups < 1 || in.c % groups || out_c % groups)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: conv {}->{} channels in {} groups", in.c, out_c, groups));
  const auto [lo, hi] = range(act);
  const uint32_t pad = static_cast<uint32_t>(k / 2);
  auto op = std::make_unique<Op>();
  op->kind = Kind::Conv;
  if (groups == in.c && out_c == groups && depthwise_preferred(k, stride)) {
    op->kind = Kind::Depthwise;
    DepthwiseParams& d = op->dw;
    d.k = k, d.stride = stride, d.pad = static_cast<int>(pad), d.c = out_c, d.lo = lo, d.hi = hi;
    d.hardswish = act == Act::Hardswish;
    act = Act::None;  // applied by the loop's stores
    const size_t taps = static_cast<size_t>(k) * k, c = static_cast<size_t>(out_c);
    d.w.resize(taps * c);
    for (size_t ch = 0; ch < c; ++ch)
      for (size_t t = 0; t < taps; ++t) d.w[t * c + ch] = kernel[ch * taps + t];
    d.bias.assign(c, 0.f);
    if (bias) std::copy(bias, bias + c, d.bias.begin());
    m_weight_floats += taps * c + (bias ? c : 0);
    m_bytes += (d.w.capacity() + d.bias.capacity()) * sizeof(float);
  } else if (own_gemm(k, stride, groups, in.c)) {
    op->kind = Kind::Gemm;
    set_act(op->pw, act);
    act = Act::None;  // applied by the kernel's stores
    pack_conv(op->pw, in.c, out_c, k, stride, kernel, bias);
    m_weight_floats += conv_weights(out_c, in.c, k) + (bias ? static_cast<size_t>(out_c) : 0);
    m_bytes += op->pw.bytes();
  } else {
    CountInto c(&m_bytes);
    op->op = create_conv(kernel, bias, in.c, out_c, k, stride, groups, lo, hi);
    const size_t weights = conv_weights(out_c, in.c / groups, k);
    m_weight_floats += weights + (bias ? static_cast<size_t>(out_c) : 0);
    if (!g_counting) m_bytes += (weights + static_cast<size_t>(out_c)) * sizeof(float);
  }
  return push_conv(std::move(op), x, out_c, k, stride, act);
}

Graph::Value Graph::push_conv(std::unique_ptr<Op> op, Value x, int out_c, int k, int stride, Act act) {
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  use(x);
  op->in = x;
  const int pad = k / 2;
  const int oh = (in.h + 2 * pad - k) / stride + 1, ow = (in.w + 2 * pad - k) / stride + 1;
  op->out = new_value(oh, ow, out_c);
  const Value y = op->out;
  m_ops.push_back(std::move(op));
  if (act == Act::Hardswish) hardswish(y);
  return y;
}

Graph::Value Graph::conv_deferred(Value x, Fill fill, int out_c, int k, int stride, Act act) {
  check(x, "conv");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  if (out_c < 1 || k < 1 || stride < 1 || !fill)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: deferred conv {}->{} k {} stride {}", in.c, out_c, k, stride));
  const auto [lo, hi] = range(act);
  auto op = std::make_unique<Op>();
  op->kind = Kind::Conv;
  if (own_gemm(k, stride, 1, in.c)) {
    op->kind = Kind::Gemm;
    set_act(op->pw, act);
    act = Act::None;  // applied by the kernel's stores
  }
  op->deferred = std::make_unique<Deferred>(Deferred{std::move(fill), k, stride, in.c, out_c, lo, hi});
  m_weight_floats += conv_weights(out_c, in.c, k) + static_cast<size_t>(out_c);
  ++m_deferred;
  return push_conv(std::move(op), x, out_c, k, stride, act);
}

void Graph::create_deferred(int threads) {
  std::vector<Op*> todo;
  for (auto& op : m_ops)
    if (op->deferred) todo.push_back(op.get());
  // Largest first, so the threads finish together.
  auto size = [](const Op* o) { return conv_weights(o->deferred->out_c, o->deferred->in_c, o->deferred->k); };
  std::stable_sort(todo.begin(), todo.end(), [&](const Op* a, const Op* b) { return size(a) > size(b); });
  std::atomic<size_t> next{0};
  std::vector<size_t> counted(static_cast<size_t>(std::max(1, threads)), 0);
  std::mutex error_mutex;
  std::exception_ptr error;
  auto work = [&](size_t t) {
    std::vector<float> kernel, bias;
    CountInto c(&counted[t]);
    for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
      try {
        Deferred& d = *todo[i]->deferred;
        d.fill(kernel, bias);
        const size_t want = conv_weights(d.out_c, d.in_c, d.k);
        if (kernel.size() != want || bias.size() != static_cast<size_t>(d.out_c))
          throw Error(ErrorCode::Internal, fmt::format("cpu graph: deferred conv got {} weights and {} biases, wants {} and {}",
                                                       kernel.size(), bias.size(), want, d.out_c));
        if (todo[i]->kind == Kind::Gemm)
          pack_conv(todo[i]->pw, d.in_c, d.out_c, d.k, d.stride, kernel.data(), bias.data());
        else
          todo[i]->op = create_conv(kernel.data(), bias.data(), d.in_c, d.out_c, d.k, d.stride, 1, d.lo, d.hi);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next.store(todo.size());  // the others stop at their next op
      }
    }
  };
  const size_t n = std::min(static_cast<size_t>(std::max(1, threads)), todo.size());
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < n; ++t) {
    try {
      helpers.emplace_back(work, t);
    } catch (const std::system_error&) {  // no thread: the calling one does the rest
      break;
    }
  }
  work(0);
  for (auto& h : helpers) h.join();
  if (error) std::rethrow_exception(error);  // the ops created so far are freed with the graph
  for (const Op* o : todo)
    if (o->kind == Kind::Gemm) m_bytes += o->pw.bytes();
  if (g_counting) {
    for (size_t v : counted) m_bytes += v;
  } else {  // another allocator: estimate XNNPACK's from the weights, as conv() does
    for (const Op* o : todo)
      if (o->kind != Kind::Gemm) m_bytes += (size(o) + static_cast<size_t>(o->deferred->out_c)) * sizeof(float);
  }
  for (Op* o : todo) o->deferred.reset();
  m_deferred = 0;
}

void Graph::hardswish(Value x) {
  check(x, "hardswish");
  const int c = m_values[static_cast<size_t>(x)].c;
  auto op = std::make_unique<Op>();
  op->kind = Kind::Hardswish;
  {
    CountInto cnt(&m_bytes);
    check_status(xnn_create_hardswish_nc_f32(static_cast<size_t>(c), static_cast<size_t>(c), static_cast<size_t>(c), 0, &op->op),
                 "hardswish create");
  }
  use(x);
  op->in = op->out = x;
  m_ops.push_back(std::move(op));
}

Graph::Value Graph::global_avg_pool(Value x) {
  check(x, "global_avg_pool");
  const int c = m_values[static_cast<size_t>(x)].c;
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto op = std::make_unique<Op>();
  op->kind = Kind::GlobalAvgPool;
  {
    CountInto cnt(&m_bytes);
    check_status(xnn_create_global_average_pooling_nwc_f32(static_cast<size_t>(c), static_cast<size_t>(c),
                                                           static_cast<size_t>(c), -inf, inf, 0, &op->op),
                 "global average pooling create");
  }
  use(x);
  op->in = x;
  op->out = new_value(1, 1, c);
  m_ops.push_back(std::move(op));
  return m_ops.back()->out;
}

Graph::Value Graph::fully_connected(Value x, const float* kernel, const float* bias, int out, float lo, float hi) {
  check(x, "fully_connected");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  if (in.h != 1 || in.w != 1)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: fully connected on a {}x{} input", in.h, in.w));
  // A 1x1 convolution of a 1x1 image: dynn's pointwise kernel, one matrix-vector product per image.
  auto op = std::make_unique<Op>();
  op->kind = Kind::Gemm;
  op->pw.lo = lo, op->pw.hi = hi;
  pack_pointwise(op->pw, in.c, out, kernel, bias);
  m_weight_floats += static_cast<size_t>(in.c) * static_cast<size_t>(out) + (bias ? static_cast<size_t>(out) : 0);
  m_bytes += op->pw.bytes();
  use(x);
  op->in = x;
  op->out = new_value(1, 1, out);
  m_ops.push_back(std::move(op));
  return m_ops.back()->out;
}

SharedFullyConnected::SharedFullyConnected(int in, int out, const float* kernel, const float* bias, float lo, float hi)
    : m_pw(std::make_unique<PointwiseParams>()) {
  m_pw->lo = lo, m_pw->hi = hi;
  pack_pointwise(*m_pw, in, out, kernel, bias);
  m_weight_floats = static_cast<size_t>(in) * static_cast<size_t>(out) + (bias ? static_cast<size_t>(out) : 0);
}

SharedFullyConnected::~SharedFullyConnected() = default;

int SharedFullyConnected::in() const { return m_pw->in_c; }
int SharedFullyConnected::out() const { return m_pw->out_c; }
size_t SharedFullyConnected::bytes() const { return m_pw->bytes(); }

void SharedFullyConnected::run(const float* x, float* y, size_t batch, pthreadpool_t pool) const {
  pointwise_nhwc(*m_pw, x, y, nullptr, batch, pool);
}

Graph::Value Graph::fully_connected(Value x, std::shared_ptr<SharedFullyConnected> fc, Act act) {
  check(x, "fully_connected");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  if (!fc || in.h != 1 || in.w != 1 || in.c != fc->in() || act == Act::Relu)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: shared fully connected on a {}x{}x{} input", in.h, in.w, in.c));
  auto op = std::make_unique<Op>();
  op->kind = Kind::SharedFullyConnected;
  const int out = fc->out();
  op->shared = std::move(fc);
  use(x);
  op->in = x;
  op->out = new_value(1, 1, out);
  m_ops.push_back(std::move(op));
  const Value y = m_ops.back()->out;
  if (act == Act::Hardswish) hardswish(y);
  return y;
}

Graph::Value Graph::fully_connected(Value x, const float* kernel, const float* bias, int out, Act act) {
  if (act == Act::Hardswish) {
    const Value y = fully_connected(x, kernel, bias, out, range(Act::None).first, range(Act::None).second);
    hardswish(y);
    return y;
  }
  const auto [lo, hi] = range(act);
  return fully_connected(x, kernel, bias, out, lo, hi);
}

void Graph::multiply_channels(Value x, Value s) {
  check(x, "multiply_channels");
  check(s, "multiply_channels");
  if (m_values[static_cast<size_t>(s)].c != m_values[static_cast<size_t>(x)].c || m_values[static_cast<size_t>(s)].h != 1)
    throw Error(ErrorCode::Internal, "cpu graph: channel scale of another width");
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto op = std::make_unique<Op>();
  op->kind = Kind::Multiply;
  {
    CountInto c(&m_bytes);
    check_status(xnn_create_multiply_nd_f32(-inf, inf, 0, &op->op), "multiply create");
  }
  push_in_place(std::move(op), x, s);
}

void Graph::add(Value x, Value y, Act act) {
  check(x, "add");
  check(y, "add");
  const ValueInfo &a = m_values[static_cast<size_t>(x)], &b = m_values[static_cast<size_t>(y)];
  if (a.h != b.h || a.w != b.w || a.c != b.c)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: add of {}x{}x{} and {}x{}x{}", a.h, a.w, a.c, b.h, b.w, b.c));
  if (act == Act::Hardswish) throw Error(ErrorCode::Internal, "cpu graph: add with hardswish");
  // A residual add right after the pointwise conv that produced x (without an activation of its
  // own) goes into that conv's stores: out = act(conv + y), no pass of its own.
  if (!m_ops.empty() && x != y) {
    Op& last = *m_ops.back();
    if (last.kind == Kind::Gemm && last.out == x && last.in2 < 0 && !last.pw.hardswish &&
        last.pw.lo == -std::numeric_limits<float>::infinity() && last.pw.hi == std::numeric_limits<float>::infinity()) {
      last.in2 = y;
      set_act(last.pw, act);
      use(x);
      use(y);
      return;
    }
  }
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto op = std::make_unique<Op>();
  op->kind = Kind::Add;
  {
    CountInto c(&m_bytes);
    check_status(xnn_create_add_nd_f32(act == Act::Relu ? 0.f : -inf, inf, 0, &op->op), "add create");
  }
  push_in_place(std::move(op), x, y);
}

Graph::Value Graph::max_pool(Value x, int k, int stride, int pad) {
  check(x, "max_pool");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  const int oh = (in.h + 2 * pad - k) / stride + 1, ow = (in.w + 2 * pad - k) / stride + 1;
  if (k < 1 || stride < 1 || pad < 0 || pad >= k || oh < 1 || ow < 1)
    throw Error(ErrorCode::Internal, fmt::format("cpu graph: max pool k {} stride {} pad {} on {}x{}", k, stride, pad, in.h, in.w));
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto op = std::make_unique<Op>();
  op->kind = Kind::MaxPool;
  {
    CountInto c(&m_bytes);
    const auto p = static_cast<uint32_t>(pad), kk = static_cast<uint32_t>(k), st = static_cast<uint32_t>(stride);
    const auto ch = static_cast<size_t>(in.c);
    check_status(xnn_create_max_pooling2d_nhwc_f32(p, p, p, p, kk, kk, st, st, 1, 1, ch, ch, ch, -inf, inf, 0, &op->op),
                 "max pooling create");
  }
  use(x);
  op->in = x;
  op->out = new_value(oh, ow, in.c);
  m_ops.push_back(std::move(op));
  return m_ops.back()->out;
}

Graph::Value Graph::avg_pool_ceil(Value x, int k) {
  check(x, "avg_pool_ceil");
  const ValueInfo in = m_values[static_cast<size_t>(x)];
  if (k < 1) throw Error(ErrorCode::Internal, fmt::format("cpu graph: average pool k {}", k));
  if (k == 1) return x;
  // Ceil mode as bottom/right padding that XNNPACK leaves out of each window's divisor.
  const auto pad_b = static_cast<uint32_t>((k - in.h % k) % k), pad_r = static_cast<uint32_t>((k - in.w % k) % k);
  constexpr float inf = std::numeric_limits<float>::infinity();
  auto op = std::make_unique<Op>();
  op->kind = Kind::AvgPool;
  {
    CountInto c(&m_bytes);
    const auto kk = static_cast<uint32_t>(k);
    const auto ch = static_cast<size_t>(in.c);
    check_status(xnn_create_average_pooling2d_nhwc_f32(0, pad_r, pad_b, 0, kk, kk, kk, kk, ch, ch, ch, -inf, inf, 0, &op->op),
                 "average pooling create");
  }
  use(x);
  op->in = x;
  op->out = new_value((in.h + k - 1) / k, (in.w + k - 1) / k, in.c);
  m_ops.push_back(std::move(op));
  return m_ops.back()->out;
}

void Graph::push_in_place(std::unique_ptr<Op> op, Value x, Value y) {
  use(x);
  use(y);
  op->in = op->out = x;
  op->in2 = y;
  m_ops.push_back(std::move(op));
}

void Graph::mark_layer() { m_marks.push_back(m_ops.size()); }

void Graph::set_output(Value v) {
  check(v, "set_output");
  m_output = v;
}

// Offsets (per image) for every value, reusing the space of values no longer needed: first fit
// among the values alive at each value's birth. In-place ops keep their input's value.
void Graph::plan_arena() {
  if (m_planned) return;
  if (m_input < 0 || m_output < 0) throw Error(ErrorCode::Internal, "cpu graph: no input or output");
  m_values[static_cast<size_t>(m_output)].last_op = static_cast<int>(m_ops.size());  // read after the last op
  std::vector<Value> order(m_values.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<Value>(i);
  std::vector<Value> placed;
  m_arena_floats = 0;
  // Sizes rounded up to 16 floats keep every value 64-byte aligned at any batch size.
  auto rounded = [](const ValueInfo& vi) { return (static_cast<size_t>(vi.h) * vi.w * vi.c + 15) / 16 * 16; };
  for (Value v : order) {
    ValueInfo& vi = m_values[static_cast<size_t>(v)];
    const size_t size = rounded(vi);
    // Alive together: lifetimes [first_op, last_op] overlap.
    std::vector<std::pair<size_t, size_t>> busy;
    for (Value p : placed) {
      const ValueInfo& pi = m_values[static_cast<size_t>(p)];
      if (pi.last_op >= vi.first_op && pi.first_op <= vi.last_op) busy.emplace_back(pi.offset, pi.offset + rounded(pi));
    }
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& [b, e] : busy) {
      if (off + size <= b) break;
      off = std::max(off, e);
    }
    vi.offset = off;
    m_arena_floats = std::max(m_arena_floats, off + size);
    placed.push_back(v);
  }
  m_planned = true;
}

size_t Graph::workspace_floats_per_image() {
  plan_arena();
  return m_arena_floats;
}

float* Graph::at(Workspace& ws, Value v, int64_t batch) const {
  return ws.reserve(m_arena_floats * static_cast<size_t>(batch)) + m_values[static_cast<size_t>(v)].offset * static_cast<size_t>(batch);
}

void Graph::setup(Workspace& ws, const ThreadPool& pool, int64_t batch) {
  if (m_deferred) throw Error(ErrorCode::Internal, fmt::format("cpu graph: {} deferred convolutions not created", m_deferred));
  const size_t n = static_cast<size_t>(batch);
  CountInto c(&m_bytes);  // indirection buffers of the first setup belong to this graph
  for (auto& op : m_ops) {
    const ValueInfo& in = m_values[static_cast<size_t>(op->in)];
    float* x = at(ws, op->in, batch);
    float* y = at(ws, op->out, batch);
    const size_t pixels = n * static_cast<size_t>(in.h) * in.w;
    switch (op->kind) {
      case Kind::Depthwise:
      case Kind::SharedFullyConnected:
        op->x = x, op->y = y, op->batch = n;
        break;
      case Kind::Gemm:  // pixels for a 1x1 conv, images for a k x k or strided one
        op->x = x, op->y = y, op->batch = op->pw.k == 1 && op->pw.stride == 1 ? pixels : n;
        op->residual = op->in2 >= 0 ? at(ws, op->in2, batch) : nullptr;
        break;
      case Kind::Conv:
        check_status(xnn_setup_convolution2d_nhwc_f32(op->op, n, static_cast<size_t>(in.h), static_cast<size_t>(in.w), x, y,
                                                      pool.get()),
                     "convolution setup");
        break;
      case Kind::Hardswish:
        check_status(xnn_setup_hardswish_nc_f32(op->op, pixels, x, y, pool.get()), "hardswish setup");
        break;
      case Kind::GlobalAvgPool:
        check_status(xnn_setup_global_average_pooling_nwc_f32(op->op, n, static_cast<size_t>(in.h) * in.w, x, y, pool.get()),
                     "global average pooling setup");
        break;
      case Kind::Multiply: {
        const size_t a[3] = {n, static_cast<size_t>(in.h) * in.w, static_cast<size_t>(in.c)};
        const size_t b[3] = {n, 1, static_cast<size_t>(in.c)};
        check_status(xnn_setup_multiply_nd_f32(op->op, 3, a, 3, b, x, at(ws, op->in2, batch), y, pool.get()),
                     "multiply setup");
        break;
      }
      case Kind::MaxPool:
        check_status(xnn_setup_max_pooling2d_nhwc_f32(op->op, n, static_cast<size_t>(in.h), static_cast<size_t>(in.w), x, y,
                                                      pool.get()),
                     "max pooling setup");
        break;
      case Kind::AvgPool:
        check_status(xnn_setup_average_pooling2d_nhwc_f32(op->op, n, static_cast<size_t>(in.h), static_cast<size_t>(in.w), x,
                                                          y, pool.get()),
                     "average pooling setup");
        break;
      case Kind::Add: {
        const size_t a[1] = {pixels * static_cast<size_t>(in.c)};
        check_status(xnn_setup_add_nd_f32(op->op, 1, a, 1, a, x, at(ws, op->in2, batch), y, pool.get()), "add setup");
        break;
      }
    }
  }
}

void Graph::bind(Workspace& ws, const ThreadPool& pool, int64_t batch) {
  plan_arena();
  if (batch < 1) throw Error(ErrorCode::InvalidArgument, fmt::format("cpu graph: batch {}", batch));
  // The operators hold pointers into the arena: only its address matters, not which Workspace.
  const float* base = ws.reserve(m_arena_floats * static_cast<size_t>(batch));
  if (m_setup && m_base == base && m_batch == batch && m_pool == pool.get() && m_pool_threads == pool.threads()) return;
  m_setup = false;
  setup(ws, pool, batch);
  m_base = base;
  m_batch = batch;
  m_pool = pool.get();
  m_pool_threads = pool.threads();
  m_setup = true;
}

void Graph::run(Workspace& ws, const ThreadPool& pool, const float* input, int64_t batch, float* output,
                std::vector<double>* layer_seconds) {
  bind(ws, pool, batch);
  // NCHW -> NHWC into the input value, one image row per task: on the pool, so that waking its
  // workers (they sleep between inferences) overlaps this pass; the calling thread takes every
  // row a late worker has not started.
  const ValueInfo& in = m_values[static_cast<size_t>(m_input)];
  struct Transpose {
    const float* src;
    float* dst;
    size_t h, w, c;
  } t{input, at(ws, m_input, batch), static_cast<size_t>(in.h), static_cast<size_t>(in.w), static_cast<size_t>(in.c)};
  pthreadpool_parallelize_1d(
      pool.get(),
      [](void* ctx, size_t row) {
        const Transpose& t = *static_cast<const Transpose*>(ctx);
        const size_t hw = t.h * t.w, image = row / t.h, first = (row % t.h) * t.w;
        const float* src = t.src + image * t.c * hw + first;
        float* dst = t.dst + (image * hw + first) * t.c;
        for (size_t i = 0; i < t.w; ++i)
          for (size_t ch = 0; ch < t.c; ++ch) dst[i * t.c + ch] = src[ch * hw + i];
      },
      &t, static_cast<size_t>(batch) * t.h, 0);
  using Clock = std::chrono::steady_clock;
  if (layer_seconds) layer_seconds->clear();
  auto last = Clock::now();
  size_t mark = 0;
  for (size_t i = 0; i < m_ops.size(); ++i) {
    const Op& op = *m_ops[i];
    if (op.kind == Kind::Depthwise) {
      const ValueInfo &a = m_values[static_cast<size_t>(op.in)], &b = m_values[static_cast<size_t>(op.out)];
      depthwise_nhwc(op.dw, op.x, op.y, op.batch, a.h, a.w, b.h, b.w, pool.get());
    } else if (op.kind == Kind::Gemm) {
      if (op.pw.k == 1 && op.pw.stride == 1) {
        pointwise_nhwc(op.pw, op.x, op.y, op.residual, op.batch, pool.get());
      } else {
        const ValueInfo& a = m_values[static_cast<size_t>(op.in)];
        conv_nhwc(op.pw, op.x, op.y, op.residual, op.batch, a.h, a.w, pool.get());
      }
    } else if (op.kind == Kind::SharedFullyConnected) {
      op.shared->run(op.x, op.y, op.batch, pool.get());
    } else {
      check_status(xnn_run_operator(op.op, pool.get()), "run");
    }
    if (layer_seconds) {
      while (mark < m_marks.size() && m_marks[mark] == i + 1) {
        const auto now = Clock::now();
        layer_seconds->push_back(std::chrono::duration<double>(now - last).count());
        last = now;
        ++mark;
      }
    }
  }
  const ValueInfo& out = m_values[static_cast<size_t>(m_output)];
  std::memcpy(output, at(ws, m_output, batch),
              static_cast<size_t>(batch) * out.h * out.w * out.c * sizeof(float));
}

}  // namespace dynn::cpu
