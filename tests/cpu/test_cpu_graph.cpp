// dynn's CPU engine (lib/cpu) on its own, torch-free: every graph operation against a naive
// NHWC reference in double, batch sizes, thread pools, a head shared by two graphs running at
// once, and dynn's own depthwise loop and pointwise GEMM on every path (every pointwise kernel
// the CPU has). Also built for aarch64 and run under
// qemu-user (cmake/check-aarch64.sh).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "cpu/depthwise.hpp"
#include "cpu/pointwise.hpp"
#include "cpu/xnn_graph.hpp"

using namespace dynn::cpu;

namespace {

struct Tensor {  // NHWC
  size_t n = 0;
  int h = 0, w = 0, c = 0;
  std::vector<double> v;
  double& at(size_t b, int y, int x, int ch) { return v[((b * h + y) * w + x) * c + ch]; }
  double at(size_t b, int y, int x, int ch) const { return v[((b * h + y) * w + x) * c + ch]; }
};

Tensor make(size_t n, int h, int w, int c) { return Tensor{n, h, w, c, std::vector<double>(n * h * w * c, 0.0)}; }

double act(double x, Act a) {
  if (a == Act::Relu) return std::max(x, 0.0);
  if (a == Act::Hardswish) return x * std::min(std::max(x + 3.0, 0.0), 6.0) / 6.0;
  return x;
}

// kernel [groups][out/groups][k][k][in/groups], pad k/2.
Tensor conv(const Tensor& x, const std::vector<float>& kw, const std::vector<float>& bias, int out, int k, int stride,
            int groups, Act a) {
  const int oh = (x.h + 2 * (k / 2) - k) / stride + 1, ow = (x.w + 2 * (k / 2) - k) / stride + 1;
  const int ig = x.c / groups, og = out / groups;
  Tensor y = make(x.n, oh, ow, out);
  for (size_t b = 0; b < x.n; ++b)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox)
        for (int o = 0; o < out; ++o) {
          const int g = o / og;
          double s = bias.empty() ? 0.0 : bias[static_cast<size_t>(o)];
          for (int ky = 0; ky < k; ++ky)
            for (int kx = 0; kx < k; ++kx) {
              const int iy = oy * stride - k / 2 + ky, ix = ox * stride - k / 2 + kx;
              if (iy < 0 || iy >= x.h || ix < 0 || ix >= x.w) continue;
              for (int i = 0; i < ig; ++i)
                s += double(kw[static_cast<size_t>(((o * k + ky) * k + kx) * ig + i)]) * x.at(b, iy, ix, g * ig + i);
            }
          y.at(b, oy, ox, o) = act(s, a);
        }
  return y;
}

Tensor pool(const Tensor& x) {
  Tensor y = make(x.n, 1, 1, x.c);
  for (size_t b = 0; b < x.n; ++b)
    for (int ch = 0; ch < x.c; ++ch) {
      double s = 0;
      for (int i = 0; i < x.h; ++i)
        for (int j = 0; j < x.w; ++j) s += x.at(b, i, j, ch);
      y.at(b, 0, 0, ch) = s / (x.h * x.w);
    }
  return y;
}

