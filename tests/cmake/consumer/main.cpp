#include <dynn/dynn.hpp>

#include <iostream>

int main() {
  auto cfg = dynn::SubnetConfig::largest(224);
  std::cout << "dynn " << dynn::version_string() << ": " << cfg.to_string() << "\n";
  return cfg == dynn::SubnetConfig::parse(cfg.to_string()) ? 0 : 1;
}
