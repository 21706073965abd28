// OFA-style evolutionary search (OFA's EvolutionFinder: population, mutation, crossover) for the
// most accurate sub-network under an efficiency constraint (latency from a LatencyTable or a
// Profile, or MACs), Pareto fronts from sweeping the constraint, and "levels" spread along a front
// like Dynamic-OFA's 6-7 levels. Deterministic given the seed (own PRNG, no std distributions).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dynn/profile/accuracy_predictor.hpp"
#include "dynn/profile/latency_table.hpp"
#include "dynn/profile/profile.hpp"

namespace dynn {

// Cost of a sub-network (smaller is better; +inf = cannot run / unknown).
using EfficiencyFn = std::function<double(const SubnetConfig&)>;
// Accuracy of a batch of sub-networks (larger is better).
using AccuracyFn = std::function<std::vector<double>(const std::vector<SubnetConfig>&)>;

EfficiencyFn latency_efficiency(const LatencyTable& table);  // table.predict_ms; NotFound (naming the covered resolutions) where r is not covered
EfficiencyFn macs_efficiency(double width_mult);             // MACs in millions
// The profile's median latency of the sub-network on `device` ("" = any); +inf when not profiled.
EfficiencyFn profile_efficiency(const Profile& profile, const std::string& device = {});
AccuracyFn predictor_accuracy(const AccuracyPredictor& predictor);

struct EvolutionOptions {
  int population_size = 100;    // OFA defaults
  int generations = 500;        // OFA's max_time_budget
  double mutate_prob = 0.1;
  double parent_ratio = 0.25;
  double mutation_ratio = 0.5;
  std::vector<int> resolutions = {160, 176, 192, 208, 224};  // OFA ArchManager
  uint64_t seed = 1;
  int max_tries = 20000;        // per sample; OFA loops forever, dynn gives up with an error
  SearchSpace space = SearchSpace::ofa_mbv3();
};

struct Candidate {
  SubnetConfig subnet;
  double accuracy = 0;
  double efficiency = 0;
};

class EvolutionFinder {
 public:
  EvolutionFinder(EfficiencyFn efficiency, AccuracyFn accuracy, EvolutionOptions options = {});

  // The most accurate sub-network found with efficiency <= constraint. Throws InvalidArgument
  // when no random sub-network meets the constraint within max_tries (names the constraint and
  // the smallest efficiency seen). Re-seeds from options.seed on every call: same inputs, same result.
  Candidate search(double constraint);

  // Every candidate evaluated by the last search (initial population and all children).
  const std::vector<Candidate>& evaluated() const { return m_evaluated; }
  // Best accuracy after each generation of the last search (non-decreasing).
  const std::vector<double>& best_history() const { return m_history; }
  const EvolutionOptions& options() const { return m_opt; }

 private:
  struct Rng {
    uint64_t s;
    uint64_t next();
    double uniform();          // [0, 1)
    size_t below(size_t n);    // [0, n)
  };
  SubnetConfig random_sample(Rng& rng) const;
  SubnetConfig mutate(const SubnetConfig& c, Rng& rng) const;
  SubnetConfig crossover(const SubnetConfig& a, const SubnetConfig& b, Rng& rng) const;
  template <typename Gen>
  std::pair<SubnetConfig, double> constrained(Gen gen, double constraint, const char* what);

  EfficiencyFn m_eff;
  AccuracyFn m_acc;
  EvolutionOptions m_opt;
  std::vector<Candidate> m_evaluated;
  std::vector<double> m_history;
  double m_min_seen = 0;
};

// Pareto front (min efficiency, max accuracy) of candidates, sorted by ascending efficiency.
std::vector<Candidate> pareto_candidates(const std::vector<Candidate>& cands);

// Runs the finder once per constraint and returns the Pareto front of everything it evaluated.
std::vector<Candidate> pareto_search(EvolutionFinder& finder, const std::vector<double>& constraints);

// n candidates spread along a front by efficiency (both ends kept), ascending; fewer if the
// front is smaller.
std::vector<Candidate> select_levels(const std::vector<Candidate>& front, size_t n);

// For a Profile the candidate set is its points: the (latency, accuracy) front of the points on
// `device` ("" = all). Points without a measured/published accuracy get the predictor's value
// when one is given (and are skipped otherwise). Returned points have accuracy_source updated.
std::vector<OperatingPoint> profile_front(const Profile& profile, const AccuracyPredictor* predictor = nullptr,
                                          const std::string& device = {});

// Candidates as operating points "L0".."Ln-1" on `device` with predicted accuracy, table latency
// (efficiency) and MACs for width_mult.
std::vector<OperatingPoint> levels_to_points(const std::vector<Candidate>& levels, const std::string& device,
                                             double width_mult);

}  // namespace dynn
