#include <catch2/catch.hpp>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"

using namespace dynn;
using namespace dynn::ofa_mbv3;

TEST_CASE("make_divisible follows OFA exactly", "[arch]") {
  CHECK(make_divisible(19.2) == 24);   // 16 < 0.9*19.2 -> +8
  CHECK(make_divisible(28.8) == 32);
  CHECK(make_divisible(134.4) == 136);
  CHECK(make_divisible(18) == 24);     // SE of mid 72
  CHECK(make_divisible(36) == 40);
  CHECK(make_divisible(168) == 168);
  CHECK(make_divisible(3) == 8);       // min_val = divisor
  CHECK(make_divisible(100, 8, 128) == 128);
  CHECK(make_divisible(12) == 16);     // int(16)//8*8 = 16
  CHECK(make_divisible(11.9) == 8 + 8);  // floor(15.9)=15 -> 8 < 10.71 -> 16
  CHECK_THROWS_AS(make_divisible(0), Error);
  CHECK_THROWS_AS(make_divisible(-1), Error);
  CHECK_THROWS_AS(make_divisible(10, 0), Error);
}

TEST_CASE("stage widths of w1.0 and w1.2 match the spec tables", "[arch]") {
  Arch a10(1.0), a12(1.2);
  CHECK(a10.first_conv_width() == 16);
  CHECK(a12.first_conv_width() == 24);
  CHECK(a12.first_block_width() == 24);
  const int w10[] = {24, 40, 80, 112, 160}, w12[] = {32, 48, 96, 136, 192};
  for (int s = 0; s < 5; ++s) {
    CHECK(a10.stage_width(s) == w10[s]);
    CHECK(a12.stage_width(s) == w12[s]);
  }
  CHECK(a10.final_expand_width() == 960);
  CHECK(a12.final_expand_width() == 1152);
  CHECK(a10.feature_mix_width() == 1280);
  CHECK(a12.feature_mix_width() == 1536);
  CHECK_THROWS_AS(a10.stage_width(5), Error);
  CHECK_THROWS_AS(a10.block(0), Error);
  CHECK_THROWS_AS(a10.block(21), Error);
  CHECK_THROWS_AS(Arch(0.0), Error);
}

TEST_CASE("per-block mid and SE widths match the spec tables", "[arch]") {
  Arch a10(1.0), a12(1.2);
  // w1.0 block 5 (stage 2 first block): mid 72/96/144, SE 24/24/40
  const auto& b5 = a10.block(5);
  CHECK(b5.cin == 24);
  CHECK(b5.cout == 40);
  CHECK(b5.stride == 2);
  CHECK(!b5.shortcut);
  CHECK(b5.mid(3) == 72);
  CHECK(b5.mid(4) == 96);
  CHECK(b5.mid(6) == 144);
  CHECK(b5.se_mid(3) == 24);
  CHECK(b5.se_mid(4) == 24);
  CHECK(b5.se_mid(6) == 40);
  // w1.0 block 13: stride 1 but no shortcut (80 -> 112)
  CHECK(a10.block(13).stride == 1);
  CHECK(!a10.block(13).shortcut);
  CHECK(a10.block(14).shortcut);
  CHECK(a10.block(14).se_mid(3) == 88);
  CHECK(a10.block(14).se_mid_max() == 168);
  CHECK(a10.block(9).se_mid(6) == 0);  // stage 3 has no SE
  // w1.2 rows
  CHECK(a12.block(1).mid(3) == 72);
  CHECK(a12.block(6).se_mid(3) == 40);
  CHECK(a12.block(6).se_mid(4) == 48);
  CHECK(a12.block(6).se_mid(6) == 72);
  CHECK(a12.block(14).mid(6) == 816);
  CHECK(a12.block(14).se_mid(3) == 104);
  CHECK(a12.block(14).se_mid(6) == 208);
  CHECK(a12.block(18).se_mid(6) == 288);
  CHECK(a12.block(17).cin == 136);
}

TEST_CASE("feature sizes follow ceil(h/s)", "[arch]") {
  Arch a(1.0);
  auto sizes = [&](int r) {
    std::vector<int> out{Arch::first_feature_size(r)};
    for (const auto& b : a.active_blocks(SubnetConfig::largest(r)))
      if (b.info->index_in_stage == 0) out.push_back(b.h_out);
    return out;
  };
  CHECK(sizes(224) == std::vector<int>{112, 56, 28, 14, 14, 7});
  CHECK(sizes(164) == std::vector<int>{82, 41, 21, 11, 11, 6});
  CHECK(sizes(208) == std::vector<int>{104, 52, 26, 13, 13, 7});
  CHECK(a.last_feature_size(SubnetConfig::smallest(128)) == 4);
}

