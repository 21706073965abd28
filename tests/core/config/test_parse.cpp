// The checked number parser (dynn::parse_int / parse_double), ellipsize, and strict JSON
// (json_strict): hostile texts are errors naming the option or field and the value as written.
#include <cerrno>
#include <cfloat>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_strict.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"
#include "test_support.hpp"

using namespace dynn;
using dynn::test::error_of;
using nlohmann::json;

namespace {

struct Rng {
  uint64_t s;
  size_t below(size_t n) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>((s >> 33) % n);
  }
};

bool valid_utf8(const std::string& m) {
  size_t i = 0;
  while (i < m.size()) {
    const auto c = static_cast<unsigned char>(m[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > m.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(m[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

}  // namespace

TEST_CASE("parse_int: the whole text is a decimal integer inside the range", "[parse]") {
  CHECK(parse_int("0", "x", 0, 0) == 0);
  CHECK(parse_int("-0", "x", 0, 0) == 0);
  CHECK(parse_int("9223372036854775807", "x", INT64_MIN, INT64_MAX) == INT64_MAX);
  CHECK(parse_int("-9223372036854775808", "x", INT64_MIN, INT64_MAX) == INT64_MIN);
  for (const char* bad : {"", " 12", "12 ", "\t12", "12\n", "+12", "0x10", "1e3", "1.0", "nan", "inf", "-inf", "224xyz",
                          "-", "--1", "1-", "9223372036854775808", "-9223372036854775809", "18446744073709551615",
                          "99999999999999999999999999", "\xef\xbc\x91"}) {
    const std::string m = error_of([&] { parse_int(bad, "--population", INT64_MIN, INT64_MAX); }, ErrorCode::InvalidArgument);
    CHECK_THAT(m, Catch::Contains("--population"));
  }
  // Embedded NUL: not silently cut at the NUL.
  CHECK_THROWS_AS(parse_int(std::string_view("12\0" "3", 4), "x", 0, 1000), Error);
  const std::string m = error_of([] { parse_int("18446744073709551615", "--count", 1, 100); }, ErrorCode::InvalidArgument);
  CHECK_THAT(m, Catch::Contains("--count") && Catch::Contains("18446744073709551615") && Catch::Contains("[1, 100]"));
  CHECK_THAT(m, !Catch::Contains("-1 "));
  CHECK_THAT(error_of([] { parse_int("101", "--levels", 1, 100); }, ErrorCode::InvalidArgument), Catch::Contains("'101'"));
}

TEST_CASE("parse_int: every 64-bit value round-trips, every mutation is a value or a clear error", "[parse][fuzz]") {
  Rng rng{7};
  const std::string alphabet = "0123456789-+ .exX\xff";
  for (int i = 0; i < 20000; ++i) {
    const int64_t v = static_cast<int64_t>((static_cast<uint64_t>(rng.below(1u << 31)) << 33) ^ rng.below(1u << 31)) >>
                      rng.below(63);
    const std::string text = std::to_string(v);
    REQUIRE(parse_int(text, "x", INT64_MIN, INT64_MAX) == v);
    std::string t = text;
    const size_t pos = rng.below(t.size() + 1);
    switch (rng.below(3)) {
      case 0: t.insert(pos, 1, alphabet[rng.below(alphabet.size())]); break;
      case 1: if (!t.empty()) t.erase(std::min(pos, t.size() - 1), 1); break;
      default: t.append(std::string(rng.below(25), '9')); break;
    }
    // Reference: a plain [-]digits text that fits int64 parses to what strtoll says; anything else throws.
    const bool plain = !t.empty() && t.find_first_not_of("0123456789", t[0] == '-' ? 1 : 0) == std::string::npos && t != "-";
    errno = 0;
    const long long ref = plain ? std::strtoll(t.c_str(), nullptr, 10) : 0;
    const bool fits = plain && errno != ERANGE;
    try {
      const int64_t got = parse_int(t, "--n", INT64_MIN, INT64_MAX);
      REQUIRE(fits);
      REQUIRE(got == ref);
    } catch (const Error& e) {
      REQUIRE_FALSE(fits);
      REQUIRE(e.code() == ErrorCode::InvalidArgument);
      REQUIRE_THAT(std::string(e.what()), Catch::StartsWith("--n: "));
    }
  }
}

TEST_CASE("parse_double: finite, whole text, in range, independent of the locale", "[parse]") {
  CHECK(parse_double("0.25", "w", 0, 1) == 0.25);
  CHECK(parse_double("+0.25", "w", 0, 1) == 0.25);
  CHECK(parse_double("1e-3", "w", 0, 1) == 1e-3);
  CHECK(parse_double("1E+2", "w", 0, 1000) == 100);
  CHECK(parse_double("-5", "w", -10, 10) == -5);
  CHECK(parse_double(".5", "w", 0, 1) == 0.5);
  for (const char* bad : {"", " 1", "1 ", "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e999", "-1e999", "1e", "e5",
                          "0x1p3", "0x10", "1.5.2", "1,5", "--1", "++1", "+-1", "+", "-", ".", "1e5x", "1d", "1f"}) {
    const std::string m = error_of([&] { parse_double(bad, "--mutate-prob", -DBL_MAX, DBL_MAX); }, ErrorCode::InvalidArgument);
    CHECK_THAT(m, Catch::Contains("--mutate-prob"));
  }
  CHECK_THAT(error_of([] { parse_double("1.5", "--mutate-prob", 0, 1); }, ErrorCode::InvalidArgument),
             Catch::Contains("'1.5'") && Catch::Contains("outside"));
  // A host application's decimal-comma locale must not change what "0.5" means.
  const char* de = nullptr;
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8"})
    if (!de && std::setlocale(LC_NUMERIC, name)) de = name;
  if (de) {
    const double v = parse_double("0.5", "w", 0, 1);
    std::setlocale(LC_NUMERIC, "C");
    CHECK(v == 0.5);
  } else {
    WARN("no decimal-comma locale installed; locale independence not exercised");
  }
}

TEST_CASE("parse_double: mutations are a finite in-range value or a clear error", "[parse][fuzz]") {
  Rng rng{11};
  const std::vector<std::string> seeds = {"12345.678e-2", "0.1", "-3.5E+7", "1e308", "4.9e-324", "224"};
  const std::string alphabet = "0123456789.eE+- xna\xc3";
  for (int i = 0; i < 20000; ++i) {
    std::string t = seeds[rng.below(seeds.size())];
    for (size_t k = 0, n = 1 + rng.below(3); k < n; ++k) {
      const size_t pos = rng.below(t.size() + 1);
      if (rng.below(2) || t.empty()) t.insert(pos, 1, alphabet[rng.below(alphabet.size())]);
      else t.erase(std::min(pos, t.size() - 1), 1);
    }
    try {
      const double v = parse_double(t, "--x", -1e300, 1e300);
      REQUIRE(std::isfinite(v));
      REQUIRE(v >= -1e300);
      REQUIRE(v <= 1e300);
      // What parses is what the C library reads from the whole text.
      char* end = nullptr;
      REQUIRE(std::strtod(t.c_str(), &end) == v);
      REQUIRE(end == t.c_str() + t.size());
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::InvalidArgument);
      REQUIRE_THAT(std::string(e.what()), Catch::StartsWith("--x: "));
    }
  }
}

TEST_CASE("ellipsize keeps whole UTF-8 characters", "[parse]") {
  const std::string s = "r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";  // "résumé € 😀"
  for (size_t n = 0; n <= s.size() + 1; ++n) {
    const std::string e = ellipsize(s, n);
    CHECK(valid_utf8(e));
    if (n >= s.size()) CHECK(e == s);
    else CHECK_THAT(e, Catch::EndsWith("..."));
    CHECK(e.size() <= n + 3);
  }
  CHECK(ellipsize(std::string(1000, 'x')).size() == 63);
}

TEST_CASE("strict JSON: repeated keys are errors naming the key and the object's path", "[parse][json]") {
  CHECK_THAT(error_of([] { json_strict::parse(R"({"r": 224, "r": 128})", "subnet config JSON"); }, ErrorCode::Parse),
             Catch::Contains("subnet config JSON") && Catch::Contains("'r'") && Catch::Contains("twice") &&
                 Catch::Contains("top-level"));
  const std::string m = error_of(
      [] { json_strict::parse(R"({"points": [{"hardware": {}}, {"hardware": {"threads": 2, "threads": 1}}]})", "profile JSON"); },
      ErrorCode::Parse);
  CHECK_THAT(m, Catch::Contains("'threads'") && Catch::Contains("points[1].hardware"));
  // Keys that compare equal only after decoding escapes are the same key.
  CHECK_THAT(error_of([] { json_strict::parse(R"({"r": 1, "\u0072": 2})", "x"); }, ErrorCode::Parse), Catch::Contains("'r'"));
  CHECK_NOTHROW(json_strict::parse(R"([{"k": 1}, {"k": 2}, {"a": {"k": 3}, "k": 4}])", "x"));
  CHECK_NOTHROW(json_strict::parse(R"({"a": 1, "A": 2, "a ": 3})", "x"));
  // A duplicate deep inside a large document is still found.
  std::string big = "[";
  for (int i = 0; i < 5000; ++i) big += fmt::format("{}{{\"id\": {}, \"v\": [1, 2, 3]}}", i ? "," : "", i);
  CHECK_NOTHROW(json_strict::parse(big + "]", "x"));
  CHECK_THAT(error_of([&] { json_strict::parse(big + R"(, {"id": 1, "id": 2}])", "x"); }, ErrorCode::Parse),
             Catch::Contains("[5000]"));
}

TEST_CASE("strict JSON: nesting is bounded, malformed text and overflowing numbers are Parse errors", "[parse][json]") {
  auto nested = [](size_t n) { return std::string(n, '[') + std::string(n, ']'); };
  CHECK_NOTHROW(json_strict::parse(nested(64), "x"));
  CHECK_THAT(error_of([&] { json_strict::parse(nested(65), "x"); }, ErrorCode::Parse), Catch::Contains("deeper than 64"));
  // Stopped at the limit, not after building the whole document.
  CHECK_THAT(error_of([&] { json_strict::parse(std::string(10000000, '['), "x"); }, ErrorCode::Parse), Catch::Contains("deeper"));
  std::string objs;
  for (int i = 0; i < 70; ++i) objs += "{\"a\":";
  CHECK_THAT(error_of([&] { json_strict::parse(objs + "1" + std::string(70, '}'), "x"); }, ErrorCode::Parse),
             Catch::Contains("deeper"));
  for (const char* bad : {"", " ", "{", "{\"a\":}", "[1,]", "{\"a\":1,}", "NaN", "[NaN]", "[Infinity]", "[-Infinity]", "[1e999]",
                          "[-1e999]", "{\"a\": 1} x", "// c\n{}", "{\"a\": 01}", "[1.]", "[.5]", "['a']", "[\"\xff\"]",
                          "{\"a\":1}{\"a\":1}"}) {
    const std::string m = error_of([&] { json_strict::parse(bad, "levels JSON"); }, ErrorCode::Parse);
    CHECK_THAT(m, Catch::StartsWith("levels JSON: "));
    CHECK(valid_utf8(m));
  }
  // An integer literal beyond 64 bits is named as written, with where it is.
  for (const char* lit : {"18446744073709551616", "99999999999999999999999", "-9223372036854775809"}) {
    const std::string m = error_of([&] { json_strict::parse(fmt::format(R"({{"hardware": {{"threads": {}}}}})", lit), "point"); },
                                     ErrorCode::Parse);
    CHECK_THAT(m, Catch::Contains(lit) && Catch::Contains("'hardware.threads'") && Catch::Contains("64 bits"));
  }
  // The largest literals that fit are kept exactly.
  const json j = json_strict::parse(R"([18446744073709551615, -9223372036854775808, 1e300, 1.5e3])", "x");
  CHECK(j[0].get<uint64_t>() == UINT64_MAX);
  CHECK(j[1].get<int64_t>() == INT64_MIN);
  CHECK(j[2].get<double>() == 1e300);
}

TEST_CASE("strict JSON: parses what nlohmann parses, refusing only duplicates, depth and wide integers", "[parse][json][fuzz]") {
  const std::vector<std::string> seeds = {
      R"({"ks":[3,5,7,3],"e":[3,4,6],"d":[2,3,4,2,3],"r":[160],"wid":null})",
      R"({"format":"dynn-profile","points":[{"id":"a","hardware":{"threads":2,"cpu":1900800},"accuracy":0.75,"power_w":null}]})",
      R"([{"level":0,"top1_percent":74.2},{"level":1,"latency_ms":1e3,"ok":true,"s":"\u00e9\n"}])"};
  const std::string alphabet = "{}[]\",:0123456789-.eE ntrufals\\a\x01\xc3\xa9";
  Rng rng{99};
  size_t accepted = 0, refused = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string t = seeds[rng.below(seeds.size())];
    for (size_t k = 0, n = 1 + rng.below(4); k < n && !t.empty(); ++k) {
      const size_t pos = rng.below(t.size());
      switch (rng.below(4)) {
        case 0: t[pos] = alphabet[rng.below(alphabet.size())]; break;
        case 1: t.erase(pos, 1 + rng.below(3)); break;
        case 2: t.insert(pos, 1, alphabet[rng.below(alphabet.size())]); break;
        default: t.insert(pos, t.substr(pos, rng.below(12))); break;  // repeats keys and digits
      }
    }
    json ref;
    bool ref_ok = true;
    try {
      ref = json::parse(t);
    } catch (const json::exception&) {
      ref_ok = false;
    }
    try {
      const json got = json_strict::parse(t, "fuzz");
      REQUIRE(ref_ok);
      REQUIRE(got == ref);  // same document as the default parser builds
      ++accepted;
    } catch (const Error& e) {
      REQUIRE(e.code() == ErrorCode::Parse);
      const std::string m = e.what();
      REQUIRE_THAT(m, Catch::StartsWith("fuzz: "));
      // Only refused where the default parser fails, or for what strict JSON refuses by design.
      if (ref_ok)
        REQUIRE_THAT(m, Catch::Contains("twice") || Catch::Contains("64 bits") || Catch::Contains("deeper"));
      ++refused;
    }
  }
  CHECK(accepted > 1000);
  CHECK(refused > 1000);
}

TEST_CASE("strict JSON numbers: no 64-bit wrap, no fractions for integers, the value quoted as written", "[parse][json]") {
  const json j = json_strict::parse(
      R"({"u": 18446744073709551615, "m": 9223372036854775808, "f": 224.5, "e": 1e300, "x": 2.24e2, "n": -1, "b": true, "z": null,
          "s": "224", "a": [224], "ok": 224, "neg": -9223372036854775808})",
      "x");
  auto int_msg = [&](const char* key) {
    return error_of([&] { json_strict::integer(j[key], fmt::format("field '{}'", key), 1, 1000000); }, ErrorCode::InvalidArgument);
  };
  CHECK_THAT(int_msg("u"), Catch::Contains("field 'u'") && Catch::Contains("18446744073709551615") && !Catch::Contains("-1 "));
  CHECK_THAT(int_msg("m"), Catch::Contains("9223372036854775808"));
  CHECK_THAT(int_msg("f"), Catch::Contains("not an integer") && Catch::Contains("224.5"));
  CHECK_THAT(int_msg("e"), Catch::Contains("not an integer") && Catch::Contains("1e+300"));
  CHECK_THAT(int_msg("x"), Catch::Contains("not an integer"));  // 2.24e2 is written as a fraction
  CHECK_THAT(int_msg("n"), Catch::Contains("out of range") && Catch::Contains("-1"));
  CHECK_THAT(int_msg("b"), Catch::Contains("not a number"));
  CHECK_THAT(int_msg("z"), Catch::Contains("not a number"));
  CHECK_THAT(int_msg("s"), Catch::Contains("string"));
  CHECK_THAT(int_msg("a"), Catch::Contains("not a number"));
  CHECK(json_strict::integer(j["ok"], "r", 1, 1000) == 224);
  CHECK(json_strict::integer(j["neg"], "r", INT64_MIN, 0) == INT64_MIN);
  CHECK_THAT(error_of([&] { json_strict::integer(j["u"], "r", INT64_MIN, INT64_MAX, ErrorCode::Parse); }, ErrorCode::Parse),
             Catch::Contains("18446744073709551615"));
  // number(): finite and in range; the literal quoted, not its rounded double.
  CHECK(json_strict::number(j["f"], "ms", 0, 1e9) == 224.5);
  CHECK_THAT(error_of([&] { json_strict::number(j["u"], "latency_ms", 0, 1e9); }, ErrorCode::InvalidArgument),
             Catch::Contains("latency_ms") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(error_of([&] { json_strict::number(j["s"], "latency_ms", 0, 1e9); }, ErrorCode::InvalidArgument),
             Catch::Contains("string"));
  CHECK_THAT(error_of([&] { json_strict::number(json(std::nan("")), "w", -1e9, 1e9); }, ErrorCode::InvalidArgument),
             Catch::Contains("w"));
  CHECK_THROWS_AS(json_strict::number(json(HUGE_VAL), "w", -DBL_MAX, DBL_MAX), Error);
  // Knob settings: a repeated knob never reaches integer_map; a wrapped value names the knob.
  CHECK_THAT(error_of([] { json_strict::integer_map(json_strict::parse(R"({"threads": 18446744073709551615})", "hw"), "hardware"); },
                        ErrorCode::InvalidArgument),
             Catch::Contains("hardware.threads") && Catch::Contains("18446744073709551615"));
  CHECK_THAT(error_of([] { json_strict::parse(R"({"threads": 2, "threads": 4})", "hardware"); }, ErrorCode::Parse),
             Catch::Contains("'threads'") && Catch::Contains("twice"));
  CHECK_THAT(error_of([] { json_strict::integer_map(json_strict::parse(R"({"threads": 2.5})", "hw"), "hardware"); },
                        ErrorCode::InvalidArgument),
             Catch::Contains("hardware.threads"));
}
