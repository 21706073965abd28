// Prototype, timing only: an OFA MobileNetV3 w1.0 sub-network as oneDNN primitives used directly
// (what issue "CPU engine" asked to compare with XNNPACK before choosing). Same shapes as dynn's
// engine builds; random weights (speed does not depend on the values); every fusion oneDNN 2.6
// offers: conv + BN folded (bias) + ReLU/hardswish post-op (activations NHWC: oneDNN 2.6 has its
// brgemm kernels for NHWC and falls back to reference code when layouts are mixed), the residual add as a sum post-op
// into the shortcut's buffer, SE as global pooling + two inner products (ReLU; linear + clip for
// hardsigmoid) + an in-place binary multiply; weight layouts chosen by oneDNN.
//
//   bench_onednn_proto [--threads N] [--reps N]     (three nets: max224, mid192, min128; batch 1)
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

int make_divisible(double v, int d = 8) {
  int n = std::max(d, static_cast<int>(v + d / 2.0) / d * d);
  if (n < 0.9 * v) n += d;
  return n;
}

struct Net {
  engine eng{engine::kind::cpu, 0};
  std::vector<std::pair<primitive, std::unordered_map<int, memory>>> steps;
  uint32_t seed = 1;

  memory filled(const memory::desc& md) {
    memory m(md, eng);
    float* p = static_cast<float*>(m.get_data_handle());
    // A cheap hash in [-0.05, 0.05): the build time should not be the fill's.
    for (size_t i = 0; i < md.get_size() / sizeof(float); ++i)
      p[i] = static_cast<float>((static_cast<uint32_t>(i * 2654435761u + seed) >> 8) & 1023) / 10240.f - 0.05f;
    seed += 12345;
    return m;
  }
  // Weights given in plain layout, reordered once into what the primitive chose.
  memory weights(const memory::desc& want, const memory::dims& dims, tag plain) {
    memory user = filled(memory::desc(dims, dt::f32, plain));
    memory w(want, eng);
    stream s(eng);
    reorder(user, w).execute(s, user, w);
    s.wait();
    return w;
  }
  enum Act { None, Relu, Hswish };
  static void act(post_ops& po, Act a) {
    if (a == Relu) po.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    if (a == Hswish) po.append_eltwise(1.f, algorithm::eltwise_hardswish, 0.f, 0.f);
  }

  // conv k x k, groups g; dst either new (format any) or `into` (sum post-op: into += conv(x)).
  memory conv(const memory& x, int cout, int k, int stride, int groups, Act a, const memory* into = nullptr) {
    const memory::desc xd = x.get_desc();
    const auto d = xd.dims();
    const int cin = static_cast<int>(d[1]);
    const memory::dim oh = (d[2] + 2 * (k / 2) - k) / stride + 1, ow = (d[3] + 2 * (k / 2) - k) / stride + 1;
    memory::dims wdims = groups == 1 ? memory::dims{cout, cin, k, k}
                                     : memory::dims{groups, cout / groups, cin / groups, k, k};
    memory::desc wd(wdims, dt::f32, tag::any), bd({cout}, dt::f32, tag::x);
    memory::desc yd = into ? into->get_desc() : memory::desc({d[0], cout, oh, ow}, dt::f32, tag::nhwc);
    convolution_forward::desc cd(prop_kind::forward_inference, algorithm::convolution_direct, xd, wd, bd, yd,
                                 {stride, stride}, {k / 2, k / 2}, {k / 2, k / 2});
    post_ops po;
    if (into) po.append_sum(1.f);
    act(po, a);
    primitive_attr attr;
    attr.set_post_ops(po);
    convolution_forward::primitive_desc pd(cd, attr, eng);
    memory w = weights(pd.weights_desc(), wdims, groups == 1 ? tag::oihw : tag::goihw);
    memory b = filled(pd.bias_desc());
    memory y = into ? *into : memory(pd.dst_desc(), eng);
    steps.push_back({convolution_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}}});
    return y;
  }
  memory pool(const memory& x) {
    const auto d = x.get_desc().dims();
    memory::desc yd({d[0], d[1], 1, 1}, dt::f32, tag::any);
    pooling_forward::desc pdsc(prop_kind::forward_inference, algorithm::pooling_avg_exclude_padding, x.get_desc(), yd,
                               {1, 1}, {d[2], d[3]}, {0, 0}, {0, 0});
    pooling_forward::primitive_desc pd(pdsc, eng);
    memory y(pd.dst_desc(), eng);
    steps.push_back({pooling_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}}});
    return y;
  }
  // Inner product on [N, C(,1,1)] -> [N, out]; hsig: linear(1/6, 1/2) + clip(0, 1) as post-ops.
  memory fc(const memory& x, int out, Act a, bool hsig = false) {
    const auto d = x.get_desc().dims();
    memory::dims wdims = d.size() == 4 ? memory::dims{out, d[1], 1, 1} : memory::dims{out, d[1]};
    memory::desc wd(wdims, dt::f32, tag::any), bd({out}, dt::f32, tag::x), yd({d[0], out}, dt::f32, tag::any);
    inner_product_forward::desc ipd(prop_kind::forward_inference, x.get_desc(), wd, bd, yd);
    post_ops po;
    act(po, a);
    if (hsig) {
      po.append_eltwise(1.f, algorithm::eltwise_linear, 1.f / 6.f, 0.5f);
      po.append_eltwise(1.f, algorithm::eltwise_clip, 0.f, 1.f);
    }
    primitive_attr attr;
    attr.set_post_ops(po);
    inner_product_forward::primitive_desc pd(ipd, attr, eng);
    memory w = weights(pd.weights_desc(), wdims, d.size() == 4 ? tag::oihw : tag::oi);
    memory b = filled(pd.bias_desc());
    memory y(pd.dst_desc(), eng);
    steps.push_back({inner_product_forward(pd), {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}}});
    return y;
  }
  // x *= s (per channel), in place.
  void scale(const memory& x, const memory& s) {
    const auto d = x.get_desc().dims();
    memory s4(memory::desc({d[0], d[1], 1, 1}, dt::f32, tag::nchw), eng, s.get_data_handle());
    binary::desc bdsc(algorithm::binary_mul, x.get_desc(), s4.get_desc(), x.get_desc());
    binary::primitive_desc pd(bdsc, eng);
    steps.push_back({binary(pd), {{DNNL_ARG_SRC_0, x}, {DNNL_ARG_SRC_1, s4}, {DNNL_ARG_DST, x}}});
  }
};

