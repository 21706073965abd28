// A sub-network of any model family, as the runtime manager, profiles, the profiler and the
// simulator hold it: the family's name plus that family's own value (ofa_mbv3: SubnetConfig;
// ofa_resnet50: ofa_resnet50::Subnet), with the family's JSON as the common text form.
// Copies are cheap: the value is immutable and shared, its hash computed once.
//
// Each family is described once (SubnetFamily) and found by name; a family's value type T
// provides T::kFamily, to_json(), to_string(), hash(), r and operator==.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "dynn/error.hpp"
#include "dynn/subnet_config.hpp"

namespace dynn {

namespace subnet_detail {
struct Value {
  virtual ~Value() = default;
  virtual const char* family() const = 0;
  virtual std::string to_json() const = 0;
  virtual std::string to_string() const = 0;
  virtual int resolution() const = 0;
  virtual size_t hash() const = 0;
  virtual bool equals(const Value& other) const = 0;  // other has the same family
};
template <class T>
struct ValueOf final : Value {
  explicit ValueOf(T v) : value(std::move(v)) {}
  const char* family() const override { return T::kFamily; }
  std::string to_json() const override { return value.to_json(); }
  std::string to_string() const override { return value.to_string(); }
  int resolution() const override { return value.r; }
  size_t hash() const override { return value.hash(); }
  bool equals(const Value& other) const override { return value == static_cast<const ValueOf&>(other).value; }
  T value;
};
}  // namespace subnet_detail

class Subnet {
 public:
  Subnet() = default;  // empty: no family (a default-constructed OperatingPoint)
  // Any family's value, validated (Error(InvalidArgument) naming the field), so a Subnet always
  // holds a sub-network its family can run. Implicit: an OFA MobileNetV3 SubnetConfig is a Subnet
  // where one is asked for.
  template <class T, class = std::enable_if_t<std::is_convertible_v<decltype(T::kFamily), const char*>>>
  Subnet(T value)  // NOLINT(google-explicit-constructor)
      : m_value((value.validate(), std::make_shared<subnet_detail::ValueOf<T>>(std::move(value)))), m_hash(combine(*m_value)) {}

  // Parses `json` as a sub-network of `family` (that family's keys; errors name the key and the
  // allowed values). An unknown family is InvalidArgument naming the known ones.
  static Subnet parse(const std::string& family, const std::string& json);
  // The same, the family taken from a "family" key, else recognised by its keys ("ks": ofa_mbv3,
  // "w": ofa_resnet50); text naming no family is InvalidArgument.
  static Subnet from_json(const std::string& json);

  bool empty() const { return !m_value; }
  std::string family() const { return m_value ? m_value->family() : ""; }
  std::string to_json() const;    // the family's JSON (no "family" key); "" when empty
  std::string to_string() const;  // the family's compact log form
  int resolution() const { return m_value ? m_value->resolution() : 0; }
  size_t hash() const { return m_hash; }

  // The family's value, or null when this is another family.
  template <class T>
  const T* get() const {
    auto* v = dynamic_cast<const subnet_detail::ValueOf<T>*>(m_value.get());
    return v ? &v->value : nullptr;
  }
  // The same, or Error(InvalidArgument) "<who> needs an <T::kFamily> sub-network, got <family>".
  template <class T>
  const T& as(const std::string& who) const {
    if (const T* v = get<T>()) return *v;
    throw Error(ErrorCode::InvalidArgument, wrong_family(who, T::kFamily));
  }

  friend bool operator==(const Subnet& a, const Subnet& b);
  friend bool operator!=(const Subnet& a, const Subnet& b) { return !(a == b); }

 private:
  static size_t combine(const subnet_detail::Value& v);
  std::string wrong_family(const std::string& who, const char* wanted) const;
  std::shared_ptr<const subnet_detail::Value> m_value;
  size_t m_hash = 0;
};

// What the library knows about a family without loading a model: how to read its sub-networks,
// the largest and smallest ones, and their size in the family's published layout (ofa_mbv3:
// w1.2, ofa_resnet50: the full-size supernet). Models of other widths report their own sizes
// (DynamicModel::subnet_info).
struct SubnetFamily {
  std::string name;
  std::string description;
  std::vector<std::string> json_keys;  // keys that only this family's JSON has
  std::function<Subnet(const std::string& json)> parse;
  std::function<Subnet(int r)> largest, smallest;
  std::function<double(const Subnet&)> published_macs, published_parameters;
  // A ladder of sub-networks from small to large, rising in MACs, for demos and benchmarks where no
  // searched levels exist (ofa_mbv3 has Dynamic-OFA's published levels, docs/profiles.md).
  std::function<std::vector<Subnet>()> ladder;
  // The one-step reductions of a sub-network: each lowers one elastic dimension of one running
  // block or stage, or the resolution, by one step of the family's space (resolution: to the next
  // size the supernet was trained at). Empty at the family's smallest. What the runtime's search
  // below the profiled points walks (shrink_subnet); a family without it is not searched there.
  std::function<std::vector<Subnet>(const Subnet&)> smaller;
};
// Built in: ofa_mbv3 and ofa_resnet50. Registering a name again replaces it; register before other
// threads read the table (a replaced entry must not be in use).
void register_subnet_family(SubnetFamily family);
// InvalidArgument naming the known families when `name` is not one.
const SubnetFamily& subnet_family(const std::string& name);
std::vector<std::string> subnet_family_names();

// A smaller sub-network, found by walking the family's one-step reductions from `from` until the
// cost `macs` is at most `macs_fraction` of `from`'s. Each step takes the reduction that loses the
// least `accuracy` per MAC removed where an accuracy estimate is given, else the one that removes
// the fewest MACs (so the network keeps as much of itself as the fraction allows). Deterministic.
struct ShrinkResult {
  Subnet subnet;        // `from` itself when nothing is smaller
  double macs = 0;      // its cost
  bool reached = false; // false: the family's reductions ran out above the fraction
  int steps = 0;        // reductions taken
};
// InvalidArgument when `from` is empty, its family has no `smaller` rule, the fraction is not in
// (0, 1] or `macs` is not given.
ShrinkResult shrink_subnet(const Subnet& from, double macs_fraction, const std::function<double(const Subnet&)>& macs,
                           const std::function<double(const Subnet&)>& accuracy = {});

}  // namespace dynn

template <>
struct std::hash<dynn::Subnet> {
  size_t operator()(const dynn::Subnet& s) const { return s.hash(); }
};
