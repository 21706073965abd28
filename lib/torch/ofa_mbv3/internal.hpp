// Internal structures of the OFA MobileNetV3 supernet (LibTorch side).
#pragma once

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <ATen/core/ivalue.h>

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cpu/resources.hpp"
#include "core/plan_cache.hpp"
#include "cpu/xnn_graph.hpp"
#include "dynn/ofa_mbv3.hpp"

namespace dynn::ofa {

struct Bn {
  at::Tensor weight, bias, mean, var;  // full size
};

// One dynamic MBConv block (supernet blocks 1..20), tensors at their supernet (max) size.
struct Block {
  int index = 0, stage = 0, pos = 0;  // supernet index, stage 0..4, position in stage
  int cin = 0, cout = 0, mid_max = 0, se_max = 0, stride = 1;
  bool hswish = false, se = false, shortcut = false;
  at::Tensor expand_w;
  Bn expand_bn;
  at::Tensor dw_w, m7to5, m5to3;
  std::array<at::Tensor, 8> dw_k;  // transformed depthwise kernels on all channels, by k (3, 5, 7)
  Bn dw_bn;
  at::Tensor se_rw, se_rb, se_ew, se_eb;
  at::Tensor proj_w;
  Bn proj_bn;

  int mid(int e) const;        // make_divisible(round(cin*e), 8)
  static int se_mid(int mid);  // make_divisible(mid // 4, 8)
};

struct Weights {
  ArchInfo arch;
  at::Tensor first_w;
  Bn first_bn;
  at::Tensor b0_dw_w, b0_pw_w;
  Bn b0_dw_bn, b0_pw_bn;
  std::vector<Block> blocks;  // 20
  at::Tensor fe_w;
  Bn fe_bn;
  at::Tensor fm_w, cls_w, cls_b;
  size_t bytes = 0;

  std::shared_ptr<Weights> to(const at::Device& dev) const;
};

// Builds the weights from a state dict: canonicalises key spellings, infers widths from shapes,
// checks every key and shape (errors name the key and both shapes), precomputes the kernel
// transforms.
std::shared_ptr<Weights> weights_from_state_dict(const StateDict& sd, const SearchSpace& space);
std::shared_ptr<Weights> random_weights(double width_mult, uint64_t seed, const SearchSpace& space);
void precompute_kernels(Weights& w);

// BN statistics of a sub-network in module order (bn_layout order), as tensors on the weights' device.
using BnOverride = std::vector<std::pair<at::Tensor, at::Tensor>>;

std::vector<std::pair<std::string, int>> bn_layout(const Weights& w, const SubnetConfig& cfg);
// Mean and variance of the i-th BN (bn_layout order) of `c` channels: the override's when there is
// one, else the supernet's own (first c channels).
std::pair<at::Tensor, at::Tensor> bn_mean_var(const BnOverride* stats, size_t i, const Bn& bn, int64_t c);

// The exact reference forward (spec arithmetic, unfused). stats may be null (supernet stats).
// When calib is non-null, BNs use batch statistics and the per-layer batch mean/var are appended.
at::Tensor reference_forward(const Weights& w, const SubnetConfig& cfg, const at::Tensor& x,
                             const BnOverride* stats, std::vector<std::pair<at::Tensor, at::Tensor>>* calib = nullptr);

// A prepared (fast) sub-network: BN folded, weights laid out for the fastest kernels.
struct ConvOp {
  at::Tensor w, b;  // folded; NHWC-strided on CPU
  int64_t k = 1, stride = 1, pad = 0, groups = 1;
  bool relu = false;
  int64_t in_c = 0;
  // oneDNN prepacked contexts by input [n, h, w] (created on first use for that shape, under
  // the owning Prepared's run_mutex).
  mutable std::map<std::array<int64_t, 3>, c10::IValue> ctx;
  size_t bytes() const;
};

struct PreparedBlock {
  std::unique_ptr<ConvOp> expand, dw, proj;
  bool hswish = false, se = false, shortcut = false;
  at::Tensor se_rw, se_rb, se_ew, se_eb;  // 2-D, contiguous
};

// Which computation a prepared sub-network runs (SupernetOptions::engine resolved per device).
enum class EngineKind { Xnnpack, Aten, Reference };

struct Prepared {
  SubnetConfig cfg;
  EngineKind kind = EngineKind::Aten;
  std::unique_ptr<cpu::Graph> xnn;        // EngineKind::Xnnpack
  std::shared_ptr<const Weights> weights;  // for the reference engine / recalibration
  std::shared_ptr<const BnOverride> stats;
  std::unique_ptr<ConvOp> first, b0_dw, b0_pw, fe;
  std::vector<PreparedBlock> blocks;
  at::Tensor fm_w, cls_w, cls_b;
  size_t bytes = 0;
  bool use_prepacked = false;
  mutable std::mutex run_mutex;
};

// The XNNPACK engine's classifier head (feature mix + classifier): the same weights in every
// sub-network and never BN-folded, so packed once per supernet and shared by all its plans.
struct XnnHead {
  const Weights* source = nullptr;  // the weights it was packed from
  std::shared_ptr<cpu::SharedFullyConnected> feature_mix, classifier;
  size_t bytes() const { return feature_mix->bytes() + classifier->bytes(); }
};
std::shared_ptr<const XnnHead> build_xnn_head(const Weights& w);

// head: the XNNPACK engine's shared head (required for EngineKind::Xnnpack, unused otherwise).
std::shared_ptr<Prepared> prepare_subnet(const std::shared_ptr<const Weights>& w, const SubnetConfig& cfg,
                                         const std::shared_ptr<const BnOverride>& stats, EngineKind kind,
                                         const XnnHead* head = nullptr, int build_threads = 1);
// layer_seconds (CPU, fast engine): wall time of each layer in look-up-table order.
at::Tensor prepared_forward(const Prepared& p, const at::Tensor& x, std::vector<double>* layer_seconds = nullptr);
bool prepacked_available();
// The XNNPACK graph of sub-network cfg (CPU weights) around the shared head; stats may be null
// (supernet statistics). Its dense convs are folded and packed on `threads` threads.
std::unique_ptr<cpu::Graph> build_xnn_graph(const Weights& w, const SubnetConfig& cfg, const BnOverride* stats,
                                            const XnnHead& head, int threads);

}  // namespace dynn::ofa

