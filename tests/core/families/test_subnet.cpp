// dynn::Subnet and the family table: one value type for every family's sub-networks, read from
// the family's JSON, validated, compared and hashed; profiles keep the family.
#include <catch2/catch.hpp>

#include <unordered_set>

#include "dynn/ofa_resnet50/arch.hpp"
#include "dynn/profile/profile.hpp"
#include "dynn/subnet.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
namespace rn = dynn::ofa_resnet50;

namespace {
const char* kResNetSmall = R"({"d":[0,0,0,0,0],"e":[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2],"w":[0,0,0,0,0,0],"r":128})";
}

TEST_CASE("Subnet: the family's value behind one type, compared by the network that runs", "[families]") {
  const Subnet m = SubnetConfig::largest(224);
  const Subnet r = rn::Subnet::smallest(128);
  CHECK(m.family() == "ofa_mbv3");
  CHECK(r.family() == "ofa_resnet50");
  CHECK(m.resolution() == 224);
  CHECK(r.resolution() == 128);
  REQUIRE(m.get<SubnetConfig>() != nullptr);
  CHECK(m.get<rn::Subnet>() == nullptr);
  CHECK(*m.get<SubnetConfig>() == SubnetConfig::largest(224));
  CHECK(r.as<rn::Subnet>("test") == rn::Subnet::smallest(128));
  CHECK_THAT(error_of([&] { (void)r.as<SubnetConfig>("the MBv3 latency table"); }, ErrorCode::InvalidArgument),
             Catch::Contains("the MBv3 latency table needs an ofa_mbv3 sub-network, got ofa_resnet50"));
  CHECK(r.to_json() == rn::Subnet::smallest(128).to_json());
  CHECK(r.to_string() == "d=00000 e=000000000000000000 w=000000 r=128");
  CHECK(m.to_string() == SubnetConfig::largest(224).to_string());

  // Equality and hashing follow the canonical forms (skipped blocks do not count), never across families.
  rn::Subnet skipped = rn::Subnet::smallest(128);
  skipped.e[3] = 0.35;  // block 3 does not run at d[1] = 0
  CHECK(Subnet(skipped) == r);
  CHECK(Subnet(skipped).hash() == r.hash());
  CHECK(m != r);
  CHECK(Subnet() == Subnet());
  CHECK(Subnet() != m);
  std::unordered_set<Subnet> set{m, r, Subnet(skipped), Subnet(SubnetConfig::smallest(224))};
  CHECK(set.size() == 3);

  // A Subnet always holds a runnable sub-network: the value is validated when it is wrapped.
  SubnetConfig bad = SubnetConfig::largest(224);
  bad.ks[2] = 4;
  CHECK_THAT(error_of([&] { Subnet s = bad; (void)s; }, ErrorCode::InvalidArgument), Catch::Contains("ks[2] = 4"));
  rn::Subnet bad_r = rn::Subnet::largest(224);
  bad_r.w[5] = 3;
  CHECK_THAT(error_of([&] { Subnet s = bad_r; (void)s; }, ErrorCode::InvalidArgument), Catch::Contains("w[5]"));
  CHECK(Subnet().empty());
  CHECK(Subnet().family().empty());
  CHECK(Subnet().to_json().empty());
}

TEST_CASE("Subnet::parse / from_json: the family's keys, the family named or recognised", "[families]") {
  const Subnet r = Subnet::parse("ofa_resnet50", kResNetSmall);
  CHECK(r == Subnet(rn::Subnet::smallest(128)));
  CHECK(Subnet::from_json(kResNetSmall) == r);  // "w" is ResNet-50's
  const std::string mbv3 = SubnetConfig::smallest(160).to_json();
  CHECK(Subnet::from_json(mbv3) == Subnet(SubnetConfig::smallest(160)));  // "ks" is MobileNetV3's
  CHECK(Subnet::parse("ofa_mbv3", SubnetConfig::smallest(160).to_string()) == Subnet(SubnetConfig::smallest(160)));
  // The tagged form: both families accept their own "family" key and refuse another's.
  std::string tagged = mbv3;
  tagged.insert(1, R"("family":"ofa_mbv3",)");
  CHECK(Subnet::from_json(tagged).family() == "ofa_mbv3");
  std::string wrong = mbv3;
  wrong.insert(1, R"("family":"ofa_resnet50",)");
  CHECK_THAT(error_of([&] { Subnet::from_json(wrong); }, ErrorCode::InvalidArgument), Catch::Contains("'ks'"));
  CHECK_THAT(error_of([&] { Subnet::parse("ofa_resnet50", mbv3); }, ErrorCode::InvalidArgument),
             Catch::Contains("'ks' is an ofa_mbv3 key"));
  CHECK_THAT(error_of([&] { Subnet::parse("hat_transformer", mbv3); }, ErrorCode::InvalidArgument),
             Catch::Contains("unknown model family 'hat_transformer' (known: ofa_mbv3, ofa_resnet50)"));
  CHECK_THAT(error_of([&] { Subnet::from_json(R"({"r":224})"); }, ErrorCode::InvalidArgument),
             Catch::Contains("names no family") && Catch::Contains("'ks' for ofa_mbv3") && Catch::Contains("'w' for ofa_resnet50"));
  CHECK_THAT(error_of([&] { Subnet::from_json("[1,2]"); }, ErrorCode::InvalidArgument), Catch::Contains("expected an object"));
  CHECK_THAT(error_of([&] { Subnet::from_json("{"); }, ErrorCode::InvalidArgument), Catch::Contains("sub-network JSON"));
  CHECK_THAT(error_of([&] { Subnet::from_json(R"({"family":3})"); }, ErrorCode::InvalidArgument), Catch::Contains("must be a string"));
}

