#include "dynn/profile/profiler.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"

namespace dynn {

std::vector<ProfileTask> make_tasks(const std::vector<std::pair<std::string, Subnet>>& subnets,
                                    const std::vector<std::pair<std::string, HardwareSetting>>& settings,
                                    const std::string& device) {
  std::vector<ProfileTask> out;
  for (const auto& [sname, cfg] : subnets)
    for (const auto& [hname, hw] : settings) out.push_back({hname.empty() ? sname : sname + "@" + hname, cfg, device, hw});
  return out;
}

namespace {

double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

std::string hms(double s) {
  if (s < 0) return "--:--";
  const auto t = static_cast<long>(std::lround(s));
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60) : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

}  // namespace

SampleStats summarize_samples(std::vector<double> samples, double outlier_k) {
  if (samples.empty()) throw Error(ErrorCode::InvalidArgument, "summarize_samples: no samples");
  for (size_t i = 0; i < samples.size(); ++i)
    if (!std::isfinite(samples[i]) || samples[i] < 0)
      throw Error(ErrorCode::InvalidArgument, fmt::format("summarize_samples: sample {} = {} is not a valid time", i, samples[i]));
  std::sort(samples.begin(), samples.end());
  SampleStats st;
  const size_t n0 = samples.size();
  if (outlier_k > 0 && samples.size() >= 3) {
    // Only slow outliers are dropped: interference (other processes, page faults, clock ramps)
    // makes runs slower, never faster.
    const double med = percentile(samples, 0.5);
    std::vector<double> dev;
    for (double x : samples) dev.push_back(std::fabs(x - med));
    std::sort(dev.begin(), dev.end());
    const double mad = percentile(dev, 0.5) * 1.4826;
    if (mad > 0) {
      const double cut = med + outlier_k * mad;
      samples.erase(std::upper_bound(samples.begin(), samples.end(), cut), samples.end());
    }
  }
  st.kept = samples.size();
  st.dropped = n0 - samples.size();
  st.median_ms = percentile(samples, 0.5);
  st.p90_ms = percentile(samples, 0.9);
  st.min_ms = samples.front();
  st.max_ms = samples.back();
  double sum = 0;
  for (double x : samples) sum += x;
  st.mean_ms = sum / static_cast<double>(samples.size());
  double var = 0;
  for (double x : samples) var += (x - st.mean_ms) * (x - st.mean_ms);
  st.std_ms = std::sqrt(var / static_cast<double>(samples.size()));
  return st;
}

Profiler::Profiler(ProfilerOptions options, ProfilerHooks hooks) : m_opt(std::move(options)), m_hooks(std::move(hooks)) {
  if (m_opt.warmup < 0) throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: warmup {} must be >= 0", m_opt.warmup));
  if (m_opt.repetitions < 1)
    throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: repetitions {} must be >= 1", m_opt.repetitions));
  if (!(m_opt.max_seconds_per_point >= 0))
    throw Error(ErrorCode::InvalidArgument, "profiler: max_seconds_per_point must be >= 0");
}

double Profiler::now() const {
  if (m_hooks.clock) return m_hooks.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Profiler::report(const ProfilerProgress& p) {
  if (m_hooks.on_progress) m_hooks.on_progress(p);
  if (!m_opt.progress_bar) return;
  constexpr int kWidth = 30;
  const int fill = p.total ? static_cast<int>(kWidth * p.done / p.total) : kWidth;
  std::string bar(static_cast<size_t>(fill), '#');
  bar.resize(kWidth, '-');
  std::fprintf(stderr, "\r[%s] %zu/%zu%s %-28.28s elapsed %s ETA %s ", bar.c_str(), p.done, p.total,
               p.resumed ? fmt::format(" ({} resumed)", p.resumed).c_str() : "", p.current.c_str(),
               hms(p.elapsed_s).c_str(), hms(p.eta_s).c_str());
  if (p.done == p.total) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

SampleStats Profiler::time_point(const std::function<double()>& once) {
  for (int i = 0; i < m_opt.warmup; ++i) once();
  std::vector<double> ms;
  const double t0 = now();
  for (int i = 0; i < m_opt.repetitions; ++i) {
    ms.push_back(once() * 1e3);
    if (m_opt.max_seconds_per_point > 0 && ms.size() >= 3 && now() - t0 > m_opt.max_seconds_per_point) break;
  }
  return summarize_samples(std::move(ms), m_opt.outlier_k);
}

Profile Profiler::run(const std::vector<ProfileTask>& tasks) {
  if (!m_hooks.measure) throw Error(ErrorCode::InvalidArgument, "profiler: no measure hook");
  std::set<std::string> ids;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (tasks[i].id.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: task {} has an empty id", i));
    if (!ids.insert(tasks[i].id).second)
      throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: duplicate task id '{}' (task {})", tasks[i].id, i));
    if (tasks[i].subnet.empty()) throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: task '{}' has no sub-network", tasks[i].id));
    if (tasks[i].subnet.family() != tasks.front().subnet.family())
      throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: task '{}' is an {} sub-network, task '{}' an {} one; a profile holds one family",
                                                          tasks[i].id, tasks[i].subnet.family(), tasks.front().id,
                                                          tasks.front().subnet.family()));
  }
  std::optional<ofa_mbv3::Arch> arch;
  try {
    arch.emplace(ofa_mbv3::Arch::for_supernet(m_opt.supernet));
  } catch (const Error&) {
    // Not an OFA MobileNetV3 name: MACs stay 0.
  }

  Profile prof;
  if (!m_opt.output_path.empty() && std::filesystem::exists(m_opt.output_path)) {
    prof = Profile::load(m_opt.output_path);
    if (prof.supernet != m_opt.supernet)
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("profiler: '{}' holds a profile of supernet '{}', not '{}'; use another output file",
                              m_opt.output_path, prof.supernet, m_opt.supernet));
  } else {
    prof.device_name = m_opt.device_name;
    prof.supernet = m_opt.supernet;
    prof.created = Profile::now_iso8601();
    prof.notes = m_opt.notes;
  }

