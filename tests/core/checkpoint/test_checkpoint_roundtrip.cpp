#include <sys/stat.h>
// save_checkpoint / load round trips, dtype and stride conversion, and hand-built pickles that use
// the less common but legal forms (legacy container, views, parameters, protocol 4 opcodes).
#include <cmath>
#include <cstring>
#include <limits>

#include "ckpt_builders.hpp"
#include "core/checkpoint/zip.hpp"
#include "dynn/checkpoint.hpp"
#include "dynn/error.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::Pk;

namespace {

template <class T>
TensorData typed(DType dt, std::vector<int64_t> shape, const std::vector<T>& v) {
  return TensorData::from_bytes(dt, std::move(shape), v.data(), v.size() * sizeof(T));
}

StateDict sample() {
  StateDict sd;
  sd.set("conv.weight", TensorData::from_float({2, 3}, {1, 2, 3, 4, 5, 6}));
  TensorData tr = sd.at("conv.weight");  // a transposed view of the same storage
  tr.shape = {3, 2};
  tr.strides = {1, 3};
  sd.set("conv.weight_t", tr);
  TensorData tail = sd.at("conv.weight");  // row 1 only: offset view
  tail.shape = {3};
  tail.strides = {1};
  tail.storage_offset = 3;
  sd.set("conv.row1", tail);
  sd.set("bn.num_batches_tracked", typed<int64_t>(DType::Int64, {}, {123456789012345LL}));
  sd.set("half", typed<uint16_t>(DType::Float16, {5}, {0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00}));
  sd.set("bf16", typed<uint16_t>(DType::BFloat16, {2}, {0x3f80, 0xc040}));
  sd.set("f64", typed<double>(DType::Float64, {2}, {0.1, -1e300}));
  sd.set("i32", typed<int32_t>(DType::Int32, {2}, {-7, 1 << 30}));
  sd.set("i16", typed<int16_t>(DType::Int16, {1}, {-300}));
  sd.set("i8", typed<int8_t>(DType::Int8, {2}, {-128, 127}));
  sd.set("u8", typed<uint8_t>(DType::UInt8, {2}, {0, 255}));
  sd.set("b", typed<uint8_t>(DType::Bool, {3}, {1, 0, 1}));
  sd.set("empty", TensorData::from_float({0, 4}, {}));
  return sd;
}

}  // namespace

TEST_CASE("checkpoint: dtypes, strides and shape_string", "[checkpoint]") {
  const StateDict sd = sample();
  CHECK(sd.at("conv.weight_t").to_float() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(sd.at("conv.row1").to_float() == std::vector<float>{4, 5, 6});
  CHECK_FALSE(sd.at("conv.weight_t").is_contiguous());
  CHECK(sd.at("conv.weight").is_contiguous());
  CHECK(sd.at("bn.num_batches_tracked").to_double() == std::vector<double>{123456789012345.0});
  CHECK(sd.at("bn.num_batches_tracked").shape_string() == "[]");
  CHECK(sd.at("conv.weight_t").shape_string() == "[3, 2]");
  const auto h = sd.at("half").to_float();
  CHECK(h[0] == 1.0f);
  CHECK(h[1] == -2.0f);
  CHECK(h[2] == 65504.0f);
  CHECK(h[3] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(h[4]));
  CHECK(sd.at("bf16").to_float() == std::vector<float>{1.0f, -3.0f});
  CHECK(sd.at("f64").to_double() == std::vector<double>{0.1, -1e300});
  CHECK(sd.at("i32").to_double() == std::vector<double>{-7, 1 << 30});
  CHECK(sd.at("i16").to_float() == std::vector<float>{-300});
  CHECK(sd.at("i8").to_float() == std::vector<float>{-128, 127});
  CHECK(sd.at("u8").to_float() == std::vector<float>{0, 255});
  CHECK(sd.at("b").to_float() == std::vector<float>{1, 0, 1});
  CHECK(sd.at("empty").to_float().empty());
  CHECK(sd.at("empty").numel() == 0);
  CHECK_THROWS_AS(sd.at("missing"), Error);
  try {
    sd.at("missing");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::NotFound);
    CHECK(std::string(e.what()).find("missing") != std::string::npos);
  }
  // A hand-made view that leaves its storage is refused, not read out of bounds.
  TensorData bad = sd.at("conv.weight");
  bad.storage_offset = 4;
  CHECK_THROWS_AS(bad.to_float(), Error);
  CHECK_THROWS_AS(TensorData::from_float({2, 2}, {1, 2, 3}), Error);
}