Tensor fc(const Tensor& x, const std::vector<float>& kw, const std::vector<float>& bias, int out, double lo, double hi,
          Act a = Act::None) {
  Tensor y = make(x.n, 1, 1, out);
  for (size_t b = 0; b < x.n; ++b)
    for (int o = 0; o < out; ++o) {
      double s = bias.empty() ? 0.0 : bias[static_cast<size_t>(o)];
      for (int i = 0; i < x.c; ++i) s += double(kw[static_cast<size_t>(o * x.c + i)]) * x.at(b, 0, 0, i);
      y.at(b, 0, 0, o) = act(std::min(std::max(s, lo), hi), a);
    }
  return y;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

constexpr double kInf = std::numeric_limits<double>::infinity();

// A small network with every operation the MobileNetV3 engine uses, and its reference.
struct Net {
  std::vector<float> c1, b1, dw7, bdw7, dw3, bdw3, f1, bf1, f2, bf2, pw, bpw, out_w, out_b;
  std::shared_ptr<SharedFullyConnected> head;
  std::vector<float> head_w, head_b;
  Graph g;

  Net(uint32_t seed, std::shared_ptr<SharedFullyConnected> shared, std::vector<float> hw, std::vector<float> hb)
      : head(std::move(shared)), head_w(std::move(hw)), head_b(std::move(hb)) {
    std::mt19937 rng(seed);
    c1 = random_floats(16 * 3 * 3 * 3, rng, 0.4f), b1 = random_floats(16, rng, 0.1f);
    dw7 = random_floats(16 * 49, rng, 0.2f), bdw7 = random_floats(16, rng, 0.1f);
    dw3 = random_floats(16 * 9, rng, 0.3f), bdw3 = random_floats(16, rng, 0.1f);
    f1 = random_floats(8 * 16, rng, 0.5f), bf1 = random_floats(8, rng, 0.1f);
    f2 = random_floats(16 * 8, rng, 0.5f), bf2 = random_floats(16, rng, 0.5f);
    pw = random_floats(16 * 16, rng, 0.3f), bpw = random_floats(16, rng, 0.1f);
    out_w = random_floats(5 * 10, rng, 0.5f), out_b = random_floats(5, rng, 0.1f);
    Graph::Value x = g.input(11, 11, 3);
    Graph::Value a = g.conv(x, c1.data(), b1.data(), 16, 3, 2, 1, Act::Hardswish);
    Graph::Value b = g.depthwise(a, dw7.data(), bdw7.data(), 7, 1, Act::Relu);  // dynn's loop (49 taps)
    g.mark_layer();
    Graph::Value c = g.depthwise(b, dw3.data(), bdw3.data(), 3, 2, Act::None);
    Graph::Value z = g.fully_connected(g.global_avg_pool(c), f1.data(), bf1.data(), 8, Act::Relu);
    z = g.fully_connected(z, f2.data(), bf2.data(), 16, 0.f, 1.f);
    g.multiply_channels(c, z);
    Graph::Value d = g.conv(c, pw.data(), bpw.data(), 16, 1, 1, 1, Act::None);
    g.add(d, c);
    g.mark_layer();
    Graph::Value e = g.fully_connected(g.global_avg_pool(d), head, Act::Hardswish);
    e = g.fully_connected(e, out_w.data(), out_b.data(), 5, Act::None);
    g.mark_layer();
    g.set_output(e);
  }

  std::vector<double> reference(const std::vector<float>& nchw, size_t n) const {
    Tensor x = make(n, 11, 11, 3);
    for (size_t b = 0; b < n; ++b)
      for (int ch = 0; ch < 3; ++ch)
        for (int i = 0; i < 11; ++i)
          for (int j = 0; j < 11; ++j) x.at(b, i, j, ch) = nchw[((b * 3 + ch) * 11 + i) * 11 + j];
    Tensor a = conv(x, c1, b1, 16, 3, 2, 1, Act::Hardswish);
    Tensor b = conv(a, dw7, bdw7, 16, 7, 1, 16, Act::Relu);
    Tensor c = conv(b, dw3, bdw3, 16, 3, 2, 16, Act::None);
    Tensor z = fc(fc(pool(c), f1, bf1, 8, 0.0, kInf), f2, bf2, 16, 0.0, 1.0);
    for (size_t bb = 0; bb < n; ++bb)
      for (int i = 0; i < c.h; ++i)
        for (int j = 0; j < c.w; ++j)
          for (int ch = 0; ch < 16; ++ch) c.at(bb, i, j, ch) *= z.at(bb, 0, 0, ch);
    Tensor d = conv(c, pw, bpw, 16, 1, 1, 1, Act::None);
    for (size_t i = 0; i < d.v.size(); ++i) d.v[i] += c.v[i];
    Tensor e = fc(fc(pool(d), head_w, head_b, 10, -kInf, kInf, Act::Hardswish), out_w, out_b, 5, -kInf, kInf);
    return e.v;
  }
};

void check_close(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  double worst = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    REQUIRE(std::isfinite(got[i]));
    worst = std::max(worst, std::abs(got[i] - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  CHECK(worst <= 1e-4 * std::max(1.0, scale));
}

std::shared_ptr<SharedFullyConnected> make_head(std::vector<float>& w, std::vector<float>& b) {
  std::mt19937 rng(99);
  w = random_floats(10 * 16, rng, 0.5f);
  b = random_floats(10, rng, 0.1f);
  constexpr float inf = std::numeric_limits<float>::infinity();
  return std::make_shared<SharedFullyConnected>(16, 10, w.data(), b.data(), -inf, inf);
}

}  // namespace

TEST_CASE("a CPU graph matches the naive reference at every batch size and thread count", "[cpu]") {
  REQUIRE(available());
  std::vector<float> hw, hb;
  auto head = make_head(hw, hb);
  Net net(1, head, hw, hb);
  CHECK(net.g.layer_count() == 3);
  Workspace ws;
  ThreadPool one(1), two(2);
  std::mt19937 rng(7);
  for (size_t n : {1u, 3u, 1u}) {
    for (const ThreadPool* pool : {&one, &two}) {
      CAPTURE(n, pool->threads());
      const std::vector<float> x = random_floats(n * 3 * 11 * 11, rng, 1.f);
      std::vector<float> y(n * 5);
      std::vector<double> layers;
      net.g.run(ws, *pool, x.data(), static_cast<int64_t>(n), y.data(), &layers);
      check_close(y, net.reference(x, n));
      CHECK(layers.size() == 3);
    }
  }
  CHECK(net.g.weight_floats() > 0);
  CHECK(head->weight_floats() == 10 * 16 + 10);
}

TEST_CASE("two graphs sharing a head run at the same time and each gets its own result", "[cpu]") {
  std::vector<float> hw, hb;
  auto head = make_head(hw, hb);
  Net a(2, head, hw, hb), b(3, head, hw, hb);
  std::mt19937 rng(11);
  const std::vector<float> xa = random_floats(2 * 3 * 11 * 11, rng, 1.f), xb = random_floats(3 * 11 * 11, rng, 1.f);
  const std::vector<double> ra = a.reference(xa, 2), rb = b.reference(xb, 1);
  auto loop = [](Net& net, const std::vector<float>& x, size_t n, const std::vector<double>& want, int* bad) {
    Workspace ws;
    ThreadPool pool(1);
    std::vector<float> y(n * 5);
    for (int i = 0; i < 200; ++i) {
      net.g.run(ws, pool, x.data(), static_cast<int64_t>(n), y.data());
      for (size_t k = 0; k < y.size(); ++k)
        if (!(std::abs(y[k] - want[k]) <= 1e-4 * std::max(1.0, std::abs(want[k])))) ++*bad;
    }
  };
  int bad_a = 0, bad_b = 0;
  std::thread t(loop, std::ref(a), std::cref(xa), 2, std::cref(ra), &bad_a);
  loop(b, xb, 1, rb, &bad_b);
  t.join();
  CHECK(bad_a == 0);
  CHECK(bad_b == 0);
}

TEST_CASE("graph misuse is an error, not a crash", "[cpu]") {
  std::vector<float> hw, hb;
  auto head = make_head(hw, hb);
  Graph g;
  Graph::Value x = g.input(4, 4, 16);
  CHECK_THROWS(g.fully_connected(x, head, Act::None));  // not 1x1 spatially
  CHECK_THROWS(g.fully_connected(g.global_avg_pool(x), nullptr, Act::None));
  CHECK_THROWS(g.fully_connected(g.global_avg_pool(x), head, Act::Relu));
  Workspace ws;
  ThreadPool pool(1);
  std::vector<float> in(16 * 16), out(16);
  CHECK_THROWS(g.run(ws, pool, in.data(), 1, out.data()));  // no output set
  CHECK_THROWS(ThreadPool(0));
}

TEST_CASE("dynn's depthwise loop matches a naive convolution on every path", "[cpu]") {
  // Interior 8-pixel blocks (every k 3, 5, 7 at stride 1 and 2; they run on AVX-512) and 4-pixel
  // blocks and edge pixels, 16-channel blocks with 8- and 1-channel tails, images smaller than the
  // kernel, the clamp alone and followed by hardswish, batch 2, serial and on a 2-thread pool.
  ThreadPool pool(2);
  struct Case { int k, stride, c, h, w; bool hardswish; };
  for (const Case cs : {Case{7, 1, 144, 13, 11, false}, Case{7, 1, 40, 9, 29, true}, Case{7, 2, 40, 12, 15, false},
                        Case{7, 2, 16, 5, 45, true}, Case{7, 1, 27, 5, 4, false}, Case{5, 2, 19, 9, 9, false},
                        Case{5, 1, 32, 6, 30, true}, Case{5, 2, 17, 6, 41, false}, Case{3, 1, 40, 5, 29, true},
                        Case{3, 2, 24, 7, 41, true}, Case{7, 1, 8, 3, 3, false}, Case{3, 1, 1, 6, 7, true}}) {
    CAPTURE(cs.k, cs.stride, cs.c, cs.h, cs.w, cs.hardswish);
    DepthwiseParams p;
    p.k = cs.k, p.stride = cs.stride, p.pad = cs.k / 2, p.c = cs.c, p.lo = -0.5f, p.hi = 0.75f;
    if (cs.hardswish) p.hardswish = true, p.lo = -5.f, p.hi = 5.f;  // both of hardswish's bends inside
    const size_t taps = static_cast<size_t>(cs.k) * cs.k, c = static_cast<size_t>(cs.c);
    std::mt19937 rng(static_cast<unsigned>(cs.c * 31 + cs.k));
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    p.w.resize(taps * c);
    p.bias.resize(c);
    // Hardswish cases get weights large enough for sums beyond +-3, where its two bends are.
    const float scale = cs.hardswish ? 7.5f / static_cast<float>(cs.k) : 0.2f;
    for (float& v : p.w) v = u(rng) * scale;
    for (float& v : p.bias) v = u(rng) * 0.1f;
    const int oh = (cs.h + 2 * p.pad - cs.k) / cs.stride + 1, ow = (cs.w + 2 * p.pad - cs.k) / cs.stride + 1;
    const size_t batch = 2;
    std::vector<float> in(batch * cs.h * cs.w * c), want(batch * oh * ow * c);
    for (float& v : in) v = u(rng);
    for (size_t n = 0; n < batch; ++n)
      for (int y = 0; y < oh; ++y)
        for (int x = 0; x < ow; ++x)
          for (size_t ch = 0; ch < c; ++ch) {
            double a = p.bias[ch];
            for (int ky = 0; ky < cs.k; ++ky)
              for (int kx = 0; kx < cs.k; ++kx) {
                const int iy = y * cs.stride - p.pad + ky, ix = x * cs.stride - p.pad + kx;
                if (iy < 0 || iy >= cs.h || ix < 0 || ix >= cs.w) continue;
                a += double(p.w[static_cast<size_t>(ky * cs.k + kx) * c + ch]) *
                     in[((n * cs.h + static_cast<size_t>(iy)) * cs.w + static_cast<size_t>(ix)) * c + ch];
              }
            a = std::min(std::max(a, double(p.lo)), double(p.hi));
            if (cs.hardswish) a = a * std::min(std::max(a + 3.0, 0.0), 6.0) / 6.0;
            want[((n * oh + static_cast<size_t>(y)) * ow + static_cast<size_t>(x)) * c + ch] = static_cast<float>(a);
          }
    for (pthreadpool_t tp : {static_cast<pthreadpool_t>(nullptr), pool.get()}) {
      std::vector<float> got(want.size(), std::nanf(""));
      depthwise_nhwc(p, in.data(), got.data(), batch, cs.h, cs.w, oh, ow, tp);
      float worst = 0.f;
      for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
      CHECK(worst < 1e-5f);  // max() drops NaN, so unwritten pixels are checked on their own
      CHECK(std::none_of(got.begin(), got.end(), [](float v) { return std::isnan(v); }));
    }
  }
}

TEST_CASE("dynn's pointwise GEMM matches a naive 1x1 convolution with every kernel the CPU has", "[cpu]") {
  // Column panels full, padded (out_c not a multiple of 16 or 48) and single; pixel tiles full
  // and partial (fewer pixels than a tile); 1-2 pixels (the matrix-vector path of fully connected
  // layers, the classifier's shape among them); in_c 1 and odd; the clamp, hardswish and a
  // residual add in the stores; serial and on a 2-thread pool.
  ThreadPool pool(2);
  const std::vector<std::string> kernels = pointwise_kernels();
  REQUIRE(!kernels.empty());
  CHECK(kernels.back() == "baseline");
  struct Case { size_t pixels; int in_c, out_c; bool residual, hardswish; };
  for (const std::string& kernel : kernels)
    for (const Case cs : {Case{203, 17, 100, true, false}, Case{7, 160, 48, false, true}, Case{9, 1, 24, true, true},
                          Case{64, 40, 72, false, false}, Case{1, 96, 40, true, false}, Case{50, 3, 16, false, true},
                          Case{16, 24, 1, true, false}, Case{2, 203, 100, true, true}, Case{1, 1280, 1000, false, false}}) {
      CAPTURE(kernel, cs.pixels, cs.in_c, cs.out_c, cs.residual, cs.hardswish);
      std::mt19937 rng(static_cast<unsigned>(cs.in_c * 131 + cs.out_c));
      const std::vector<float> w = random_floats(static_cast<size_t>(cs.in_c) * cs.out_c, rng, 1.5f);
      const std::vector<float> bias = random_floats(static_cast<size_t>(cs.out_c), rng, 0.5f);
      const std::vector<float> in = random_floats(cs.pixels * cs.in_c, rng, 2.f);
      const std::vector<float> res = random_floats(cs.pixels * cs.out_c, rng, 1.f);
      PointwiseParams p;
      p.lo = cs.hardswish ? -4.f : -1.5f, p.hi = cs.hardswish ? 4.f : 2.5f, p.hardswish = cs.hardswish;
      pack_pointwise(p, cs.in_c, cs.out_c, w.data(), bias.data(), kernel);
      std::vector<float> want(cs.pixels * cs.out_c);
      for (size_t px = 0; px < cs.pixels; ++px)
        for (int o = 0; o < cs.out_c; ++o) {
          double a = bias[static_cast<size_t>(o)];
          for (int i = 0; i < cs.in_c; ++i) a += double(w[static_cast<size_t>(o) * cs.in_c + i]) * in[px * cs.in_c + i];
          if (cs.residual) a += res[px * cs.out_c + o];
          a = std::min(std::max(a, double(p.lo)), double(p.hi));
          want[px * cs.out_c + o] = static_cast<float>(cs.hardswish ? act(a, Act::Hardswish) : a);
        }
      for (pthreadpool_t tp : {static_cast<pthreadpool_t>(nullptr), pool.get()}) {
        std::vector<float> got(want.size(), std::nanf(""));
        pointwise_nhwc(p, in.data(), got.data(), cs.residual ? res.data() : nullptr, cs.pixels, tp);
        float worst = 0.f;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
        CHECK(worst < 2e-5f * std::sqrt(float(cs.in_c)) * 4.f);
        CHECK(std::none_of(got.begin(), got.end(), [](float v) { return std::isnan(v); }));
      }
    }
  PointwiseParams p;
  const float one = 1.f;
  CHECK_THROWS_WITH(pack_pointwise(p, 1, 1, &one, nullptr, "sve2"), Catch::Contains("'sve2' does not run on this CPU"));
  CHECK_THROWS(pack_pointwise(p, 0, 1, &one, nullptr));
  CHECK_THROWS(pointwise_nhwc(PointwiseParams{}, &one, nullptr, nullptr, 1, nullptr));  // never packed
}

TEST_CASE("dense k x k convolutions on the GEMM tiles match a naive convolution with every kernel", "[cpu]") {
  // k 3, 5, 7 at stride 1 and 2; 3 input channels (a stem) and odd ones; images smaller than the
  // kernel, odd sizes, batch 2; padded and full panels; the clamp, hardswish and a residual.
  ThreadPool pool(2);
  struct Case { int k, stride, in_c, out_c, h, w; bool residual, hardswish; };
  for (const std::string& kernel : pointwise_kernels())
    for (const Case cs : {Case{3, 2, 3, 16, 11, 9, true, true}, Case{3, 1, 17, 40, 7, 6, false, false},
                          Case{5, 2, 8, 100, 9, 10, true, false}, Case{7, 1, 5, 24, 4, 3, false, true},
                          Case{7, 2, 3, 48, 13, 12, false, false}, Case{3, 1, 64, 50, 5, 5, true, false}}) {
      CAPTURE(kernel, cs.k, cs.stride, cs.in_c, cs.out_c, cs.h, cs.w, cs.residual, cs.hardswish);
      std::mt19937 rng(static_cast<unsigned>(cs.k * 1000 + cs.in_c * 31 + cs.out_c));
      const size_t batch = 2, taps = static_cast<size_t>(cs.k) * cs.k;
      const std::vector<float> w = random_floats(static_cast<size_t>(cs.out_c) * taps * cs.in_c, rng, 0.5f);
      const std::vector<float> bias = random_floats(static_cast<size_t>(cs.out_c), rng, 0.5f);
      const std::vector<float> in = random_floats(batch * cs.h * cs.w * cs.in_c, rng, 1.5f);
      Tensor x = make(batch, cs.h, cs.w, cs.in_c);
      for (size_t i = 0; i < in.size(); ++i) x.v[i] = in[i];
      Tensor want = conv(x, w, bias, cs.out_c, cs.k, cs.stride, 1, Act::None);
      const std::vector<float> res = random_floats(want.v.size(), rng, 1.f);
      PointwiseParams p;
      p.lo = -2.5f, p.hi = 3.5f, p.hardswish = cs.hardswish;
      pack_conv(p, cs.in_c, cs.out_c, cs.k, cs.stride, w.data(), bias.data(), kernel);
      for (size_t i = 0; i < want.v.size(); ++i) {
        double a = want.v[i] + (cs.residual ? res[i] : 0.0);
        a = std::min(std::max(a, double(p.lo)), double(p.hi));
        want.v[i] = cs.hardswish ? act(a, Act::Hardswish) : a;
      }
      for (pthreadpool_t tp : {static_cast<pthreadpool_t>(nullptr), pool.get()}) {
        std::vector<float> got(want.v.size(), std::nanf(""));
        conv_nhwc(p, in.data(), got.data(), cs.residual ? res.data() : nullptr, batch, cs.h, cs.w, tp);
        double worst = 0;
        for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want.v[i]));
        CHECK(worst < 1e-4);
        CHECK(std::none_of(got.begin(), got.end(), [](float v) { return std::isnan(v); }));
      }
    }
  PointwiseParams p;
  const std::vector<float> one(81, 1.f);
  CHECK_THROWS(pack_conv(p, 1, 1, 9, 1, one.data(), nullptr));  // 81 taps: more than the tiles gather
  CHECK_THROWS(pack_conv(p, 1, 1, 2, 1, one.data(), nullptr));  // even: no "same" padding
  pack_conv(p, 1, 1, 3, 1, one.data(), nullptr);
  CHECK_THROWS(pointwise_nhwc(p, one.data(), nullptr, nullptr, 1, nullptr));  // a 3x3 needs conv_nhwc
}