struct Result {
  double build_ms, run_ms;
};

// OFA MobileNetV3 w1.0, uniform ks/e/d (the benchmark nets). build_ms: primitive descriptors,
// primitives (JIT code; oneDNN caches primitives by shape, so a second build of the same net is
// the warm figure) and weight reorders.
Result run_net(int ks, int e, int dep, int r, int reps) {
  const auto b0 = std::chrono::steady_clock::now();
  Net n;
  memory x(memory::desc({1, 3, r, r}, dt::f32, tag::nhwc), n.eng);  // dynn transposes NCHW input itself
  std::fill_n(static_cast<float*>(x.get_data_handle()), 3 * r * r, 0.5f);
  memory y = n.conv(x, 16, 3, 2, 1, Net::Hswish);
  memory t = n.conv(y, 16, 3, 1, 16, Net::Relu);
  y = n.conv(t, 16, 1, 1, 1, Net::None, &y);
  const int widths[5] = {24, 40, 80, 112, 160}, strides[5] = {2, 2, 2, 1, 2};
  const bool hsw[5] = {false, false, true, true, true}, se[5] = {false, true, false, true, true};
  int cin = 16;
  for (int s = 0; s < 5; ++s)
    for (int j = 0; j < dep; ++j) {
      const int mid = make_divisible(cin * e), cout = widths[s];
      const Net::Act a = hsw[s] ? Net::Hswish : Net::Relu;
      memory h = n.conv(y, mid, 1, 1, 1, a);
      h = n.conv(h, mid, ks, j == 0 ? strides[s] : 1, mid, a);
      if (se[s]) {
        memory z = n.fc(n.pool(h), make_divisible(mid / 4), Net::Relu);
        n.scale(h, n.fc(z, mid, Net::None, true));
      }
      y = j == 0 ? n.conv(h, cout, 1, 1, 1, Net::None) : n.conv(h, cout, 1, 1, 1, Net::None, &y);
      cin = cout;
    }
  y = n.conv(y, 960, 1, 1, 1, Net::Hswish);
  y = n.fc(n.fc(n.pool(y), 1280, Net::Hswish), 1000, Net::None);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count();
  stream s(n.eng);
  auto once = [&] {
    for (auto& [p, args] : n.steps) p.execute(s, args);
    s.wait();
  };
  for (int i = 0; i < 10; ++i) once();
  std::vector<double> t_ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    t_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t_ms.begin(), t_ms.end());
  return {build_ms, t_ms[t_ms.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else { std::fprintf(stderr, "usage: bench_onednn_proto [--threads N] [--reps N]\n"); return 2; }
  }
  omp_set_num_threads(threads);
  std::printf("oneDNN %d.%d.%d prototype, %d threads, batch 1, median of %d runs (ms)\n", dnnl_version()->major,
              dnnl_version()->minor, dnnl_version()->patch, threads, reps);
  struct Spec { const char* name; int ks, e, d, r; };
  for (const Spec& sp : {Spec{"max224", 7, 6, 4, 224}, Spec{"mid192", 5, 4, 3, 192}, Spec{"min128", 3, 3, 2, 128}}) {
    const Result cold = run_net(sp.ks, sp.e, sp.d, sp.r, reps), warm = run_net(sp.ks, sp.e, sp.d, sp.r, reps);
    std::printf("%s %.2f ms (again %.2f); build cold %.1f ms, warm %.1f ms\n", sp.name, cold.run_ms, warm.run_ms,
                cold.build_ms, warm.build_ms);
  }
}
