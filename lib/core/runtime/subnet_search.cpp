#include "core/runtime/subnet_search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/log.hpp"

namespace dynn::runtime_detail {

namespace {
// A reference point's runs count for a new point's online profile when they are at most this many
// steps older than the new point's runs: the same conditions, not those of an earlier phase.
constexpr uint64_t kNearSteps = 20;
constexpr int kRefRuns = 3;  // runs of the reference point the new point's runs are compared with

[[noreturn]] void bad(const std::string& who, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, fmt::format("{}: search: {}", who, what));
}
}  // namespace

double SubnetSearch::Runs::fastest(int n, uint64_t since) const {
  n = std::min({n, count, static_cast<int>(ms.size())});
  double best = std::numeric_limits<double>::quiet_NaN();
  for (int i = 0; i < n; ++i) {
    const auto k = static_cast<size_t>((count - 1 - i) % static_cast<int>(ms.size()));
    if (steps[k] >= since && !busy[k] && !(ms[k] >= best)) best = ms[k];
  }
  return best;
}

SubnetSearch::SubnetSearch(SubnetSearchOptions options, std::shared_ptr<DynamicModel> model, const std::vector<OperatingPoint>& points,
                           std::string who)
    : m_o(std::move(options)), m_model(std::move(model)), m_who(std::move(who)) {
  if (!m_model) bad(m_who, "needs the app's model (owned-model mode): it prepares the sub-networks it finds");
  if (m_o.patience < 1 || m_o.patience > 1000) bad(m_who, fmt::format("patience {} must be in 1..1000", m_o.patience));
  m_starved.reserve(static_cast<size_t>(m_o.patience));
  if (m_o.max_subnets < 1) bad(m_who, fmt::format("max_subnets {} must be >= 1", m_o.max_subnets));
  if (m_o.calibrate_runs < 1 || m_o.calibrate_runs > 8) bad(m_who, fmt::format("calibrate_runs {} must be in 1..8", m_o.calibrate_runs));
  if (!(m_o.safety > 0 && m_o.safety <= 1)) bad(m_who, fmt::format("safety {} must be in (0, 1]", m_o.safety));
  if (!(m_o.max_fraction > 0 && m_o.max_fraction < 1)) bad(m_who, fmt::format("max_fraction {} must be in (0, 1)", m_o.max_fraction));
  const std::string family = m_model->family();
  if (!subnet_family(family).smaller) bad(m_who, fmt::format("family '{}' has no reductions (SubnetFamily::smaller)", family));
  for (const auto& p : points) {
    m_macs.push_back(macs_of(p.subnet));
    m_group.push_back(group_of(p));
    m_device.push_back(device_of(p));
    m_source.push_back(-1);
    m_profiled.push_back(1);
    m_runs.emplace_back();
  }
}

SubnetSearch::~SubnetSearch() {
  if (m_worker.joinable()) m_worker.join();
}

double SubnetSearch::macs_of(const Subnet& s) const { return m_model->subnet_info(s).macs; }

int SubnetSearch::group_of(const OperatingPoint& p) {
  const auto key = std::make_pair(p.hardware, p.device);
  auto it = std::find(m_groups.begin(), m_groups.end(), key);
  if (it == m_groups.end()) it = m_groups.insert(m_groups.end(), key);
  return static_cast<int>(it - m_groups.begin());
}

int SubnetSearch::device_of(const OperatingPoint& p) {
  auto it = std::find(m_devices.begin(), m_devices.end(), p.device);
  if (it == m_devices.end()) it = m_devices.insert(m_devices.end(), p.device);
  return static_cast<int>(it - m_devices.begin());
}

size_t SubnetSearch::max_points() const { return m_runs.size() + m_groups.size() * static_cast<size_t>(m_o.max_subnets); }

SearchStatus SubnetSearch::status() const {
  SearchStatus s = m_status;
  s.running = m_running;
  return s;
}