TEST_CASE("a residual add goes into the 1x1 conv before it only when that conv has no activation", "[cpu]") {
  std::mt19937 rng(5);
  const int c = 20;
  const std::vector<float> w1 = random_floats(c * c, rng, 0.5f), b1 = random_floats(c, rng, 0.5f);
  const std::vector<float> w2 = random_floats(c * c, rng, 0.5f), b2 = random_floats(c, rng, 0.5f);
  Graph g;
  const Graph::Value x = g.input(3, 5, c);
  const Graph::Value a = g.conv(x, w1.data(), b1.data(), c, 1, 1, 1, Act::Relu);
  g.add(a, x);  // relu(conv) + x: not fusable
  const Graph::Value d = g.conv(a, w2.data(), b2.data(), c, 1, 1, 1, Act::None);
  g.add(d, a, Act::Relu);  // relu(conv + a): fused
  const Graph::Value e = g.conv(d, w2.data(), b2.data(), c, 1, 1, 1, Act::None);
  g.add(e, e);  // 2 * conv: the residual is the conv's own output, not fusable
  g.set_output(e);
  const size_t batch = 2;
  const std::vector<float> nchw = random_floats(batch * c * 15, rng, 1.f);
  Tensor tx = make(batch, 3, 5, c);
  for (size_t b = 0; b < batch; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int i = 0; i < 15; ++i) tx.at(b, i / 5, i % 5, ch) = nchw[(b * c + ch) * 15 + i];
  Tensor ta = conv(tx, w1, b1, c, 1, 1, 1, Act::Relu);
  for (size_t i = 0; i < ta.v.size(); ++i) ta.v[i] += tx.v[i];
  Tensor td = conv(ta, w2, b2, c, 1, 1, 1, Act::None);
  for (size_t i = 0; i < td.v.size(); ++i) td.v[i] = std::max(td.v[i] + ta.v[i], 0.0);
  Tensor te = conv(td, w2, b2, c, 1, 1, 1, Act::None);
  Workspace ws;
  ThreadPool pool(1);
  std::vector<float> out(batch * 15 * c);
  g.run(ws, pool, nchw.data(), static_cast<int64_t>(batch), out.data());
  double worst = 0;
  for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - 2 * te.v[i]));
  CHECK(worst < 1e-4);
}