TEST_CASE("the family table: largest, smallest and the published layouts' sizes", "[families]") {
  CHECK(subnet_family_names() == std::vector<std::string>{"ofa_mbv3", "ofa_resnet50"});
  const SubnetFamily& r = subnet_family("ofa_resnet50");
  CHECK(r.largest(192) == Subnet(rn::Subnet::largest(192)));
  CHECK(r.smallest(128) == Subnet(rn::Subnet::smallest(128)));
  // Sizes are the full-size published supernet's (the family's own arithmetic).
  CHECK(r.published_parameters(r.largest(224)) ==
        static_cast<double>(rn::parameters(rn::Widths::published(), rn::Subnet::largest(224))));
  CHECK(r.published_macs(r.largest(224)) > 5 * r.published_macs(r.smallest(224)));
  const SubnetFamily& m = subnet_family("ofa_mbv3");
  CHECK(m.published_macs(m.largest(224)) > m.published_macs(m.smallest(224)));
  for (const char* name : {"ofa_mbv3", "ofa_resnet50"}) {  // the ladders rise in MACs
    const SubnetFamily& f = subnet_family(name);
    const auto ladder = f.ladder();
    REQUIRE(ladder.size() >= 4);
    for (size_t i = 1; i < ladder.size(); ++i) CHECK(f.published_macs(ladder[i]) > f.published_macs(ladder[i - 1]));
    CHECK(ladder.back() == f.largest(224));
  }
  CHECK_THROWS_AS(subnet_family("nope"), Error);
  CHECK_THROWS_AS(r.published_macs(m.largest(224)), Error);  // another family's sub-network
  SubnetFamily nameless;
  CHECK_THROWS_AS(register_subnet_family(nameless), Error);
}

TEST_CASE("Profile JSON keeps the family; points of another family are refused by name", "[families]") {
  Profile p;
  p.device_name = "test";
  p.supernet = "ofa_resnet50";
  OperatingPoint a;
  a.id = "small";
  a.subnet = rn::Subnet::smallest(128);
  a.latency_ms = 10;
  OperatingPoint b = a;
  b.id = "large";
  b.subnet = rn::Subnet::largest(224);
  b.latency_ms = 80;
  p.add(a);
  p.add(b);
  const std::string text = p.to_json();
  CHECK_THAT(text, Catch::Contains(R"("family": "ofa_resnet50")"));
  const Profile back = Profile::from_json(text);
  CHECK(back.family == "ofa_resnet50");
  REQUIRE(back.points.size() == 2);
  CHECK(back.points[0].subnet == a.subnet);
  CHECK(back.points[1].subnet == b.subnet);
  CHECK(back.find(b.subnet) == &back.points[1]);
  // A version-1 file without "family" holds OFA MobileNetV3 points, as before.
  Profile m;
  m.device_name = "t";
  m.supernet = "ofa_mbv3_d234_e346_k357_w1.2";
  OperatingPoint q;
  q.id = "q";
  q.subnet = SubnetConfig::smallest(160);
  m.add(q);
  std::string old = m.to_json(-1);
  const std::string fam = R"("family":"ofa_mbv3",)";
  REQUIRE(old.find(fam) != std::string::npos);
  old.erase(old.find(fam), fam.size());
  CHECK(Profile::from_json(old).points.at(0).subnet == q.subnet);
  // A ResNet-50 point in a MobileNetV3 profile, or an unknown family, is a Parse error naming it.
  Profile mixed = m;
  mixed.points.push_back(a);
  CHECK_THAT(error_of([&] { (void)Profile::from_json(mixed.to_json()); }, ErrorCode::Parse),
             Catch::Contains("points[1] (id 'small').subnet"));
  std::string unknown = text;
  unknown.replace(unknown.find("ofa_resnet50\""), 12, "ofa_nothing_");
  CHECK_THAT(error_of([&] { (void)Profile::from_json(unknown); }, ErrorCode::Parse), Catch::Contains("unknown model family"));
}

