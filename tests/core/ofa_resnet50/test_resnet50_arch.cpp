// OFA ResNet-50 family arithmetic: the sub-network JSON, key spellings, widths from shapes, the
// full-size key list, and what runs per sub-network against the reference's own derivation.
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "dynn/ofa_resnet50/arch.hpp"
#include "test_support.hpp"

using namespace dynn;
using namespace dynn::ofa_resnet50;
using dynn::test::error_of;

namespace {
const char* kLargest =
    R"({"d":[2,2,2,2,2],"e":[0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35],"w":[2,2,2,2,2,2],"r":224})";

std::string with(const std::string& key, const std::string& value) {
  nlohmann::json j = nlohmann::json::parse(kLargest);
  j[key] = nlohmann::json::parse(value);
  return j.dump();
}
}  // namespace

TEST_CASE("ofa_resnet50 sub-network JSON round-trips and equals by what runs", "[resnet50]") {
  const Subnet big = Subnet::from_json(kLargest);
  CHECK(big == Subnet::largest());
  CHECK(Subnet::from_json(big.to_json()) == big);
  CHECK(big.to_json() == kLargest);
  CHECK(Subnet::from_json(R"({"family":"ofa_resnet50","d":[2,2,2,2,2],"e":[0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35],"w":[2,2,2,2,2,2],"r":[224]})") == big);

  // Stage 0 at d = 0 runs blocks 0-1: the ratios of blocks 2-3 don't matter, neither does d[0] 0 vs 1.
  Subnet a = Subnet::smallest(160), b = a;
  b.e[2] = 0.35;
  b.e[3] = 0.25;
  b.d[0] = 1;
  CHECK(a == b);
  CHECK(a.hash() == b.hash());
  b.e[1] = 0.25;  // block 1 runs
  CHECK(a != b);
  b = a;
  b.w[5] = 1;
  CHECK(a != b);
  b = a;
  b.r = 164;
  CHECK(a != b);
  CHECK(a.block_active(1));
  CHECK_FALSE(a.block_active(2));
  CHECK(Subnet::largest().block_active(17));
}

TEST_CASE("ofa_resnet50 bad sub-network JSON names the key", "[resnet50]") {
  auto msg = [](const std::string& text) { return error_of([&] { Subnet::from_json(text); }, ErrorCode::InvalidArgument); };
  CHECK_THAT(msg(with("e", "[0.35,0.35,0.35,0.3,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35,0.35]")),
             Catch::Contains("e[3] = 0.3") && Catch::Contains("0.2, 0.25, 0.35"));
  CHECK_THAT(msg(with("e", "[0.35]")), Catch::Contains("'e' must be an array of 18") && Catch::Contains("got 1"));
  CHECK_THAT(msg(with("d", "[2,2,3,2,2]")), Catch::Contains("d[2] = 3"));
  CHECK_THAT(msg(with("d", "[2,2,2,2]")), Catch::Contains("'d' must be an array of 5"));
  CHECK_THAT(msg(with("w", "[0,0,0,0,0,3]")), Catch::Contains("w[5] = 3"));
  CHECK_THAT(msg(with("w", "[0,0,0,0,0,1.5]")), Catch::Contains("w[5]"));
  CHECK_THAT(msg(with("r", "16")), Catch::Contains("r = 16"));
  CHECK_THAT(msg(with("ks", "[3]")), Catch::Contains("unknown key 'ks'"));
  CHECK_THAT(msg(with("family", "\"ofa_mbv3\"")), Catch::Contains("'family'"));
  CHECK_THAT(msg(R"({"d":[0,0,0,0,0],"w":[0,0,0,0,0,0],"r":128})"), Catch::Contains("missing 'e'"));
  CHECK_THAT(msg(R"({"d":[0,0,0,0,0],"e":[0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2],"r":128})"),
             Catch::Contains("missing 'w'"));
  CHECK_THAT(msg("[1,2]"), Catch::Contains("expected an object"));
  CHECK_THAT(msg("{\"d\":"), Catch::Contains("ofa_resnet50 subnet JSON"));
  CHECK_THAT(msg(R"({"r":224,"r":128})"), Catch::Contains("'r'"));
}

