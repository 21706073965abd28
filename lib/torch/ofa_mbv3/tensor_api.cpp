#include <fmt/format.h>
#include <fmt/ranges.h>

#include "dynn/error.hpp"
#include "dynn/torch/ofa_mbv3_tensor.hpp"
#include "internal.hpp"

namespace dynn {
namespace {
void check_input(const at::Tensor& x, int r) {
  if (!x.defined() || x.dim() != 4 || x.size(1) != 3 || x.size(2) != r || x.size(3) != r || x.size(0) < 1)
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("forward: input must be [N,3,{},{}], got [{}]", r, r, x.defined() ? fmt::format("{}", fmt::join(x.sizes(), ", ")) : "undefined"));
  if (x.scalar_type() != at::kFloat) throw Error(ErrorCode::InvalidArgument, "forward: input must be float32");
}
}  // namespace

at::Tensor forward(OfaMbv3Supernet& net, const at::Tensor& x) {
  auto p = net.impl().plans.current();
  check_input(x, p->cfg.r);
  if (p->xnn) {
    const at::Tensor in = x.to(at::kCPU).contiguous();
    at::Tensor out = at::empty({in.size(0), net.num_classes()}, at::kFloat);
    net.impl().run(*p, in.data_ptr<float>(), in.size(0), 3, p->cfg.r, p->cfg.r, out.data_ptr<float>(),
                   static_cast<size_t>(out.numel()), nullptr);
    return out;
  }
  c10::NoGradGuard no_grad;
  return ofa::prepared_forward(*p, x.to(net.impl().dev));
}

at::Tensor forward_reference(OfaMbv3Supernet& net, const SubnetConfig& cfg, const at::Tensor& x) {
  cfg.validate(net.search_space());
  check_input(x, cfg.r);
  std::shared_ptr<const ofa::BnOverride> stats;
  {
    std::lock_guard<std::mutex> lock(net.impl().mutex);
    auto it = net.impl().bn_stats.find(cfg);
    if (it != net.impl().bn_stats.end()) stats = it->second;
  }
  c10::NoGradGuard no_grad;
  return ofa::reference_forward(*net.impl().weights, cfg, x.to(net.impl().dev), stats.get());
}

}  // namespace dynn