TEST_CASE("checkpoint: save then load round-trips every dtype, view and shared storage", "[checkpoint]") {
  const StateDict sd = sample();
  test::TempDir dir("ckpt-roundtrip");
  const std::string path = (dir.path / "sd.pth").string();
  save_checkpoint(path, sd);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CheckpointInfo info;
  const StateDict back = load_checkpoint(path, &info);
  CHECK(info.container == "zip");
  CHECK_FALSE(info.wrapped);
  REQUIRE(back.keys() == sd.keys());
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& a = sd.entries[i].second;
    const auto& b = back.entries[i].second;
    INFO(sd.entries[i].first);
    CHECK(a.dtype == b.dtype);
    CHECK(a.shape == b.shape);
    CHECK(a.strides == b.strides);
    CHECK(a.storage_offset == b.storage_offset);
    CHECK(b.location == "cpu");
    const auto x = a.to_double(), y = b.to_double();
    REQUIRE(x.size() == y.size());
    CHECK((x.empty() || std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0));
  }
  CHECK(back.at("conv.weight").storage == back.at("conv.weight_t").storage);
  CHECK(back.at("conv.weight").storage == back.at("conv.row1").storage);
  CHECK(back.at("conv.weight").storage != back.at("half").storage);

  // Layout as PyTorch writes it: stored entries, data 64-byte aligned, version "3\n".
  const auto bytes = test::read_bytes(path);
  CHECK(bytes == save_checkpoint_to_memory(sd));
  const ckpt::ZipReader zip(bytes.data(), bytes.size());
  REQUIRE(zip.find("archive/data.pkl"));
  REQUIRE(zip.find("archive/version"));
  CHECK(std::string(reinterpret_cast<const char*>(zip.read(*zip.find("archive/version"))), 2) == "3\n");
  for (const auto& e : zip.entries()) {
    INFO(e.name);
    CHECK(e.data_offset % 64 == 0);
    CHECK(e.method == 0);
  }
  // 12 distinct storages (three tensors share one).
  size_t n_data = 0;
  for (const auto& e : zip.entries()) n_data += e.name.rfind("archive/data/", 0) == 0;
  CHECK(n_data == sd.size() - 2);
}

TEST_CASE("checkpoint: save refuses tensors it cannot describe", "[checkpoint]") {
  StateDict sd;
  TensorData t = TensorData::from_float({2}, {1, 2});
  t.shape = {3};
  sd.set("too_long", t);
  CHECK_THROWS_AS(save_checkpoint_to_memory(sd), Error);
  StateDict dup;
  dup.entries.emplace_back("a", TensorData::from_float({1}, {1}));
  dup.entries.emplace_back("a", TensorData::from_float({1}, {2}));
  CHECK_THROWS_AS(save_checkpoint_to_memory(dup), Error);
  StateDict nostorage;
  nostorage.entries.emplace_back("x", TensorData{});
  CHECK_THROWS_AS(save_checkpoint_to_memory(nostorage), Error);
}