TEST_CASE("ofa_resnet50 key spellings: static names map to the dynamic ones", "[resnet50]") {
  CHECK(canonical_key("input_stem.0.conv.weight") == "input_stem.0.conv.conv.weight");
  CHECK(canonical_key("input_stem.0.conv.conv.weight") == "input_stem.0.conv.conv.weight");
  CHECK(canonical_key("input_stem.0.bn.running_var") == "input_stem.0.bn.bn.running_var");
  CHECK(canonical_key("input_stem.1.conv.conv.weight") == "input_stem.1.conv.conv.conv.weight");
  CHECK(canonical_key("input_stem.1.conv.conv.conv.weight") == "input_stem.1.conv.conv.conv.weight");
  CHECK(canonical_key("input_stem.1.conv.bn.weight") == "input_stem.1.conv.bn.bn.weight");
  CHECK(canonical_key("blocks.7.conv2.bn.bias") == "blocks.7.conv2.bn.bn.bias");
  CHECK(canonical_key("blocks.4.downsample.conv.weight") == "blocks.4.downsample.conv.conv.weight");
  CHECK(canonical_key("classifier.linear.weight") == "classifier.linear.linear.weight");
  CHECK(canonical_key("classifier.linear.linear.bias") == "classifier.linear.linear.bias");
  CHECK(canonical_key("something.else") == "something.else");
  CHECK(canonical_key("module.blocks.4.downsample.conv.weight") == "blocks.4.downsample.conv.conv.weight");
}

TEST_CASE("ofa_resnet50 full-size layout: every key and shape of the published supernet", "[resnet50][shared]") {
  std::ifstream in(dynn::test::shared_path("docs/ofa_resnet50_keys.txt"));
  std::vector<TensorSpec> listed;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f(line);
    std::string key, shape, dtype;
    std::getline(f, key, '\t');
    std::getline(f, shape, '\t');
    std::getline(f, dtype, '\t');
    TensorSpec t;
    t.key = key;
    for (const auto& v : nlohmann::json::parse(shape)) t.shape.push_back(v.get<int64_t>());
    t.optional = dtype == "int64";
    listed.push_back(t);
  }
  const auto ours = expected_tensors(Widths::published());
  REQUIRE(listed.size() == 368);
  REQUIRE(ours.size() == listed.size());
  int64_t params = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    INFO(listed[i].key);
    CHECK(ours[i].key == listed[i].key);
    CHECK(ours[i].shape == listed[i].shape);
    CHECK(ours[i].optional == listed[i].optional);
    const bool running = ours[i].key.find("running_") != std::string::npos;
    if (!ours[i].optional && !running) {
      int64_t n = 1;
      for (int64_t d : ours[i].shape) n *= d;
      params += n;
    }
  }
  CHECK(params == 48105992);

  // Widths read back from shapes of that layout, in the static spelling.
  StateDict sd;
  for (const auto& t : ours) {
    if (t.key.rfind("input_stem.0.conv", 0) != 0 && t.key.rfind("input_stem.2.conv", 0) != 0 &&
        t.key.find(".conv3.conv.conv.weight") == std::string::npos && t.key.rfind("classifier.linear.linear.weight", 0) != 0)
      continue;
    std::string key = t.key;
    for (const auto& [from, to] : {std::pair<std::string, std::string>{".conv.conv.weight", ".conv.weight"},
                                   {".linear.linear.", ".linear."}})
      if (const auto at = key.find(from); at != std::string::npos) key.replace(at, from.size(), to);
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    sd.set(key, TensorData::from_float(t.shape, std::vector<float>(static_cast<size_t>(n), 0.f)));
  }
  const Widths back = widths_from_state_dict(sd);
  CHECK(back.stem == 64);
  CHECK(back.stem_mid == 32);
  CHECK(back.stage == std::array<int, 4>{256, 512, 1024, 2048});
  CHECK(back.num_classes == 1000);
}

