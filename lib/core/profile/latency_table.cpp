#include "dynn/profile/latency_table.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/io/file.hpp"
#include "core/json_strict.hpp"
#include "core/profile/json_file.hpp"
#include "dynn/error.hpp"
#include "dynn/parse.hpp"

namespace dynn {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace ofa_mbv3;

std::string LayerSpec::key() const {
  switch (kind) {
    case Kind::Conv: return fmt::format("Conv-input:{0}x{0}x{1}-output:{2}x{2}x{3}", h_in, c_in, h_out, c_out);
    case Kind::ExpandedConv:
      return fmt::format("expanded_conv-input:{0}x{0}x{1}-output:{2}x{2}x{3}-expand:{4}-kernel:{5}-stride:{6}-idskip:{7}-se:{8}-hs:{9}",
                         h_in, c_in, h_out, c_out, expand, kernel, stride, idskip ? 1 : 0, se ? 1 : 0, hs ? 1 : 0);
    case Kind::Conv1: return fmt::format("Conv_1-input:{0}x{0}x{1}-output:{2}x{2}x{3}", h_in, c_in, h_out, c_out);
    case Kind::AvgPool: return fmt::format("AvgPool2D-input:{0}x{0}x{1}-output:1x1x{2}", h_in, c_in, c_out);
    case Kind::Conv2: return fmt::format("Conv_2-input:1x1x{0}-output:1x1x{1}", c_in, c_out);
    case Kind::Logits: return fmt::format("Logits-input:1x1x{0}-output:{1}", c_in, c_out);
  }
  return {};
}

LatencyTable::LatencyTable(double width_mult, std::string name) : m_arch(width_mult), m_name(std::move(name)) {}

namespace {

[[noreturn]] void parse_error(const std::string& origin, const std::string& what) {
  throw Error(ErrorCode::Parse, fmt::format("latency table {}: {}", origin, what));
}

LayerSpec head_conv(const Arch& a, int r) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::Conv;
  l.h_in = r;
  l.c_in = 3;
  l.h_out = Arch::first_feature_size(r);
  l.c_out = a.first_conv_width();
  return l;
}

LayerSpec first_block(const Arch& a, int r) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::ExpandedConv;
  l.h_in = l.h_out = Arch::first_feature_size(r);
  l.c_in = a.first_conv_width();
  l.c_out = a.first_block_width();
  l.expand = a.first_conv_width();
  l.kernel = 3;
  l.stride = 1;
  l.idskip = true;
  return l;
}

LayerSpec mb_block(const BlockInfo& b, int h_in, int k, int e) {
  LayerSpec l;
  l.kind = LayerSpec::Kind::ExpandedConv;
  l.block = b.block;
  l.h_in = h_in;
  l.h_out = conv_out_size(h_in, b.stride);
  l.c_in = b.cin;
  l.c_out = b.cout;
  l.expand = static_cast<int>(std::lround(static_cast<double>(b.cin) * e));  // the format's round(cin*e)
  l.kernel = k;
  l.stride = b.stride;
  l.idskip = b.index_in_stage != 0;
  l.se = b.use_se;
  l.hs = b.use_hswish;
  return l;
}

void tail(const Arch& a, int h, std::vector<LayerSpec>& out) {
  LayerSpec c1;
  c1.kind = LayerSpec::Kind::Conv1;
  c1.h_in = c1.h_out = h;
  c1.c_in = a.stage_width(kNumStages - 1);
  c1.c_out = a.final_expand_width();
  out.push_back(c1);
  LayerSpec pool;
  pool.kind = LayerSpec::Kind::AvgPool;
  pool.h_in = h;
  pool.h_out = 1;
  pool.c_in = pool.c_out = a.final_expand_width();
  out.push_back(pool);
  LayerSpec c2;
  c2.kind = LayerSpec::Kind::Conv2;
  c2.h_in = c2.h_out = 1;
  c2.c_in = a.final_expand_width();
  c2.c_out = a.feature_mix_width();
  out.push_back(c2);
  LayerSpec lg;
  lg.kind = LayerSpec::Kind::Logits;
  lg.h_in = lg.h_out = 1;
  lg.c_in = a.feature_mix_width();
  lg.c_out = kNumClasses;
  out.push_back(lg);
}

}  // namespace