bool SubnetSearch::after_decision(const Decision& decision, const Observation& obs, std::vector<OperatingPoint>& points) {
  if (m_running) {
    if (!m_done) return false;
    const size_t before = points.size();
    finish(points);
    return points.size() > before;
  }
  if (m_status.exhausted) return false;
  // Starved and measured to miss: a prediction alone (a correction still high after a spike) is
  // no reason to build a network. `patience` such steps within 10 x patience steps start a search:
  // in a row when nothing fits any more, or a miss rate of at least 10 % when the smallest point
  // is at the edge of the target and misses now and then (met steps between, which end the
  // controller's starved state until the next miss).
  ++m_step;
  const bool missed = obs.targets.has_latency() && std::isfinite(obs.last_latency_ms) && obs.last_latency_ms > obs.targets.latency_ms;
  const int64_t window = static_cast<int64_t>(kWindow) * m_o.patience;
  while (!m_starved.empty() && m_step - m_starved.front().first >= window) m_starved.erase(m_starved.begin());
  if (!decision.starved || !missed) return false;
  m_starved.emplace_back(m_step, obs.last_latency_ms);
  if (static_cast<int>(m_starved.size()) < m_o.patience) return false;
  double best = std::numeric_limits<double>::infinity();
  for (const auto& s : m_starved) best = std::min(best, s.second);
  // The MACs to keep: what the best measured latency says the target leaves, with a safety factor
  // (latency falls more slowly than MACs on small networks), and at least a fixed step down.
  const double fraction = std::clamp(m_o.safety * obs.targets.latency_ms / best, 0.01, m_o.max_fraction);
  m_starved.clear();
  start(points, fraction);
  if (!m_done) return false;  // on its thread: its points join at a later step
  const size_t before = points.size();
  finish(points);
  return points.size() > before;
}

void SubnetSearch::start(const std::vector<OperatingPoint>& points, double fraction) {
  size_t from = 0;
  for (size_t i = 1; i < points.size(); ++i)
    if (m_macs[i] < m_macs[from]) from = i;
  m_from = points[from].subnet;
  ++m_status.searches;
  m_done = false;
  m_running = true;
  // The worker reads only what is set above and the model (thread-safe: prepare runs beside
  // inference); it writes the result fields, then m_done.
  auto work = [this, fraction] {
    try {
      const ShrinkResult r = shrink_subnet(m_from, fraction, [this](const Subnet& s) { return macs_of(s); }, m_o.accuracy);
      if (r.subnet != m_from) m_model->prepare({r.subnet});
      m_found = r.subnet;
      m_found_macs = r.macs;
      m_reached = r.reached;
    } catch (const std::exception& e) {
      m_error = e.what();
    }
    m_done = true;
  };
  if (m_o.background) {
    try {
      m_worker = std::thread(work);
      return;
    } catch (const std::system_error& e) {  // no thread to be had: search within this step instead
      log(LogLevel::Warn, m_who + ": search: no background thread (" + e.what() + "), searching within the step");
    }
  }
  work();
}

void SubnetSearch::finish(std::vector<OperatingPoint>& points) {
  if (m_worker.joinable()) m_worker.join();
  m_running = false;
  m_done = false;
  if (!m_error.empty()) {
    m_status.exhausted = true;
    m_status.last = "search failed, no further search: " + m_error;
    log(LogLevel::Warn, m_who + ": " + m_status.last);
    return;
  }
  const bool known = std::any_of(points.begin(), points.end(), [&](const OperatingPoint& p) { return p.subnet == m_found; });
  if (m_found == m_from || known) {
    m_status.exhausted = true;
    m_status.last = fmt::format("nothing smaller than {} in the family's space: no further search", m_from.to_string());
    log(LogLevel::Info, m_who + ": " + m_status.last);
    return;
  }
  // One new point per hardware setting and device, derived from that group's smallest point.
  // Groups in order of first appearance (m_group), so the new points keep the order of before.
  std::vector<int> by_group(m_groups.size(), -1);
  for (size_t i = 0; i < points.size(); ++i) {
    int& src = by_group[static_cast<size_t>(m_group[i])];
    if (src < 0 || m_macs[i] < m_macs[static_cast<size_t>(src)] ||
        (m_macs[i] == m_macs[static_cast<size_t>(src)] && points[i].latency_ms < points[static_cast<size_t>(src)].latency_ms))
      src = static_cast<int>(i);
  }
  std::vector<size_t> sources;
  for (int src : by_group)
    if (src >= 0) sources.push_back(static_cast<size_t>(src));
  const int k = ++m_status.subnets_added;
  const double accuracy = m_o.accuracy ? m_o.accuracy(m_found) : std::numeric_limits<double>::quiet_NaN();
  for (size_t src : sources) {
    OperatingPoint p = points[src];
    const double scale = m_macs[src] > 0 ? m_found_macs / m_macs[src] : 1.0;
    p.id = fmt::format("search{}@{}", k, points[src].id);
    p.subnet = m_found;
    p.macs = m_found_macs;
    p.latency_ms *= scale;
    p.latency_p90_ms *= scale;
    if (p.energy_mj) *p.energy_mj *= scale;
    // The source with parts removed is not more accurate than the source: an estimate from another
    // scale than the profile's (a predictor beside published figures) must not rank it above.
    const double below_source = std::max(0.0, points[src].accuracy - 1e-4);
    p.accuracy = std::isfinite(accuracy) ? std::min(std::clamp(accuracy, 0.0, 1.0), below_source) : below_source;
    p.accuracy_source = std::isfinite(accuracy) ? AccuracySource::Predicted : AccuracySource::Unknown;
    p.level = -1;
    points.push_back(std::move(p));
    m_macs.push_back(m_found_macs);
    m_group.push_back(m_group[src]);
    m_device.push_back(m_device[src]);
    m_source.push_back(static_cast<int>(src));
    m_profiled.push_back(0);
    m_runs.emplace_back();
  }
  m_status.points_added += static_cast<int>(sources.size());
  m_status.last = fmt::format("added {} ({:.0f} % of the MACs of {}) as {} point{}", m_found.to_string(),
                              100.0 * m_found_macs / std::max(1.0, macs_of(m_from)), m_from.to_string(), sources.size(),
                              sources.size() == 1 ? "" : "s");
  if (!m_reached) {
    m_status.exhausted = true;
    m_status.last += "; the family's reductions ran out: no further search";
  } else if (m_status.subnets_added >= m_o.max_subnets) {
    m_status.exhausted = true;
    m_status.last += fmt::format("; max_subnets ({}) reached: no further search", m_o.max_subnets);
  }
  log(LogLevel::Info, m_who + ": " + m_status.last);
}

