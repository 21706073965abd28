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

SubnetInfo DynamicModel::subnet_info(const Subnet& subnet) const {
  if (subnet.family() != family())
    throw Error(ErrorCode::InvalidArgument,
                fmt::format("subnet_info: this model is {}, the sub-network is {}", family(), subnet.empty() ? "empty" : subnet.family()));
  const SubnetFamily& f = subnet_family(family());
  SubnetInfo i;
  i.family = family();
  i.json = subnet.to_json();
  i.resolution = subnet.resolution();
  if (f.published_macs) i.macs = f.published_macs(subnet);
  if (f.published_parameters) i.parameters = f.published_parameters(subnet);
  return i;
}

}  // namespace dynn