std::vector<LayerSpec> LatencyTable::network_layers(const SubnetConfig& c) const {
  c.validate(SearchSpace::ofa_mbv3());
  std::vector<LayerSpec> out{head_conv(m_arch, c.r), first_block(m_arch, c.r)};
  int h = Arch::first_feature_size(c.r);
  for (const auto& b : m_arch.active_blocks(c)) {
    out.push_back(mb_block(*b.info, h, b.kernel, b.expand));
    h = b.h_out;
  }
  tail(m_arch, h, out);
  return out;
}

std::vector<LayerSpec> LatencyTable::all_layers(int r) const {
  if (r < 1 || r > 100000) throw Error(ErrorCode::InvalidArgument, fmt::format("latency table: resolution {} out of range", r));
  std::vector<LayerSpec> out{head_conv(m_arch, r), first_block(m_arch, r)};
  int h = Arch::first_feature_size(r);
  const auto space = SearchSpace::ofa_mbv3();
  for (int s = 0; s < kNumStages; ++s) {
    // First block of the stage, then one representative later block (all later blocks share keys).
    for (int j = 0; j < 2; ++j) {
      const BlockInfo& b = m_arch.block(1 + s * kBlocksPerStage + j);
      for (int e : space.e_values)
        for (int k : space.ks_values) out.push_back(mb_block(b, h, k, e));
      h = conv_out_size(h, b.stride);
    }
  }
  tail(m_arch, h, out);
  return out;
}

const std::map<std::string, LutEntry>& LatencyTable::table(int r) const {
  auto it = m_tables.find(r);
  if (it == m_tables.end()) {
    const auto rs = resolutions();
    throw Error(ErrorCode::NotFound,
                rs.empty() ? fmt::format("latency table '{}': resolution {} not covered (the table is empty)", m_name, r)
                           : fmt::format("latency table '{}': resolution {} not covered (it has r = {})", m_name, r,
                                         fmt::join(rs, ", ")));
  }
  return it->second;
}

std::vector<int> LatencyTable::resolutions() const {
  std::vector<int> out;
  for (const auto& [r, t] : m_tables) out.push_back(r);
  return out;
}

std::vector<std::pair<std::string, double>> LatencyTable::breakdown(const SubnetConfig& c) const {
  const auto layers = network_layers(c);
  const auto& t = table(c.r);
  std::vector<std::pair<std::string, double>> out;
  out.reserve(layers.size());
  for (const auto& l : layers) {
    std::string key = l.key();
    auto it = t.find(key);
    if (it == t.end())
      throw Error(ErrorCode::NotFound,
                  fmt::format("latency table '{}' (r={}): no entry for layer '{}' (block {}) needed by {}", m_name, c.r, key,
                              l.block, c.to_string()));
    out.emplace_back(std::move(key), it->second.mean);
  }
  return out;
}

double LatencyTable::predict_ms(const SubnetConfig& c) const {
  double sum = 0;
  for (const auto& [k, v] : breakdown(c)) sum += v;
  return sum;
}

double LatencyTable::predict_ms(const Subnet& s) const {
  return predict_ms(s.as<SubnetConfig>("the OFA MobileNetV3 latency table"));
}