bool SubnetSearch::after_measurement(int point, double latency_ms, uint64_t step, std::vector<OperatingPoint>& points) {
  if (point < 0 || static_cast<size_t>(point) >= m_runs.size() || !std::isfinite(latency_ms)) return false;
  Runs& r = m_runs[static_cast<size_t>(point)];
  r.ms[static_cast<size_t>(r.count % static_cast<int>(r.ms.size()))] = latency_ms;
  r.steps[static_cast<size_t>(r.count % static_cast<int>(r.steps.size()))] = step;
  r.busy[static_cast<size_t>(r.count % static_cast<int>(r.busy.size()))] = m_running ? 1 : 0;
  ++r.count;
  const int src = m_source[static_cast<size_t>(point)];
  if (src < 0 || m_profiled[static_cast<size_t>(point)] || m_running || r.count < m_o.calibrate_runs) return false;
  // The conditions of its runs, from a point with a profiled latency that ran just before or among
  // them: of the same hardware setting and device (its source, typically), else of the same
  // device; measured / profiled there divides out of this point's runs. Runs of another time (a
  // load that has gone since) say nothing about these, so without such a point it waits.
  const uint64_t first = r.step_of(m_o.calibrate_runs - 1);
  const uint64_t since = first > kNearSteps ? first - kNearSteps : 0;
  int ref = -1;
  for (int pass = 0; pass < 2 && ref < 0; ++pass)
    for (size_t q = 0; q < m_runs.size(); ++q) {
      if (!m_profiled[q] || m_runs[q].count == 0 || m_runs[q].last_step() < since || !std::isfinite(m_runs[q].fastest(kRefRuns, since))) continue;
      const bool same = pass == 0 ? m_group[q] == m_group[static_cast<size_t>(point)] : m_device[q] == m_device[static_cast<size_t>(point)];
      if (same && (ref < 0 || m_runs[q].last_step() > m_runs[static_cast<size_t>(ref)].last_step())) ref = static_cast<int>(q);
    }
  if (ref < 0) return false;
  // The fastest runs on both sides: a load that comes and goes (a competing process sharing a
  // core now and then) only slows runs down, and no single run of either is to be trusted.
  const double conditions = m_runs[static_cast<size_t>(ref)].fastest(kRefRuns, since) / points[static_cast<size_t>(ref)].latency_ms;
  double ms = r.fastest(m_o.calibrate_runs) / conditions;
  if (!std::isfinite(ms) || ms <= 0) return false;
  // Between its source's time per MAC and its source's time: a network's time per MAC does not
  // fall as it shrinks (fixed costs weigh more), and a network with parts removed is not slower
  // than the whole; a figure outside is noise in the two measurements.
  const OperatingPoint& sp = points[static_cast<size_t>(src)];
  ms = std::clamp(ms, sp.latency_ms * m_macs[static_cast<size_t>(point)] / std::max(1.0, m_macs[static_cast<size_t>(src)]), sp.latency_ms);
  OperatingPoint& p = points[static_cast<size_t>(point)];
  const double p90_ratio = p.latency_ms > 0 ? p.latency_p90_ms / p.latency_ms : 1.0;
  p.latency_ms = ms;
  p.latency_p90_ms = ms * p90_ratio;
  m_profiled[static_cast<size_t>(point)] = 1;
  ++m_status.points_profiled;
  return true;
}

}  // namespace dynn::runtime_detail