TEST_CASE("ofa_resnet50 what runs matches the reference's derivation for every fixture case", "[resnet50][shared]") {
  const auto dir = dynn::test::shared_path("fixtures/ofa_resnet50_narrow");
  const StateDict sd = load_checkpoint((dir / "supernet.pth").string());
  REQUIRE(looks_like(sd));
  const Widths w = widths_from_state_dict(sd);
  CHECK(w.stem == 16);
  CHECK(w.stem_mid == 8);
  CHECK(w.stage == std::array<int, 4>{64, 128, 256, 512});
  CHECK(w.num_classes == 1000);

  // Every tensor present with the shape the widths imply; the supernet's parameter count.
  const auto specs = expected_tensors(w);
  CHECK(specs.size() == sd.size());
  int64_t params = 0;
  for (const auto& t : specs) {
    const TensorData* found = nullptr;
    for (const auto& [key, data] : sd.entries)
      if (canonical_key(key) == t.key) found = &data;
    INFO(t.key);
    REQUIRE(found);
    CHECK(found->shape == t.shape);
    if (!t.optional && t.key.find("running_") == std::string::npos) params += found->numel();
  }
  std::ifstream f(dir / "cases.json");
  const nlohmann::json cases = nlohmann::json::parse(f);
  CHECK(params == cases["n_parameters"].get<int64_t>());

  for (const auto& c : cases["cases"]) {
    INFO(c["name"].get<std::string>());
    const Subnet s = Subnet::from_json(c["subnet"].dump());
    const ActiveNet n = resolve(w, s);
    const auto& d = c["derived"];
    CHECK(n.stem_mid == d["stem"][0].get<int>());
    CHECK((n.stem_residual ? n.stem_mid : 0) == d["stem"][1].get<int>());
    CHECK(n.stem == d["stem"][2].get<int>());
    std::vector<int> active, mid, stage_out(4, 0);
    for (const auto& b : n.blocks) {
      active.push_back(b.block);
      mid.push_back(b.mid);
      stage_out[static_cast<size_t>(b.stage)] = b.cout;
    }
    CHECK(active == d["active_blocks"].get<std::vector<int>>());
    CHECK(mid == d["mid"].get<std::vector<int>>());
    CHECK(stage_out == d["stage_out"].get<std::vector<int>>());
    CHECK(n.h_stem == d["spatial"]["stem"].get<int>());
    CHECK(n.h_pool == d["spatial"]["after_maxpool"].get<int>());
    CHECK(n.features == stage_out[3]);
    CHECK(macs(w, s) > 0);
    CHECK(parameters(w, s) <= params);
    if (s == Subnet::largest(s.r)) CHECK(parameters(w, s) == params);  // the largest is the whole supernet
  }
}

TEST_CASE("ofa_resnet50 MACs and parameters by hand for the smallest full-size sub-network", "[resnet50]") {
  const Widths w = Widths::published();
  const Subnet s = Subnet::smallest(224);
  const ActiveNet n = resolve(w, s);
  REQUIRE(n.blocks.size() == 10);  // 2 + 2 + 4 + 2
  CHECK(n.stem_mid == 24);
  CHECK(n.stem == 40);
  CHECK_FALSE(n.stem_residual);
  CHECK(n.features == 1328);  // make_divisible(2048 * 0.65 = 1331.2) = int(1335.2) // 8 * 8
  CHECK(parameters(w, Subnet::largest()) > parameters(w, s));
  CHECK(macs(w, Subnet::largest()) > 2 * macs(w, s));
  // Stem at 112x112: 3->24, 24->40 3x3 convs.
  int64_t stem = 112LL * 112 * (3 * 24 * 9 + 24 * 40 * 9);
  int64_t blocks = 0;
  for (const auto& b : n.blocks) {
    blocks += int64_t(b.h_in) * b.h_in * b.cin * b.mid + int64_t(b.h_out) * b.h_out * (b.mid * b.mid * 9 + b.mid * b.cout);
    if (b.downsample) blocks += int64_t(b.h_out) * b.h_out * b.cin * b.cout;
  }
  CHECK(macs(w, s) == stem + blocks + 1328 * 1000);
}

TEST_CASE("ofa_resnet50 BN layout: the static sub-network's BN names in module order", "[resnet50]") {
  using namespace dynn::ofa_resnet50;
  const Widths w = Widths::published();
  const auto big = bn_layout(w, Subnet::largest(224));
  REQUIRE(big.size() == 3 + 18 * 3 + 4);  // three stem convs, three per block, one shortcut per stage
  CHECK(big[0] == std::make_pair(std::string("input_stem.0.bn"), 32));
  CHECK(big[1] == std::make_pair(std::string("input_stem.1.conv.bn"), 32));
  CHECK(big[2] == std::make_pair(std::string("input_stem.2.bn"), 64));
  CHECK(big[3].first == "blocks.0.conv1.bn");
  CHECK(big[6] == std::make_pair(std::string("blocks.0.downsample.bn"), 256));
  CHECK(big.back() == std::make_pair(std::string("blocks.17.conv3.bn"), 2048));
  const auto small = bn_layout(w, Subnet::smallest(128));
  REQUIRE(small.size() == 2 + 10 * 3 + 4);  // input_stem.1 skipped; base depths 2+2+4+2
  CHECK(small[1].first == "input_stem.1.bn");  // the last stem conv moves up, as in get_active_subnet
  CHECK(small.back().first == "blocks.9.conv3.bn");
  // Channel counts follow resolve(): the middle widths of the running blocks.
  const ActiveNet n = resolve(w, Subnet::smallest(128));
  CHECK(small[2].second == n.blocks[0].mid);
  CHECK(small[5] == std::make_pair(std::string("blocks.0.downsample.bn"), n.blocks[0].cout));
}
