// Corrupt, truncated and hostile checkpoints: every one must end in a dynn::Error (never a crash,
// a hang, another exception type or an unbounded allocation). Small synthetic files, so these run
// under ASan/UBSan; the same loops over the shared fixtures are in test_checkpoint_fixtures_robust.cpp.
#include <cstring>
#include <random>

#include "ckpt_builders.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::Pk;

namespace {

// Loads and, on success, touches every tensor; returns true when it loaded, false on dynn::Error.
// Any other exception fails the test.
bool loads(const std::vector<uint8_t>& bytes, std::string* why = nullptr) {
  try {
    const StateDict sd = load_checkpoint_from_memory(bytes.data(), bytes.size());
    for (const auto& kv : sd.entries) {
      const auto v = kv.second.to_double();
      REQUIRE(v.size() == static_cast<size_t>(kv.second.numel()));
      REQUIRE(v.size() <= kv.second.storage->size());  // bounded by the bytes present
    }
    return true;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  } catch (const std::exception& e) {
    FAIL("non-dynn exception: " << e.what());
  }
  return false;
}

// Expects a dynn::Error whose message contains `needle`.
void expect_error(const std::vector<uint8_t>& bytes, const std::string& needle) {
  std::string why;
  INFO("expecting an error mentioning: " << needle);
  REQUIRE_FALSE(loads(bytes, &why));
  INFO("got: " << why);
  CHECK(why.find(needle) != std::string::npos);
}

StateDict small_state_dict() {
  StateDict sd;
  sd.set("layer.weight", TensorData::from_float({3, 2}, {1, 2, 3, 4, 5, 6}));
  TensorData t = sd.at("layer.weight");
  t.shape = {2, 3};
  t.strides = {1, 2};
  sd.set("layer.weight_t", t);
  const int64_t n = 9;
  sd.set("bn.num_batches_tracked", TensorData::from_bytes(DType::Int64, {}, &n, 8));
  const uint16_t h[2] = {0x3c00, 0x4000};
  sd.set("half", TensorData::from_bytes(DType::Float16, {2}, h, 4));
  return sd;
}

// The same kind of content in the legacy container.
std::vector<uint8_t> small_legacy() {
  Pk o;
  o.proto().op('}').mark();
  o.str("a").tensor("FloatStorage", "k0", 4, 0, {2, 2}, {2, 1}, true);
  o.str("b").tensor("FloatStorage", "k0", 4, 1, {3}, {1}, true);
  o.str("n").tensor("LongStorage", "k1", 1, 0, {}, {}, true);
  o.op('u').stop();
  std::vector<uint8_t> n(8, 0);
  n[0] = 7;
  return test::legacy_with(o.b, {{"k1", n, 8}, {"k0", test::floats_bytes({1, 2, 3, 4}), 4}});
}

std::vector<uint8_t> one_tensor_pickle(const std::string& cls, int64_t numel, int64_t offset,
                                       const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
  Pk p;
  p.proto().op('}').str("t").tensor(cls, "0", numel, offset, size, stride).op('s').stop();
  return p.b;
}

}  // namespace

TEST_CASE("checkpoint robustness: the synthetic files load", "[checkpoint]") {
  REQUIRE(loads(save_checkpoint_to_memory(small_state_dict())));
  REQUIRE(loads(small_legacy()));
  const StateDict sd = load_checkpoint_from_memory(small_legacy().data(), small_legacy().size());
  CHECK(sd.at("b").to_float() == std::vector<float>{2, 3, 4});
}

TEST_CASE("checkpoint robustness: truncation at every offset throws", "[checkpoint]") {
  for (const auto& file : {save_checkpoint_to_memory(small_state_dict()), small_legacy()}) {
    INFO("file of " << file.size() << " bytes");
    for (size_t n = 0; n < file.size(); ++n) {
      INFO("truncated to " << n);
      const std::vector<uint8_t> cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK_FALSE(loads(cut));
    }
  }
}

