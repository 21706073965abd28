#include "dynn/profile/search.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include <fmt/format.h>

#include "dynn/error.hpp"
#include "dynn/ofa_mbv3_arch.hpp"
#include "dynn/profile/pareto.hpp"

namespace dynn {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

EfficiencyFn latency_efficiency(const LatencyTable& table) {
  auto t = std::make_shared<const LatencyTable>(table);
  // An uncovered resolution is the table's NotFound error naming it and the covered ones (an
  // infinite cost would only surface later as an unexplained non-finite value).
  return [t](const SubnetConfig& c) { return t->predict_ms(c); };
}

EfficiencyFn macs_efficiency(double width_mult) {
  auto a = std::make_shared<const ofa_mbv3::Arch>(width_mult);
  return [a](const SubnetConfig& c) { return static_cast<double>(a->macs(c)) / 1e6; };
}

EfficiencyFn profile_efficiency(const Profile& profile, const std::string& device) {
  auto p = std::make_shared<const Profile>(profile);
  return [p, device](const SubnetConfig& c) {
    const OperatingPoint* op = p->find(c, device);
    return op ? op->latency_ms : kInf;
  };
}

AccuracyFn predictor_accuracy(const AccuracyPredictor& predictor) {
  return [predictor](const std::vector<SubnetConfig>& cs) { return predictor.predict(cs); };
}

uint64_t EvolutionFinder::Rng::next() {  // splitmix64: tiny, good enough, identical everywhere
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
double EvolutionFinder::Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
size_t EvolutionFinder::Rng::below(size_t n) { return static_cast<size_t>(next() % n); }  // bias ~n/2^64: negligible

EvolutionFinder::EvolutionFinder(EfficiencyFn efficiency, AccuracyFn accuracy, EvolutionOptions options)
    : m_eff(std::move(efficiency)), m_acc(std::move(accuracy)), m_opt(std::move(options)) {
  auto bad = [](const std::string& m) { throw Error(ErrorCode::InvalidArgument, "evolution search: " + m); };
  if (!m_eff) bad("no efficiency function");
  if (!m_acc) bad("no accuracy function");
  if (m_opt.population_size < 2) bad(fmt::format("population_size {} must be >= 2", m_opt.population_size));
  if (m_opt.generations < 0) bad(fmt::format("generations {} must be >= 0", m_opt.generations));
  if (!(m_opt.mutate_prob >= 0 && m_opt.mutate_prob <= 1)) bad(fmt::format("mutate_prob {} not in [0,1]", m_opt.mutate_prob));
  if (!(m_opt.parent_ratio > 0 && m_opt.parent_ratio <= 1)) bad(fmt::format("parent_ratio {} not in (0,1]", m_opt.parent_ratio));
  if (!(m_opt.mutation_ratio >= 0 && m_opt.mutation_ratio <= 1))
    bad(fmt::format("mutation_ratio {} not in [0,1]", m_opt.mutation_ratio));
  if (m_opt.resolutions.empty()) bad("no resolutions");
  for (int r : m_opt.resolutions)
    if (r < m_opt.space.min_resolution || r > m_opt.space.max_resolution) bad(fmt::format("resolution {} out of range", r));
  if (m_opt.max_tries < 1) bad("max_tries must be >= 1");
  if (static_cast<int>(std::lround(m_opt.parent_ratio * m_opt.population_size)) < 1)
    bad("parent_ratio * population_size rounds to 0 parents");
}

SubnetConfig EvolutionFinder::random_sample(Rng& rng) const {
  const auto& sp = m_opt.space;
  SubnetConfig c;
  for (int i = 0; i < sp.num_stages; ++i) c.d.push_back(sp.d_values[rng.below(sp.d_values.size())]);
  for (int i = 0; i < sp.num_blocks(); ++i) {
    c.e.push_back(sp.e_values[rng.below(sp.e_values.size())]);
    c.ks.push_back(sp.ks_values[rng.below(sp.ks_values.size())]);
  }
  c.r = m_opt.resolutions[rng.below(m_opt.resolutions.size())];
  return c;
}

SubnetConfig EvolutionFinder::mutate(const SubnetConfig& parent, Rng& rng) const {
  const auto& sp = m_opt.space;
  SubnetConfig c = parent;
  if (rng.uniform() < m_opt.mutate_prob) c.r = m_opt.resolutions[rng.below(m_opt.resolutions.size())];
  for (size_t i = 0; i < c.ks.size(); ++i)
    if (rng.uniform() < m_opt.mutate_prob) {
      c.ks[i] = sp.ks_values[rng.below(sp.ks_values.size())];
      c.e[i] = sp.e_values[rng.below(sp.e_values.size())];
    }
  for (auto& d : c.d)
    if (rng.uniform() < m_opt.mutate_prob) d = sp.d_values[rng.below(sp.d_values.size())];
  return c;
}

SubnetConfig EvolutionFinder::crossover(const SubnetConfig& a, const SubnetConfig& b, Rng& rng) const {
  SubnetConfig c = a;
  for (size_t i = 0; i < c.ks.size(); ++i) c.ks[i] = rng.below(2) ? a.ks[i] : b.ks[i];
  for (size_t i = 0; i < c.e.size(); ++i) c.e[i] = rng.below(2) ? a.e[i] : b.e[i];
  for (size_t i = 0; i < c.d.size(); ++i) c.d[i] = rng.below(2) ? a.d[i] : b.d[i];
  c.r = rng.below(2) ? a.r : b.r;
  return c;
}

template <typename Gen>
std::pair<SubnetConfig, double> EvolutionFinder::constrained(Gen gen, double constraint, const char* what) {
  for (int t = 0; t < m_opt.max_tries; ++t) {
    SubnetConfig c = gen();
    const double e = m_eff(c);
    if (std::isnan(e)) throw Error(ErrorCode::InvalidArgument, fmt::format("evolution search: efficiency of {} is NaN", c.to_string()));
    m_min_seen = std::min(m_min_seen, e);
    if (e <= constraint) return {std::move(c), e};
  }
  throw Error(ErrorCode::InvalidArgument,
              fmt::format("evolution search: no {} met the constraint {} within {} tries (smallest efficiency seen {}); "
                          "the constraint is probably infeasible",
                          what, constraint, m_opt.max_tries, m_min_seen));
}

Candidate EvolutionFinder::search(double constraint) {
  if (std::isnan(constraint)) throw Error(ErrorCode::InvalidArgument, "evolution search: constraint is NaN");
  Rng rng{m_opt.seed};
  m_evaluated.clear();
  m_history.clear();
  m_min_seen = kInf;
  const size_t pop = static_cast<size_t>(m_opt.population_size);
  const size_t n_mut = static_cast<size_t>(std::lround(m_opt.mutation_ratio * m_opt.population_size));
  const size_t n_par = static_cast<size_t>(std::lround(m_opt.parent_ratio * m_opt.population_size));

  std::vector<Candidate> population;
  auto evaluate = [&](std::vector<std::pair<SubnetConfig, double>>& children) {
    std::vector<SubnetConfig> cs;
    cs.reserve(children.size());
    for (auto& ch : children) cs.push_back(ch.first);
    const auto acc = m_acc(cs);
    if (acc.size() != cs.size())
      throw Error(ErrorCode::InvalidArgument,
                  fmt::format("evolution search: accuracy function returned {} values for {} configs", acc.size(), cs.size()));
    for (size_t i = 0; i < cs.size(); ++i) {
      Candidate c{std::move(cs[i]), acc[i], children[i].second};
      m_evaluated.push_back(c);
      population.push_back(std::move(c));
    }
  };

  std::vector<std::pair<SubnetConfig, double>> children;
  for (size_t i = 0; i < pop; ++i) children.push_back(constrained([&] { return random_sample(rng); }, constraint, "random sub-network"));
  evaluate(children);

  Candidate best{SubnetConfig{}, -kInf, 0};
  for (int g = 0; g < m_opt.generations; ++g) {
    // Parents: the most accurate n_par (OFA: sorted(...)[::-1][:parents_size]).
    std::stable_sort(population.begin(), population.end(), [](const Candidate& a, const Candidate& b) { return a.accuracy < b.accuracy; });
    std::reverse(population.begin(), population.end());
    population.resize(std::min(n_par, population.size()));
    if (population.front().accuracy > best.accuracy) best = population.front();
    m_history.push_back(best.accuracy);
    children.clear();
    for (size_t i = 0; i < n_mut; ++i) {
      const SubnetConfig& par = population[rng.below(population.size())].subnet;
      children.push_back(constrained([&] { return mutate(par, rng); }, constraint, "mutation"));
    }
    for (size_t i = n_mut; i < pop; ++i) {
      const SubnetConfig& a = population[rng.below(population.size())].subnet;
      const SubnetConfig& b = population[rng.below(population.size())].subnet;
      children.push_back(constrained([&] { return crossover(a, b, rng); }, constraint, "crossover"));
    }
    evaluate(children);
  }
  for (const auto& c : population)
    if (c.accuracy > best.accuracy) best = c;
  return best;
}

std::vector<Candidate> pareto_candidates(const std::vector<Candidate>& cands) {
  auto idx = pareto_front_indices_of(
      cands, [](const Candidate& c) { return std::vector<double>{c.efficiency, c.accuracy}; },
      {Direction::Minimize, Direction::Maximize});
  std::vector<Candidate> out;
  for (size_t i : idx) {
    // Equal (efficiency, accuracy) pairs are usually the same network found twice: keep one.
    bool dup = false;
    for (const auto& o : out) dup = dup || (o.efficiency == cands[i].efficiency && o.accuracy == cands[i].accuracy);
    if (!dup) out.push_back(cands[i]);
  }
  std::stable_sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) { return a.efficiency < b.efficiency; });
  return out;
}

