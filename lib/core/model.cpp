#include "dynn/model.hpp"

#include <fmt/format.h>

#include "dynn/error.hpp"

namespace dynn {

void check_thread_count(int n, const std::string& who) {
  if (n < 1 || n > kMaxThreads)
    throw Error(ErrorCode::InvalidArgument, fmt::format("{}: thread count {} must be in 1..{}", who, n, kMaxThreads));
}

}  // namespace dynn

namespace dynn {

void DynamicModel::check_family(const Subnet& subnet, const char* who) const {
  if (subnet.family() != family())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("{}: this model is {}, the sub-network is {}", who, family(), subnet.empty() ? "empty" : subnet.family()));
}

SubnetInfo DynamicModel::subnet_info(const Subnet& subnet) const {
  check_family(subnet, "subnet_info");
  const SubnetFamily& f = subnet_family(family());
  SubnetInfo i;
  i.family = family();
  i.json = subnet.to_json();
  i.resolution = subnet.resolution();
  if (f.published_macs) i.macs = f.published_macs(subnet);
  if (f.published_parameters) i.parameters = f.published_parameters(subnet);
  return i;
}

namespace {
[[noreturn]] void no_bn(const DynamicModel& m, const char* what) {
  throw Error(ErrorCode::Unsupported, fmt::format("{}: this {} model ({} engine) has no per-sub-network BN statistics", what,
                                                  m.family(), m.engine()));
}
}  // namespace

BnStats DynamicModel::recalibrate_bn(const Subnet&, const BnBatchSource&) { no_bn(*this, "recalibrate_bn"); }
void DynamicModel::set_bn_stats(const Subnet&, const BnStats&) { no_bn(*this, "set_bn_stats"); }
bool DynamicModel::has_bn_stats(const Subnet&) const { return false; }
void DynamicModel::clear_bn_stats(const Subnet&) {}

}  // namespace dynn