TEST_CASE("checkpoint: legacy container with views, parameters, cuda tags and _metadata", "[checkpoint]") {
  // OrderedDict([('w', Parameter(view of root 'r0' [1:5] as 2x2)), ('n', int64 scalar)]),
  // with BUILD {'_metadata': ...}, storages listed in an order different from use.
  Pk o;
  o.proto().global("collections", "OrderedDict").op(')').op('R').mark();
  o.str("w").global("torch._utils", "_rebuild_parameter").mark();
  o.global("torch._utils", "_rebuild_tensor_v2").mark();
  o.mark().str("storage").global("torch.cuda", "FloatStorage").str("r0").str("cuda:0").op('K').op(6);
  o.str("v0").op('K').op(1).op('K').op(4).op(0x87).tuple().op('Q');  // view_metadata ('v0', 1, 4)
  o.op('K').op(0).ints({2, 2}).ints({2, 1}).op(0x89).global("collections", "OrderedDict").op(')').op('R').tuple().op('R');
  o.op(0x88).global("collections", "OrderedDict").op(')').op('R').tuple().op('R');
  o.str("n").tensor("LongStorage", "r1", 1, 0, {}, {}, true);
  o.str("_metadata").op('}').op('u');
  o.op('}').str("_metadata").op('}').op('s').op('b').stop();
  std::vector<uint8_t> r1(8);
  const int64_t nbt = 42;
  std::memcpy(r1.data(), &nbt, 8);
  const auto legacy = test::legacy_with(o.b, {{"r1", r1, 8}, {"r0", test::floats_bytes({0, 1, 2, 3, 4, 5}), 4}});
  CheckpointInfo info;
  const StateDict sd = load_checkpoint_from_memory(legacy.data(), legacy.size(), &info);
  CHECK(info.container == "legacy");
  REQUIRE(sd.keys() == std::vector<std::string>{"w", "n"});
  CHECK(sd.at("w").to_float() == std::vector<float>{1, 2, 3, 4});
  CHECK(sd.at("w").location == "cuda:0");
  CHECK(sd.at("w").shape_string() == "[2, 2]");
  CHECK(sd.at("n").dtype == DType::Int64);
  CHECK(sd.at("n").to_double() == std::vector<double>{42});
}

TEST_CASE("checkpoint: protocol 4 opcodes, wrapped dict with other keys, duplicate keys", "[checkpoint]") {
  // {'epoch': 3, 'state_dict': {'a': t0, 'b': t1, 'a': t2}} with FRAME, MEMOIZE, SHORT_BINUNICODE,
  // STACK_GLOBAL and BINGET of a memoized global.
  Pk p;
  p.op(0x80).op(4).op(0x95).le(0, 8);
  p.op('}').op(0x94).mark();
  p.op(0x8c).op(5).raw("epoch").op('K').op(3);
  p.op(0x8c).op(10).raw("state_dict").op('}').mark();
  auto tensor = [&](const std::string& key, int64_t off) {
    p.op(0x8c).op(static_cast<uint8_t>(key.size())).raw(key);
    p.op(0x8c).op(12).raw("torch._utils").op(0x8c).op(18).raw("_rebuild_tensor_v2").op(0x93);
    p.mark().mark().str("storage").op(0x8c).op(5).raw("torch").op(0x8c).op(12).raw("FloatStorage").op(0x93);
    p.str("0").str("cpu").op('K').op(3).tuple().op('Q');
    p.op('K').op(static_cast<uint8_t>(off)).op('K').op(1).op(0x85).op('K').op(1).op(0x85).op(0x89);
    p.global("collections", "OrderedDict").op(')').op('R').tuple().op('R');
  };
  tensor("a", 0);
  tensor("b", 1);
  tensor("a", 2);
  p.op('u').op('u').stop();
  const auto file = test::zip_with(p.b, {{"0", test::floats_bytes({10, 11, 12})}});
  CheckpointInfo info;
  const StateDict sd = load_checkpoint_from_memory(file.data(), file.size(), &info);
  CHECK(info.wrapped);
  REQUIRE(sd.keys() == std::vector<std::string>{"a", "b"});  // first position, last value
  CHECK(sd.at("a").to_float() == std::vector<float>{12});
  CHECK(sd.at("b").to_float() == std::vector<float>{11});
}