TEST_CASE("max pooling, ceil-mode average pooling and add+relu match naive loops on odd sizes", "[cpu]") {
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int hw : {7, 8, 37}) {
    const int c = 5;
    const size_t batch = 2;
    Graph g;
    const Graph::Value in = g.input(hw, hw, c);
    const Graph::Value mp = g.max_pool(in, 3, 2, 1);
    const Graph::Value ap = g.avg_pool_ceil(mp, 2);
    const Graph::Value ap2 = g.avg_pool_ceil(mp, 2);
    g.add(ap, ap2, Act::Relu);  // relu(2 * avg)
    g.set_output(ap);
    const int mh = (hw + 2 - 3) / 2 + 1, oh = (mh + 1) / 2;
    REQUIRE(g.height(mp) == mh);
    REQUIRE(g.height(ap) == oh);
    std::vector<float> x(batch * static_cast<size_t>(c * hw * hw));
    for (auto& v : x) v = nd(rng);
    std::vector<float> y(batch * static_cast<size_t>(oh * oh * c));
    Workspace ws;
    ThreadPool pool(2);
    g.run(ws, pool, x.data(), static_cast<int64_t>(batch), y.data());  // NCHW in, NHWC out
    double worst = 0;
    for (size_t b = 0; b < batch; ++b)
      for (int ch = 0; ch < c; ++ch)
        for (int oy = 0; oy < oh; ++oy)
          for (int ox = 0; ox < oh; ++ox) {
            double sum = 0;
            int count = 0;
            for (int py = 2 * oy; py < std::min(2 * oy + 2, mh); ++py)
              for (int px = 2 * ox; px < std::min(2 * ox + 2, mh); ++px) {
                double m = -1e300;
                for (int ky = 0; ky < 3; ++ky)
                  for (int kx = 0; kx < 3; ++kx) {
                    const int iy = 2 * py - 1 + ky, ix = 2 * px - 1 + kx;
                    if (iy < 0 || ix < 0 || iy >= hw || ix >= hw) continue;
                    m = std::max(m, static_cast<double>(x[((b * c + static_cast<size_t>(ch)) * hw + iy) * hw + ix]));
                  }
                sum += m;
                ++count;
              }
            const double want = std::max(0.0, 2 * sum / count);
            const double got = y[((b * oh + static_cast<size_t>(oy)) * oh + static_cast<size_t>(ox)) * c + static_cast<size_t>(ch)];
            worst = std::max(worst, std::abs(got - want));
          }
    INFO("size " << hw);
    CHECK(worst < 1e-5);
  }
}