TEST_CASE("exact MACs: golden values of spec section 9", "[arch][macs]") {
  struct Row { double w; int r; int64_t smallest, largest; };
  const Row rows[] = {
      {1.0, 128, 41476224, 188248320},   {1.0, 160, 63240528, 291318048},
      {1.0, 192, 89841344, 417292160},   {1.0, 224, 121278672, 566170656},
      {1.2, 128, 65536896, 279987456},   {1.2, 160, 100320888, 433563888},
      {1.2, 192, 142834656, 621268416},  {1.2, 224, 193078200, 843101040},
  };
  for (const auto& row : rows) {
    INFO("w" << row.w << " r=" << row.r);
    CHECK(count_macs(SubnetConfig::smallest(row.r), row.w) == row.smallest);
    CHECK(count_macs(SubnetConfig::largest(row.r), row.w) == row.largest);
  }
}

TEST_CASE("MACs of the Dynamic-OFA nets_6 levels (spec 5.3, MACs column)", "[arch][macs]") {
  const char* cfgs[] = {
      "ks=57773557775353373377 e=64464364644646464334 d=32322 r=176",
      "ks=73577357575353353337 e=64444666334646634333 d=32332 r=176",
      "ks=55737773777577737777 e=34344443443344444444 d=33333 r=192",
      "ks=73535733555777553337 e=66334433644464464633 d=23334 r=208",
      "ks=53377333753575737757 e=66434663463466664446 d=24443 r=224",
      "ks=55555773577777557555 e=66666646646666666663 d=44444 r=224",
  };
  const double mmacs[] = {235.5, 254.0, 288.8, 375.5, 522.1, 731.1};
  Arch a(1.2);
  for (int i = 0; i < 6; ++i) {
    INFO("level " << i);
    CHECK(static_cast<double>(a.macs(SubnetConfig::parse(cfgs[i]))) / 1e6 == Approx(mmacs[i]).margin(0.051));
  }
}

TEST_CASE("MACs grow with every elastic dimension; other multipliers work", "[arch][macs]") {
  Arch a(1.0);
  auto c = SubnetConfig::smallest(224);
  const auto base = a.macs(c);
  auto c2 = c;
  c2.ks[0] = 7;
  CHECK(a.macs(c2) > base);
  c2 = c;
  c2.e[4] = 6;
  CHECK(a.macs(c2) > base);
  c2 = c;
  c2.d[2] = 4;
  CHECK(a.macs(c2) > base);
  // Skipped-block entries do not count.
  c2 = c;
  c2.ks[3] = 7;
  CHECK(a.macs(c2) == base);
  CHECK(count_macs(c, 0.75) < base);
  CHECK(Arch(0.75).stage_width(0) == make_divisible(24 * 0.75));
  CHECK_THROWS_AS(a.macs(SubnetConfig{}), Error);
}

TEST_CASE("supernet names map to width multipliers", "[arch]") {
  CHECK(width_mult_from_name("ofa_mbv3_d234_e346_k357_w1.2") == Approx(1.2));
  CHECK(width_mult_from_name("ofa_mbv3_d234_e346_k357_w1.0") == Approx(1.0));
  CHECK(supernet_name(1.2) == "ofa_mbv3_d234_e346_k357_w1.2");
  CHECK_THROWS_AS(width_mult_from_name("resnet50"), Error);
  CHECK_THROWS_AS(width_mult_from_name("ofa_mbv3_d234_e346_k357_wabc"), Error);
}

TEST_CASE("OFA MobileNetV3 sub-network parameters: the largest is the supernet without its kernel transforms", "[arch]") {
  // docs/ofa_spec.md: w1.0 has 7,678,880 parameters, 20 x (625 + 81) of them transform matrices;
  // w1.2 has 10,715,752.
  CHECK(dynn::ofa_mbv3::Arch(1.0).parameters(dynn::SubnetConfig::largest(224)) == 7678880 - 20 * (625 + 81));
  CHECK(dynn::ofa_mbv3::Arch(1.2).parameters(dynn::SubnetConfig::largest(224)) == 10715752 - 20 * (625 + 81));
  CHECK(dynn::ofa_mbv3::Arch(1.0).parameters(dynn::SubnetConfig::smallest(224)) <
        dynn::ofa_mbv3::Arch(1.0).parameters(dynn::SubnetConfig::largest(224)) / 2);
  // The resolution changes MACs, never parameters.
  CHECK(dynn::ofa_mbv3::Arch(1.0).parameters(dynn::SubnetConfig::largest(128)) ==
        dynn::ofa_mbv3::Arch(1.0).parameters(dynn::SubnetConfig::largest(224)));
}
