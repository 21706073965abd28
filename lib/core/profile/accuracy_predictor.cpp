#include "dynn/profile/accuracy_predictor.hpp"

#include <Eigen/Core>
#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"

namespace dynn {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct AccuracyPredictor::Impl {
  std::vector<MatrixRM> w;        // [out, in]
  std::vector<Eigen::VectorXf> b; // [out]
};

namespace {

[[noreturn]] void invalid(const std::string& msg) { throw Error(ErrorCode::InvalidArgument, "accuracy predictor: " + msg); }

int slot(const std::vector<int>& values, int v, const char* what, size_t i) {
  for (size_t k = 0; k < values.size(); ++k)
    if (values[k] == v) return static_cast<int>(k);
  invalid(fmt::format("{}[{}] = {} cannot be encoded", what, i, v));
}

}  // namespace

std::array<float, AccuracyPredictor::kInputSize> AccuracyPredictor::encode(const SubnetConfig& c) {
  const auto space = SearchSpace::ofa_mbv3();
  c.validate(space);
  if (c.r < kMinResolution || c.r > kMaxResolution)
    invalid(fmt::format("resolution {} outside the encoded range {}..{}", c.r, kMinResolution, kMaxResolution));
  std::array<float, kInputSize> f{};
  for (int i = 0; i < ofa_mbv3::kNumBlocks; ++i) {
    if (!c.block_active(i, space)) continue;  // skipped blocks: all-zero groups
    const auto u = static_cast<size_t>(i);
    f[static_cast<size_t>(3 * i + slot(space.ks_values, c.ks[u], "ks", u))] = 1.f;
    f[static_cast<size_t>(60 + 3 * i + slot(space.e_values, c.e[u], "e", u))] = 1.f;
  }
  f[static_cast<size_t>(120 + (c.r - 112) / 16)] = 1.f;
  return f;
}

AccuracyPredictor AccuracyPredictor::from_layers(std::vector<Layer> layers) {
  if (layers.empty()) invalid("no layers");
  auto impl = std::make_shared<Impl>();
  int expect_in = kInputSize;
  for (size_t l = 0; l < layers.size(); ++l) {
    const Layer& L = layers[l];
    if (L.in != expect_in) invalid(fmt::format("layer {} takes {} inputs, expected {}", l, L.in, expect_in));
    if (L.out <= 0 || L.out > 1 << 16) invalid(fmt::format("layer {} has {} outputs", l, L.out));
    if (L.weight.size() != static_cast<size_t>(L.in) * static_cast<size_t>(L.out))
      invalid(fmt::format("layer {} weight has {} values, expected {}x{}", l, L.weight.size(), L.out, L.in));
    if (L.bias.size() != static_cast<size_t>(L.out))
      invalid(fmt::format("layer {} bias has {} values, expected {}", l, L.bias.size(), L.out));
    impl->w.emplace_back(Eigen::Map<const MatrixRM>(L.weight.data(), L.out, L.in));
    impl->b.emplace_back(Eigen::Map<const Eigen::VectorXf>(L.bias.data(), L.out));
    expect_in = L.out;
  }
  if (expect_in != 1) invalid(fmt::format("last layer has {} outputs, expected 1", expect_in));
  AccuracyPredictor p;
  p.m_impl = std::move(impl);
  return p;
}

AccuracyPredictor AccuracyPredictor::from_state_dict(const StateDict& sd) {
  // nn.Sequential(Linear, ReLU, Linear, ReLU, Linear, ReLU, Linear): parameters at 0, 2, 4, 6.
  std::vector<Layer> layers;
  for (int idx : {0, 2, 4, 6}) {
    const std::string wk = fmt::format("{}.weight", idx), bk = fmt::format("{}.bias", idx);
    const TensorData* w = sd.find(wk);
    const TensorData* b = sd.find(bk);
    if (!w) invalid(fmt::format("state dict has no '{}' (expected keys 0/2/4/6 .weight/.bias)", wk));
    if (!b) invalid(fmt::format("state dict has no '{}'", bk));
    if (w->shape.size() != 2) invalid(fmt::format("'{}' has shape {}, expected 2-d [out, in]", wk, w->shape_string()));
    if (b->shape.size() != 1 || b->shape[0] != w->shape[0])
      invalid(fmt::format("'{}' has shape {}, expected [{}] to match '{}' {}", bk, b->shape_string(), w->shape[0], wk,
                          w->shape_string()));
    Layer L;
    L.out = static_cast<int>(w->shape[0]);
    L.in = static_cast<int>(w->shape[1]);
    if (w->shape[0] > (1 << 16) || w->shape[1] > (1 << 16))
      invalid(fmt::format("'{}' has shape {}, too large for this predictor", wk, w->shape_string()));
    L.weight = w->to_float();
    L.bias = b->to_float();
    layers.push_back(std::move(L));
  }
  return from_layers(std::move(layers));
}

AccuracyPredictor AccuracyPredictor::load(const std::string& path) {
  try {
    return from_state_dict(load_checkpoint(path));
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: {}", path, e.what()));
  }
}

double AccuracyPredictor::predict(const SubnetConfig& c) const { return predict(std::vector<SubnetConfig>{c}).front(); }
double AccuracyPredictor::predict(const Subnet& s) const { return predict(s.as<SubnetConfig>("the OFA MobileNetV3 accuracy predictor")); }

std::vector<double> AccuracyPredictor::predict(const std::vector<SubnetConfig>& cs) const {
  if (!m_impl) throw Error(ErrorCode::InvalidArgument, "accuracy predictor: not loaded");
  std::vector<double> out;
  out.reserve(cs.size());
  // Columns are samples; batches of 256 keep the activations small.
  constexpr size_t kBatch = 256;
  for (size_t start = 0; start < cs.size(); start += kBatch) {
    const size_t n = std::min(kBatch, cs.size() - start);
    Eigen::MatrixXf x(kInputSize, static_cast<Eigen::Index>(n));
    for (size_t i = 0; i < n; ++i) {
      const auto f = encode(cs[start + i]);
      x.col(static_cast<Eigen::Index>(i)) = Eigen::Map<const Eigen::VectorXf>(f.data(), kInputSize);
    }
    for (size_t l = 0; l < m_impl->w.size(); ++l) {
      Eigen::MatrixXf y = m_impl->w[l] * x;
      y.colwise() += m_impl->b[l];
      if (l + 1 < m_impl->w.size()) y = y.cwiseMax(0.f);
      x = std::move(y);
    }
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<double>(x(0, static_cast<Eigen::Index>(i))));
  }
  return out;
}

}  // namespace dynn