TEST_CASE("the family's one-step reductions: each smaller, none at the smallest", "[families][search]") {
  for (const std::string name : {"ofa_mbv3", "ofa_resnet50"}) {
    INFO(name);
    const SubnetFamily& fam = subnet_family(name);
    REQUIRE(fam.smaller);
    const Subnet big = fam.largest(224);
    const std::vector<Subnet> next = fam.smaller(big);
    CHECK(next.size() > 10);
    std::unordered_set<Subnet> distinct(next.begin(), next.end());
    CHECK(distinct.size() == next.size());
    for (const Subnet& s : next) {
      CHECK(s.family() == name);
      CHECK(s != big);
      CHECK(fam.published_macs(s) < fam.published_macs(big));
    }
    CHECK(fam.smaller(fam.smallest(128)).empty());
    // Resolution steps go to the sizes the supernet was trained at.
    const auto res = [&](const Subnet& from) {
      std::vector<int> rs;
      for (const Subnet& s : fam.smaller(from))
        if (s.resolution() != from.resolution()) rs.push_back(s.resolution());
      return rs;
    };
    CHECK(res(fam.largest(224)) == std::vector<int>{name == "ofa_mbv3" ? 220 : 192});
    CHECK(res(fam.smallest(129)) == std::vector<int>{128});
  }
}

TEST_CASE("shrink_subnet: walks the reductions down to the MACs fraction", "[families][search]") {
  const SubnetFamily& fam = subnet_family("ofa_mbv3");
  const Subnet from = SubnetConfig::uniform(5, 4, 3, 176);
  const double m0 = fam.published_macs(from);
  const ShrinkResult half = shrink_subnet(from, 0.5, fam.published_macs);
  CHECK(half.reached);
  CHECK(half.macs <= 0.5 * m0);
  CHECK(half.macs == fam.published_macs(half.subnet));
  CHECK(half.steps > 1);
  // The fewest MACs removed per step: the walk stops at the first sub-network under the fraction,
  // so it is not far below it.
  CHECK(half.macs > 0.4 * m0);
  CHECK(shrink_subnet(from, 0.5, fam.published_macs).subnet == half.subnet);  // deterministic
  CHECK(shrink_subnet(from, 1.0, fam.published_macs).subnet == from);
  // With an accuracy estimate the walk keeps what the estimate values: here the resolution.
  const auto by_resolution = [](const Subnet& s) { return static_cast<double>(s.resolution()); };
  const ShrinkResult keep_r = shrink_subnet(from, 0.6, fam.published_macs, by_resolution);
  CHECK(keep_r.reached);
  CHECK(keep_r.subnet.resolution() == 176);
  // Below the smallest: as far as the reductions go, and says so.
  const ShrinkResult floor = shrink_subnet(SubnetConfig::smallest(132), 0.1, fam.published_macs);
  CHECK_FALSE(floor.reached);
  CHECK(floor.subnet == Subnet(SubnetConfig::smallest(128)));
  CHECK(shrink_subnet(SubnetConfig::smallest(128), 0.5, fam.published_macs).steps == 0);
  // ResNet-50 the same way.
  const SubnetFamily& rf = subnet_family("ofa_resnet50");
  const ShrinkResult rs = shrink_subnet(rf.largest(224), 0.3, rf.published_macs);
  CHECK(rs.reached);
  CHECK(rs.macs <= 0.3 * rf.published_macs(rf.largest(224)));
  // Misuse is named.
  CHECK_THAT(error_of([&] { shrink_subnet(from, 0, fam.published_macs); }), Catch::Contains("fraction 0"));
  CHECK_THAT(error_of([&] { shrink_subnet(from, 1.5, fam.published_macs); }), Catch::Contains("not in (0, 1]"));
  CHECK_THAT(error_of([&] { shrink_subnet(Subnet(), 0.5, fam.published_macs); }), Catch::Contains("no sub-network"));
  CHECK_THAT(error_of([&] { shrink_subnet(from, 0.5, {}); }), Catch::Contains("no MACs function"));
}
