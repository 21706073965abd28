// What a model's CPU-engine inferences share, whatever the family: thread pools whose workers run
// where the calling thread may run, and activation workspaces (one per inference running at the
// same time, reused). Torch-free.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "cpu/xnn_graph.hpp"

namespace dynn::cpu {

class Resources {
 public:
  // A pool of n threads whose workers were created with the calling thread's affinity (the
  // affinity knob pins the inference thread). A few pools are kept, so a model that alternates
  // between two masks (core division) does not recreate threads every step.
  std::shared_ptr<ThreadPool> pool_for_calling_thread(int n) const;

  // A workspace for one run or bind, given back on destruction (also on exceptions).
  class Lease {
   public:
    explicit Lease(const Resources& r);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Workspace& get() { return *m_ws; }

   private:
    const Resources& m_owner;
    std::unique_ptr<Workspace> m_ws;
  };

  size_t idle_workspace_bytes() const;  // activation memory held between inferences

  // A prepared graph bound for batch 1 on a pool of n threads, so the first inference after a
  // switch only runs (the binding's buffers then count in graph.bytes()).
  void bind_for_first_run(Graph& graph, int n) const;
  // One inference of a prepared graph on a pool of n threads and a leased workspace. A graph's
  // operators hold their last binding, so `graph_mutex` (one per graph) keeps it to one
  // inference at a time.
  void run(Graph& graph, std::mutex& graph_mutex, int n, const float* input_nchw, int64_t batch, float* output,
           std::vector<double>* layer_seconds = nullptr) const;

  // SupernetOptions::spin_workers: false puts the pool's workers to sleep when an inference ends.
  bool spin_workers = false;

 private:
  mutable std::mutex m_mutex;
  mutable std::vector<std::shared_ptr<ThreadPool>> m_pools;  // newest last
  mutable std::vector<std::unique_ptr<Workspace>> m_idle;
  mutable size_t m_idle_bytes = 0;
};

}  // namespace dynn::cpu
