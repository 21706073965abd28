#include <functional>
#include <unordered_set>

#include "dynn/error.hpp"
#include "dynn/subnet_config.hpp"
#include "test_support.hpp"

using dynn::SubnetConfig;

TEST_CASE("uniform configs validate and round-trip through JSON and the compact form", "[config]") {
  for (auto c : {SubnetConfig::smallest(128), SubnetConfig::largest(224), SubnetConfig::uniform(5, 4, 3, 192)}) {
    REQUIRE_NOTHROW(c.validate());
    CHECK(SubnetConfig::from_json(c.to_json()) == c);
    CHECK(SubnetConfig::parse(c.to_string()) == c);
    CHECK(SubnetConfig::parse(c.to_json()) == c);
  }
  CHECK(SubnetConfig::largest(224).to_string() == "ks=77777777777777777777 e=66666666666666666666 d=44444 r=224");
}

TEST_CASE("published arch-dict spellings are accepted", "[config]") {
  const std::string ks = "[5,7,7,7,3,5,5,7,7,7,5,3,5,3,3,7,3,3,7,7]";
  const std::string e = "[6,4,4,6,4,3,6,4,6,4,4,6,4,6,4,6,4,3,3,4]";
  auto a = SubnetConfig::from_json(R"({"wid": null, "ks": )" + ks + R"(, "e": )" + e + R"(, "d": [3,2,3,2,2], "r": [176]})");
  auto b = SubnetConfig::from_json(R"({"ks": )" + ks + R"(, "e": )" + e + R"(, "d": [3,2,3,2,2], "image_size": 176})");
  CHECK(a == b);
  CHECK(a.r == 176);
  CHECK(a.to_string() == "ks=57773557775353373377 e=64464364644646464334 d=32322 r=176");
}

TEST_CASE("bad configs are rejected with a message naming the problem", "[config]") {
  auto msg = [](auto fn) {
    try { fn(); } catch (const dynn::Error& e) { CHECK(e.code() == dynn::ErrorCode::InvalidArgument); return std::string(e.what()); }
    FAIL("no error thrown");
    return std::string();
  };
  auto c = SubnetConfig::largest(224);
  c.ks[7] = 4;
  CHECK_THAT(msg([&] { c.validate(); }), Catch::Contains("ks[7] = 4"));
  c = SubnetConfig::largest(224);
  c.d.pop_back();
  CHECK_THAT(msg([&] { c.validate(); }), Catch::Contains("'d' has 4 entries"));
  c = SubnetConfig::largest(224);
  c.r = 8;
  CHECK_THAT(msg([&] { c.validate(); }), Catch::Contains("resolution"));
  CHECK_THAT(msg([] { SubnetConfig::from_json("{"); }), Catch::Contains("not valid JSON"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"r": 1e999})"); }), Catch::Contains("not valid JSON"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":[3],"e":[3],"d":[2],"r":99999999999})"); }), Catch::Contains("out of range"));
  CHECK_THAT(msg([] { SubnetConfig::from_json("[1,2]"); }), Catch::Contains("expected an object"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":[3],"e":[3],"d":[2],"r":224,"zz":1})"); }), Catch::Contains("unknown key 'zz'"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"e":[3],"d":[2],"r":224})"); }), Catch::Contains("missing 'ks'"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":"x","e":[3],"d":[2],"r":224})"); }), Catch::Contains("'ks' must be an array"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":[3.5],"e":[3],"d":[2],"r":224})"); }), Catch::Contains("ks[0] is not an integer"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":[],"e":[],"d":[],"r":[1,2]})"); }), Catch::Contains("exactly one element"));
  CHECK_THAT(msg([] { SubnetConfig::from_json(R"({"ks":[],"e":[],"d":[],"r":224,"wid":1})"); }), Catch::Contains("elastic width"));
  CHECK_THAT(msg([] { SubnetConfig::parse("ks=77 e=66"); }), Catch::Contains("missing 'd'"));
  CHECK_THAT(msg([] { SubnetConfig::parse("ks=7x"); }), Catch::Contains("non-digit"));
}

TEST_CASE("blocks skipped by depth do not matter for equality and hashing", "[config]") {
  auto a = SubnetConfig::uniform(5, 4, 2, 160);
  auto b = a;
  b.ks[3] = 7;  // stage 0 block 3: skipped at d=2
  b.e[2] = 6;   // stage 0 block 2: skipped at d=2
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  CHECK(b.canonical().ks[3] == 3);
  b.ks[1] = 7;  // active
  CHECK(a != b);
  std::unordered_set<SubnetConfig> set{a, b, SubnetConfig::uniform(5, 4, 2, 160)};
  CHECK(set.size() == 2);
  CHECK(a.total_depth() == 10);
  CHECK(a.block_active(1));
  CHECK_FALSE(a.block_active(2));
  CHECK_FALSE(a.block_active(20));
}