void LatencyTable::load_json(int r, const std::string& text, const std::string& origin) {
  const json j = json_strict::parse(text, "latency table " + origin);
  if (!j.is_object()) parse_error(origin, fmt::format("expected an object of layer key -> {{count, mean, std}}, got {}", j.type_name()));
  std::map<std::string, LutEntry> t;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    const std::string entry = fmt::format("entry '{}'", ellipsize(key, 120));  // keys are input: quoted bounded
    const json& v = it.value();
    if (!v.is_object()) parse_error(origin, fmt::format("{}: expected an object, got {}", entry, v.type_name()));
    LutEntry e;
    bool have_mean = false;
    for (auto f = v.begin(); f != v.end(); ++f) {
      const std::string& name = f.key();
      const std::string field = fmt::format("latency table {}: {}: '{}'", origin, entry, ellipsize(name, 40));
      if (name == "count") {
        e.count = json_strict::integer(*f, field, 0, INT64_MAX, ErrorCode::Parse);
      } else if (name == "mean" || name == "std") {
        (name == "mean" ? e.mean : e.std) = json_strict::number(*f, field, 0, 1e9, ErrorCode::Parse);  // ms
        have_mean = have_mean || name == "mean";
      } else {
        parse_error(origin, fmt::format("{}: unknown field '{}' (expected count, mean, std)", entry, ellipsize(name, 40)));
      }
    }
    if (!have_mean) parse_error(origin, fmt::format("{}: missing field 'mean'", entry));
    t.emplace(key, e);
  }
  m_tables[r] = std::move(t);
}

LatencyTable LatencyTable::load_dir(const std::string& dir, double width_mult) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorCode::NotFound, fmt::format("latency table: '{}' is not a directory", dir));
  LatencyTable t(width_mult, fs::path(dir).filename().string());
  if (t.m_name.empty()) t.m_name = fs::path(dir).parent_path().filename().string();
  // "<r>_lookup_table.json" with r written plainly (no leading zero, so two names never map to
  // one resolution) and inside the search space's resolutions; a name that only looks like one
  // is an error, never a table silently left out or loaded twice.
  static const std::regex re("([0-9]+)_lookup_table\\.json");
  const SearchSpace space = SearchSpace::ofa_mbv3();
  auto bad_name = [&](const std::string& fname, const std::string& why) {
    throw Error(ErrorCode::Parse, fmt::format("latency table: file '{}' in '{}': {}", fname, dir, why));
  };
  std::map<int, std::string> files;
  fs::directory_iterator it(dir, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string fname = it->path().filename().string();
    std::smatch m;
    if (!std::regex_match(fname, m, re)) continue;
    const std::string digits = m[1].str();
    const size_t nz = std::min(digits.find_first_not_of('0'), digits.size() - 1);
    const std::string plain = digits.substr(nz);  // without leading zeros
    const int64_t r = plain.size() > 9 ? int64_t{1} << 40 : std::stoll(plain);
    if (r < space.min_resolution || r > space.max_resolution)
      bad_name(fname, fmt::format("resolution {} is outside the search space's {}..{}", digits, space.min_resolution, space.max_resolution));
    if (plain != digits)
      bad_name(fname, fmt::format("the resolution must be written without leading zeros ('{}_lookup_table.json')", plain));
    files.emplace(static_cast<int>(r), it->path().string());
  }
  if (ec) throw Error(ErrorCode::Io, fmt::format("latency table: cannot list '{}': {}", dir, ec.message()));
  for (const auto& [r, path] : files) t.load_json(r, io::read_text_file(path, io::kMaxTextBytes, "latency table file"), "'" + path + "'");
  if (t.m_tables.empty())
    throw Error(ErrorCode::NotFound, fmt::format("latency table: no '{{r}}_lookup_table.json' files in '{}'", dir));
  return t;
}

std::string LatencyTable::to_json(int r) const {
  json j = json::object();  // std::map-backed: keys sorted, as the published files
  for (const auto& [k, e] : table(r)) j[k] = json{{"count", e.count}, {"mean", e.mean}, {"std", e.std}};
  return j.dump(1);
}

void LatencyTable::save_dir(const std::string& dir) const {
  if (dir.empty()) throw Error(ErrorCode::InvalidArgument, "latency table: save_dir: empty folder name");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw Error(ErrorCode::InvalidArgument, fmt::format("latency table: save_dir: '{}' exists and is not a folder", dir));
  fs::create_directories(dir, ec);
  if (ec) throw Error(ErrorCode::Io, fmt::format("latency table: cannot create '{}': {}", dir, ec.message()));
  // Each file atomically (path.tmp, then rename; no .tmp left on failure), as every dynn save.
  for (const auto& [r, t] : m_tables)
    json_file::write_text((fs::path(dir) / fmt::format("{}_lookup_table.json", r)).string(), to_json(r), "latency table");
}

}  // namespace dynn