TEST_CASE("checkpoint: file-level errors", "[checkpoint]") {
  test::TempDir dir("ckpt-errors");
  auto code_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  CHECK(code_of([&] { load_checkpoint((dir.path / "nope.pth").string()); }) == ErrorCode::NotFound);
  CHECK(code_of([&] { load_checkpoint(dir.path.string()); }) == ErrorCode::InvalidArgument);  // a folder
  // Non-regular files are refused at once (a FIFO never blocks), naming what they are.
  const auto fifo = dir.path / "pipe.pth";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  try {
    load_checkpoint(fifo.string());
    FAIL("a FIFO loaded");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK_THAT(e.what(), Catch::Contains("pipe.pth") && Catch::Contains("FIFO"));
  }
  CHECK(code_of([&] { load_checkpoint("/dev/zero"); }) == ErrorCode::InvalidArgument);
  { std::ofstream((dir.path / "empty.pth").string()); }
  CHECK(code_of([&] { load_checkpoint((dir.path / "empty.pth").string()); }) == ErrorCode::Parse);
  CHECK(code_of([&] { save_checkpoint((dir.path / "no/such/dir/x.pth").string(), sample()); }) == ErrorCode::Io);
  CHECK(code_of([&] { load_checkpoint_from_memory(nullptr, 0); }) == ErrorCode::Parse);
}

TEST_CASE("checkpoint: zip64 central directory and extra fields are read", "[checkpoint]") {
  // Rewrite a saved archive's central directory in zip64 form: saturated 32-bit fields, the real
  // values in zip64 extra fields, a zip64 end record and locator.
  const auto zip = save_checkpoint_to_memory(sample());
  auto rd = [&](size_t p, int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= static_cast<uint64_t>(zip[p + k]) << (8 * k);
    return v;
  };
  const size_t eocd = zip.size() - 22;
  REQUIRE(rd(eocd, 4) == 0x06054b50u);
  const size_t n = rd(eocd + 10, 2), cd_off = rd(eocd + 16, 4);
  Pk out;
  out.b.assign(zip.begin(), zip.begin() + static_cast<std::ptrdiff_t>(cd_off));
  size_t p = cd_off;
  for (size_t i = 0; i < n; ++i) {
    const size_t nlen = rd(p + 28, 2);
    const uint64_t size = rd(p + 20, 4), local = rd(p + 42, 4);
    out.b.insert(out.b.end(), zip.begin() + static_cast<std::ptrdiff_t>(p), zip.begin() + static_cast<std::ptrdiff_t>(p + 20));
    out.le(0xffffffffu, 4).le(0xffffffffu, 4).le(nlen, 2).le(4 + 24, 2).le(0, 2).le(0, 2).le(0, 2).le(0, 4);
    out.le(0xffffffffu, 4);
    out.b.insert(out.b.end(), zip.begin() + static_cast<std::ptrdiff_t>(p + 46),
                 zip.begin() + static_cast<std::ptrdiff_t>(p + 46 + nlen));
    out.le(1, 2).le(24, 2).le(size, 8).le(size, 8).le(local, 8);
    p += 46 + nlen + rd(p + 30, 2) + rd(p + 32, 2);
  }
  const size_t cd_size = out.b.size() - cd_off, z64 = out.b.size();
  out.le(0x06064b50u, 4).le(44, 8).le(45, 2).le(45, 2).le(0, 4).le(0, 4).le(n, 8).le(n, 8).le(cd_size, 8).le(cd_off, 8);
  out.le(0x07064b50u, 4).le(0, 4).le(z64, 8).le(1, 4);
  out.le(0x06054b50u, 4).le(0, 2).le(0, 2).le(0xffff, 2).le(0xffff, 2).le(0xffffffffu, 4).le(0xffffffffu, 4).le(0, 2);
  CheckpointInfo info;
  const StateDict back = load_checkpoint_from_memory(out.b.data(), out.b.size(), &info);
  CHECK(info.container == "zip");
  CHECK(back.keys() == sample().keys());
  CHECK(back.at("conv.weight_t").to_float() == std::vector<float>{1, 4, 2, 5, 3, 6});
  // A zip64 extra field that is too short is an error, not an over-read.
  auto shortx = out.b;
  for (size_t q = cd_off; q + 4 <= z64; ++q)
    if (shortx[q] == 1 && shortx[q + 1] == 0 && shortx[q + 2] == 24 && shortx[q + 3] == 0) shortx[q + 2] = 8;
  CHECK_THROWS_AS(load_checkpoint_from_memory(shortx.data(), shortx.size()), Error);
}