TEST_CASE("mutated config texts never crash: valid configs or a clear InvalidArgument", "[config][fuzz]") {
  const std::vector<std::string> seeds = {
      SubnetConfig::largest(224).to_json(), SubnetConfig::uniform(5, 4, 3, 176).to_string(),
      R"({"wid": null, "ks": [3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5,7,3,5], "e": [3,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4,6,3,4], "d": [2,3,4,2,3], "r": [160]})"};
  const std::string alphabet = "{}[]\",:0123456789-.eE ksdrwimage_nul\\ \x01\xff";
  uint64_t state = 12345;
  auto rnd = [&](uint64_t n) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>((state >> 33) % n);
  };
  size_t valid = 0, rejected = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string t = seeds[rnd(seeds.size())];
    const int edits = 1 + static_cast<int>(rnd(4));
    for (int k = 0; k < edits && !t.empty(); ++k) {
      const size_t pos = rnd(t.size());
      switch (rnd(3)) {
        case 0: t[pos] = alphabet[rnd(alphabet.size())]; break;
        case 1: t.erase(pos, 1 + rnd(3)); break;
        default: t.insert(pos, 1, alphabet[rnd(alphabet.size())]); break;
      }
    }
    try {
      const SubnetConfig c = SubnetConfig::parse(t);
      REQUIRE_NOTHROW(c.validate());  // whatever parses is a valid config
      ++valid;
    } catch (const dynn::Error& e) {
      REQUIRE(e.code() == dynn::ErrorCode::InvalidArgument);
      REQUIRE(std::string(e.what()).size() > 10);
      ++rejected;
    }
  }
  CHECK(rejected > 1000);
  CHECK(valid + rejected == 20000);
}

namespace {
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const dynn::Error& e) {
    CHECK(e.code() == dynn::ErrorCode::InvalidArgument);
    return e.what();
  }
  FAIL("no dynn::Error thrown");
  return {};
}
const std::string kLists = R"("ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2])";
}  // namespace

TEST_CASE("sub-network JSON: r wrapped, huge, fractional or repeated is an error naming r and the value as written", "[config][parse]") {
  auto with_r = [](const std::string& r) { return "{" + kLists + ",\"r\":" + r + "}"; };
  CHECK(SubnetConfig::from_json(with_r("224")).r == 224);
  for (const char* r : {"18446744073709551615", "9223372036854775808", "4294967520", "-1", "0", "1000001"}) {
    const std::string m = error_of([&] { SubnetConfig::from_json(with_r(r)); });
    CHECK_THAT(m, Catch::Contains("'r'") && Catch::Contains(r));
    if (std::string(r) != "-1") CHECK_THAT(m, !Catch::Contains("-1 "));
  }
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("224.5")); }), Catch::Contains("'r'") && Catch::Contains("224.5"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("1e300")); }), Catch::Contains("'r'") && Catch::Contains("1e+300"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("2.24e2")); }), Catch::Contains("'r'") && Catch::Contains("not an integer"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("[224.5]")); }), Catch::Contains("'r'"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("\"224\"")); }), Catch::Contains("'r'") && Catch::Contains("string"));
  // Beyond 64 bits: refused while parsing, the literal and its key named (not a rounded double).
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("99999999999999999999999")); }),
             Catch::Contains("'r'") && Catch::Contains("99999999999999999999999"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(with_r("1e999")); }), Catch::Contains("1e999"));
  // Repeated keys: r, the lists, and two spellings of one key.
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + kLists + R"(,"r":224,"r":128})"); }), Catch::Contains("'r'") && Catch::Contains("twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + kLists + R"(,"d":[2,2,2,2,2],"r":224})"); }),
             Catch::Contains("'d'") && Catch::Contains("twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + kLists + R"(,"r":224,"image_size":224})"); }), Catch::Contains("image_size"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json("{" + kLists + R"(,"r":224,"wid":null,"w":null})"); }), Catch::Contains("'w'"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(R"({"ks":[18446744073709551615],"e":[3],"d":[2],"r":224})"); }),
             Catch::Contains("ks[0]") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(error_of([&] { SubnetConfig::from_json(R"({"ks":[3],"e":[-9223372036854775809],"d":[2],"r":224})"); }),
             Catch::Contains("-9223372036854775809"));
}

TEST_CASE("compact sub-network specs: every key once, r a plain integer, input quoted as whole characters", "[config][parse]") {
  const std::string ks(20, '3'), e(20, '3');
  const std::string base = "ks=" + ks + " e=" + e + " d=22222";
  CHECK(SubnetConfig::parse(base + " r=224").r == 224);
  CHECK_THAT(error_of([&] { SubnetConfig::parse(base + " r=224 r=128"); }), Catch::Contains("'r' given twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::parse(base + " r=224 r=224"); }), Catch::Contains("'r' given twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::parse(base + " r=224 ks=" + ks); }), Catch::Contains("'ks' given twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::parse(base + " r=224 e=" + e); }), Catch::Contains("'e' given twice"));
  CHECK_THAT(error_of([&] { SubnetConfig::parse(base + " d=22222 r=224"); }), Catch::Contains("'d' given twice"));
  for (const char* r : {"18446744073709551615", "99999999999999999999", "224.5", "1e3", "0x10", "-224", "+224", "224x", "", "nan"}) {
    const std::string m = error_of([&] { SubnetConfig::parse(base + " r=" + r); });
    CHECK_THAT(m, Catch::Contains("'r'"));
    if (*r) CHECK_THAT(m, Catch::Contains(r));
  }
  // Long or non-UTF-8 input is quoted shortened and as valid UTF-8.
  const std::string junk = std::string(500, 'z') + "\xff\xfe";
  const std::string m1 = error_of([&] { SubnetConfig::parse(base + " " + junk + "=1 r=224"); });
  CHECK(m1.size() < 200);
  const std::string m2 = error_of([&] { SubnetConfig::parse("ks=3\xff" "3 e=3 d=2 r=224"); });
  CHECK_THAT(m2, Catch::Contains("\\xFF"));
  std::string long_key;
  for (int i = 0; i < 300; ++i) long_key += "\xc3\xa9";
  const std::string m3 = error_of([&] { SubnetConfig::from_json("{" + kLists + ",\"r\":224,\"" + long_key + "\":1}"); });
  CHECK_THAT(m3, Catch::Contains("unknown key"));
  CHECK(m3.size() < 200);
}