std::vector<Candidate> pareto_search(EvolutionFinder& finder, const std::vector<double>& constraints) {
  std::vector<Candidate> pool;
  for (double c : constraints) {
    finder.search(c);
    // Keep only each run's own front: the pool stays small even for long runs.
    const auto f = pareto_candidates(finder.evaluated());
    pool.insert(pool.end(), f.begin(), f.end());
  }
  return pareto_candidates(pool);
}

std::vector<Candidate> select_levels(const std::vector<Candidate>& front, size_t n) {
  std::vector<double> x;
  for (const auto& c : front) x.push_back(c.efficiency);
  std::vector<Candidate> out;
  for (size_t i : select_spread(x, n)) out.push_back(front[i]);
  return out;
}

std::vector<OperatingPoint> profile_front(const Profile& profile, const AccuracyPredictor* predictor, const std::string& device) {
  std::vector<OperatingPoint> pts;
  for (const auto& p : profile.points) {
    if (!device.empty() && p.device != device) continue;
    OperatingPoint q = p;
    if (q.accuracy_source == AccuracySource::Unknown) {
      if (!predictor) continue;
      q.accuracy = predictor->predict(q.subnet);
      q.accuracy_source = AccuracySource::Predicted;
    }
    pts.push_back(std::move(q));
  }
  return pareto_front(pts, {Objective::latency(), Objective::accuracy()});
}

std::vector<OperatingPoint> levels_to_points(const std::vector<Candidate>& levels, const std::string& device, double width_mult) {
  const ofa_mbv3::Arch arch(width_mult);
  std::vector<OperatingPoint> out;
  for (size_t i = 0; i < levels.size(); ++i) {
    OperatingPoint p;
    p.id = fmt::format("L{}", i);
    p.subnet = levels[i].subnet;
    p.device = device;
    p.latency_ms = p.latency_p90_ms = levels[i].efficiency;
    p.accuracy = levels[i].accuracy;
    p.accuracy_source = AccuracySource::Predicted;
    p.macs = static_cast<double>(arch.macs(levels[i].subnet));
    p.level = static_cast<int>(i);
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace dynn