  ProfilerProgress pr;
  pr.total = tasks.size();
  for (const auto& t : tasks)
    if (prof.contains(t.id)) ++pr.resumed;
  pr.done = pr.resumed;
  const double start = now();
  size_t measured = 0;
  for (const auto& t : tasks) {
    if (prof.contains(t.id)) continue;
    pr.current = t.id;
    pr.elapsed_s = now() - start;
    report(pr);
    if (m_hooks.prepare) m_hooks.prepare(t);
    std::vector<Measurement> ms;
    auto once = [&] {
      Measurement m = m_hooks.measure(t);
      if (!std::isfinite(m.seconds) || m.seconds < 0)
        throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: point '{}': measured time {} s is invalid", t.id, m.seconds));
      ms.push_back(m);
      return m.seconds;
    };
    SampleStats st;
    try {
      st = time_point(once);
    } catch (...) {
      if (m_hooks.finish) m_hooks.finish(t);
      throw;
    }
    if (m_hooks.finish) m_hooks.finish(t);
    ms.erase(ms.begin(), ms.begin() + std::min<ptrdiff_t>(m_opt.warmup, static_cast<ptrdiff_t>(ms.size())));

    OperatingPoint op;
    op.id = t.id;
    op.subnet = t.subnet;
    op.device = t.device;
    op.hardware = t.hardware;
    op.latency_ms = st.median_ms;
    op.latency_p90_ms = st.p90_ms;
    std::vector<double> energy, power;
    for (const auto& m : ms) {
      if (m.energy_j) energy.push_back(*m.energy_j * 1e3);
      if (m.power_w) power.push_back(*m.power_w);
    }
    if (!energy.empty()) op.energy_mj = summarize_samples(energy, 0).median_ms;
    if (!power.empty()) op.power_w = summarize_samples(power, 0).mean_ms;
    else if (op.energy_mj && op.latency_ms > 0) op.power_w = *op.energy_mj / op.latency_ms;  // mJ / ms = W
    if (m_hooks.accuracy) {
      op.accuracy = m_hooks.accuracy(t.subnet);
      op.accuracy_source = AccuracySource::Predicted;
    }
    if (m_hooks.macs) op.macs = m_hooks.macs(t.subnet);
    else if (const SubnetConfig* c = t.subnet.get<SubnetConfig>(); c && arch) op.macs = static_cast<double>(arch->macs(*c));
    prof.add(std::move(op));
    if (!m_opt.output_path.empty()) prof.save(m_opt.output_path);

    ++measured;
    ++pr.done;
    pr.elapsed_s = now() - start;
    pr.eta_s = pr.elapsed_s / static_cast<double>(measured) * static_cast<double>(pr.total - pr.done);
  }
  pr.current.clear();
  pr.elapsed_s = now() - start;
  pr.eta_s = 0;
  report(pr);
  return prof;
}

LatencyTable Profiler::run_layers(const std::vector<int>& resolutions, double width_mult,
                                  const std::function<double(const LayerSpec&)>& measure_layer_seconds) {
  if (!measure_layer_seconds) throw Error(ErrorCode::InvalidArgument, "profiler: no layer measure function");
  LatencyTable table(width_mult, m_opt.device_name);
  ProfilerProgress pr;
  for (int r : resolutions) pr.total += table.all_layers(r).size();
  const double start = now();
  for (int r : resolutions) {
    for (const auto& l : table.all_layers(r)) {
      const std::string key = l.key();
      pr.current = fmt::format("r={} {}", r, key);
      pr.elapsed_s = now() - start;
      report(pr);
      auto once = [&] {
        const double s = measure_layer_seconds(l);
        if (!std::isfinite(s) || s < 0)
          throw Error(ErrorCode::InvalidArgument, fmt::format("profiler: layer '{}': measured time {} s is invalid", key, s));
        return s;
      };
      const SampleStats st = time_point(once);
      table.set(r, key, {static_cast<int64_t>(st.kept), st.mean_ms, st.std_ms});
      ++pr.done;
      pr.elapsed_s = now() - start;
      pr.eta_s = pr.elapsed_s / static_cast<double>(pr.done) * static_cast<double>(pr.total - pr.done);
    }
  }
  pr.current.clear();
  report(pr);
  return table;
}

}  // namespace dynn