TEST_CASE("checkpoint robustness: random byte mutations never crash", "[checkpoint]") {
  std::mt19937 rng(12345);
  // Raw legacy bytes (no checksum: the pickle VM sees the damage), a zip whose pickle is mutated
  // and re-packed with valid CRCs (ditto), and raw zip bytes (the container checks see it).
  const auto legacy = small_legacy();
  const auto zip = save_checkpoint_to_memory(small_state_dict());
  const ckpt::ZipReader zr(zip.data(), zip.size());
  const auto* pe = zr.find("archive/data.pkl");
  REQUIRE(pe);
  const std::vector<uint8_t> pkl(zip.begin() + static_cast<std::ptrdiff_t>(pe->data_offset),
                                 zip.begin() + static_cast<std::ptrdiff_t>(pe->data_offset + pe->size));
  std::vector<std::pair<std::string, std::vector<uint8_t>>> data;
  for (const auto& e : zr.entries())
    if (e.name.rfind("archive/data/", 0) == 0)
      data.emplace_back(e.name.substr(13), std::vector<uint8_t>(zr.read(e), zr.read(e) + e.size));
  REQUIRE(data.size() == 3);  // weight (shared by its transpose), num_batches_tracked, half

  auto mutate = [&](std::vector<uint8_t> b) {
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      const size_t at = rng() % b.size();
      switch (rng() % 4) {
        case 0: b[at] = static_cast<uint8_t>(rng()); break;
        case 1: b[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
        case 2: b[at] = 0xff; break;
        default: b[at] = static_cast<uint8_t>(b[at] + 1); break;
      }
    }
    return b;
  };
  size_t failed[3] = {0, 0, 0};
  for (int i = 0; i < 3000; ++i) failed[0] += !loads(mutate(legacy));
  for (int i = 0; i < 3000; ++i) failed[1] += !loads(test::zip_with(mutate(pkl), data));
  for (int i = 0; i < 1000; ++i) failed[2] += !loads(mutate(zip));
  // Most mutations must be caught (the rest hit values such as float payloads).
  CHECK(failed[0] > 1000);
  CHECK(failed[1] > 1000);
  CHECK(failed[2] > 700);  // the rest hit padding, timestamps or the version entry
}