namespace dynn {

struct OfaMbv3Supernet::Impl {
  SearchSpace space = SearchSpace::ofa_mbv3();
  SupernetOptions opts;
  std::shared_ptr<const ofa::Weights> cpu_weights;
  std::shared_ptr<const ofa::Weights> weights;  // on the current device
  at::Device dev = at::kCPU;

  // Prepared sub-networks (LRU with a byte budget) and the current one, which inferences load
  // atomically.
  detail::PlanCache<SubnetConfig, ofa::Prepared, &ofa::Prepared::cfg> plans;

  // Guards weights, dev, kind, opts and bn_stats.
  mutable std::mutex mutex;
  // This model's intra-op thread count (0 = whatever is in force). LibTorch's count is a per-thread
  // OpenMP setting: run() applies it on the calling thread, so two models never fight over it.
  std::atomic<int> threads{0};
  std::unordered_map<SubnetConfig, std::shared_ptr<const ofa::BnOverride>> bn_stats;

  explicit Impl(const SupernetOptions& o) : opts(o), plans(o.cache_bytes) {}

  // The engine plans run on: opts.engine resolved for the current device.
  ofa::EngineKind kind = ofa::EngineKind::Aten;
  void resolve_engine();

  // XNNPACK engine: thread pools and activation workspaces; the shared head, packed on the first
  // CPU-engine prepare (under cpu_mutex).
  cpu::Resources cpu_resources;
  mutable std::mutex cpu_mutex;
  mutable std::shared_ptr<const ofa::XnnHead> xnn_head;
  std::shared_ptr<const ofa::XnnHead> head_for(const ofa::Weights& w) const;
  int effective_threads() const;

  std::shared_ptr<const ofa::Prepared> get_or_prepare(const SubnetConfig& cfg);
  // Removes cfg's prepared plan (built with outdated BN statistics); true when cfg is the current
  // sub-network, which the caller then re-prepares.
  bool drop_plan(const SubnetConfig& cfg);
  // Checks the arguments against plan p (shape, capacity, finite input) and runs it.
  void run(const ofa::Prepared& p, const float* input, int64_t n, int64_t c, int64_t h, int64_t w, float* logits,
           size_t capacity, std::vector<double>* layer_seconds) const;
};

}  // namespace dynn