TEST_CASE("checkpoint robustness: hostile pickles are rejected by name", "[checkpoint]") {
  const auto four = test::floats_bytes({1, 2, 3, 4});
  SECTION("unknown global") {
    Pk p;
    p.proto().global("os", "system").str("echo pwned").op(0x85).op('R').stop();
    expect_error(test::zip_with(p.b), "'os.system' is not allowed");
    Pk q;
    q.op(0x80).op(4).op(0x8c).op(8).raw("builtins").op(0x8c).op(4).raw("eval").op(0x93).stop();
    expect_error(test::zip_with(q.b), "'builtins.eval' is not allowed");
  }
  SECTION("huge string lengths") {
    Pk p;
    p.proto().op('X').le(0xfffffff0u, 4).raw("abc").stop();
    expect_error(test::zip_with(p.b), "string of 4294967280 bytes");
    Pk q;
    q.op(0x80).op(4).op(0x8e).le(~uint64_t{0} - 5, 8).stop();
    expect_error(test::zip_with(q.b), "bytes, only");
    Pk r;
    r.proto().op('T').le(0x80000000u, 4).stop();
    expect_error(test::zip_with(r.b), "negative length");
    Pk f;
    f.op(0x80).op(4).op(0x95).le(uint64_t{1} << 62, 8).op('N').stop();
    expect_error(test::zip_with(f.b), "FRAME");
  }
  SECTION("memo index out of range") {
    Pk p;
    p.proto().op('N').op('q').op(0).op('h').op(5).stop();
    expect_error(test::zip_with(p.b), "memo index 5");
    Pk q;
    q.proto().op('j').le(0xffffffffu, 4).stop();
    expect_error(test::zip_with(q.b), "memo index 4294967295");
  }
  SECTION("deep nesting, self reference, stack abuse") {
    Pk deep;
    deep.proto().op(')');
    for (int i = 0; i < 200000; ++i) deep.op(0x85);  // 200k nested 1-tuples
    deep.stop();
    expect_error(test::zip_with(deep.b), "holds a tuple");
    Pk lists;
    lists.proto();
    for (int i = 0; i < 100000; ++i) lists.op(']');
    for (int i = 0; i < 99999; ++i) lists.op('a');
    lists.stop();
    expect_error(test::zip_with(lists.b), "holds a list");
    Pk marks;
    marks.proto();
    for (int i = 0; i < 100000; ++i) marks.op('(');
    marks.op('N').stop();
    expect_error(test::zip_with(marks.b), "open MARK");
    Pk self;  // d = {}; d['state_dict'] = d
    self.proto().op('}').op('q').op(0).str("state_dict").op('h').op(0).op('s').stop();
    expect_error(test::zip_with(self.b), "entry 'state_dict' is a dict of 1, not a tensor");
    Pk under;
    under.proto().op('R').stop();
    expect_error(test::zip_with(under.b), "stack underflow");
    Pk nostop;
    nostop.proto().op('N');
    expect_error(test::zip_with(nostop.b), "no STOP");
    Pk badop;
    badop.proto().op('I').raw("1\n").stop();
    expect_error(test::zip_with(badop.b), "unsupported pickle opcode 0x49 ('I')");
    Pk proto9;
    proto9.op(0x80).op(9).op('N').stop();
    expect_error(test::zip_with(proto9.b), "protocol 9");
  }
  SECTION("tensor geometry against its storage") {
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {10}, {1}), {{"0", four}}),
                 "more elements than its storage");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 2, {3}, {1}), {{"0", four}}), "passes the end");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {2, 2}, {3, 1}), {{"0", four}}),
                 "passes the end");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {-1}, {1}), {{"0", four}}), "negative size");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {2}, {-1}), {{"0", four}}), "negative stride");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, -1, {2}, {1}), {{"0", four}}), "negative storage offset");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {2, 2}, {1}), {{"0", four}}),
                 "size has 2 dims but stride has 1");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {1, INT64_MAX}, {INT64_MAX, INT64_MAX}), {{"0", four}}),
                 "more elements than its storage");
    // Huge numel in the persistent id against a small data entry.
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", int64_t{1} << 60, 0, {2}, {1}), {{"0", four}}),
                 "holds 16 bytes");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", -5, 0, {2}, {1}), {{"0", four}}),
                 "negative element count");
    expect_error(test::zip_with(one_tensor_pickle("FloatStorage", 4, 0, {2}, {1})), "storage entry 'archive/data/0' is missing");
    expect_error(test::zip_with(one_tensor_pickle("QInt8Storage", 4, 0, {2}, {1}), {{"0", four}}),
                 "'torch.QInt8Storage' is not allowed");
  }
  SECTION("bad persistent ids and rebuild calls") {
    Pk p;
    p.proto().op('}').str("t").global("torch._utils", "_rebuild_tensor_v2").mark();
    p.mark().str("module").str("x").tuple().op('Q');
    expect_error(test::zip_with(p.stop().b), "must start with 'storage'");
    Pk q;
    q.proto().global("torch._utils", "_rebuild_tensor_v2").mark().op('N').tuple().op('R').stop();
    expect_error(test::zip_with(q.b), "called with 1 arguments");
    Pk r;
    r.proto().global("collections", "OrderedDict").mark().op('N').tuple().op('R').stop();
    expect_error(test::zip_with(r.b), "OrderedDict() called with 1 arguments");
    Pk s;
    s.proto().op('K').op(1).op(')').op('R').stop();
    expect_error(test::zip_with(s.b), "REDUCE on a non-callable int 1");
  }
  SECTION("state dict shapes that are not supported") {
    Pk mixed;  // unwrapped dict with a non-tensor: the error lists the top-level keys
    mixed.proto().op('}').mark().str("a").tensor("FloatStorage", "0", 4, 0, {4}, {1}).str("step").op('K').op(1).op('u').stop();
    expect_error(test::zip_with(mixed.b, {{"0", four}}), "top-level keys: {'a': tensor of 1 dims, 'step': int 1}");
    Pk p;  // {'epoch': 3, 'model': {...}}: no state_dict and not all tensors
    p.proto().op('}').mark().str("epoch").op('K').op(3).str("model").op('}').op('u').stop();
    expect_error(test::zip_with(p.b), "top-level keys: {'epoch': int 3, 'model': dict of 0}");
    Pk q;  // a non-tensor that is not _metadata inside the state dict
    q.proto().op('}').str("state_dict").op('}').mark().str("a").tensor("FloatStorage", "0", 4, 0, {4}, {1});
    q.str("step").op('K').op(1).op('u').op('s').stop();
    expect_error(test::zip_with(q.b, {{"0", four}}), "entry 'step' is a int 1, not a tensor");
    Pk m;  // ... but '_metadata' is skipped
    m.proto().op('}').mark().str("a").tensor("FloatStorage", "0", 4, 0, {4}, {1}).str("_metadata").op('}').op('u').stop();
    CHECK(loads(test::zip_with(m.b, {{"0", four}})));
    Pk k;
    k.proto().op('}').op('K').op(1).tensor("FloatStorage", "0", 4, 0, {4}, {1}).op('s').stop();
    expect_error(test::zip_with(k.b, {{"0", four}}), "key #0 is a int 1");
  }
  SECTION("containers") {
    auto zip = save_checkpoint_to_memory(small_state_dict());
    // Deflated entry: patch the method field in every header (CRC still matches the stored data).
    auto deflated = zip;
    for (size_t i = 0; i + 4 <= deflated.size(); ++i) {
      const uint32_t sig = deflated[i] | deflated[i + 1] << 8 | deflated[i + 2] << 16 | uint32_t{deflated[i + 3]} << 24;
      if (sig == 0x04034b50u) deflated[i + 8] = 8;
      if (sig == 0x02014b50u) deflated[i + 10] = 8;
    }
    expect_error(deflated, "is compressed (method 8, deflate)");
    std::vector<uint8_t> garbage = {'h', 'e', 'l', 'l', 'o'};
    expect_error(garbage, "not a torch.save file");
    expect_error({}, "empty file");
    // Legacy: huge storage count, wrong magic, big-endian sys info, unknown listed key.
    auto legacy = small_legacy();
    auto big = legacy;
    for (size_t i = 0; i < 8; ++i) big[big.size() - 16 - 8 + i] = i == 7 ? 0x7f : 0xff;
    expect_error(big, "elements in the data");
    auto magic = legacy;
    magic[5] ^= 1;
    expect_error(magic, "magic number");
    Pk o;
    o.proto().op('}').stop();
    expect_error(test::legacy_with(o.b, {{"zz", four, 4}}), "storage 'zz' is listed but no tensor declares it");
  }
}
