#include "cpu/resources.hpp"

namespace dynn::cpu {

std::shared_ptr<ThreadPool> Resources::pool_for_calling_thread(int n) const {
  const std::vector<uint64_t> mask = ThreadPool::calling_thread_mask();
  std::lock_guard<std::mutex> lock(m_mutex);
  for (auto it = m_pools.rbegin(); it != m_pools.rend(); ++it)
    if ((*it)->threads() == n && (n == 1 || (*it)->mask() == mask)) return *it;
  auto pool = std::make_shared<ThreadPool>(n);
  m_pools.push_back(pool);
  if (m_pools.size() > 4) m_pools.erase(m_pools.begin());  // in-flight users keep theirs alive
  return pool;
}

Resources::Lease::Lease(const Resources& r) : m_owner(r) {
  std::lock_guard<std::mutex> lock(r.m_mutex);
  if (r.m_idle.empty()) {
    m_ws = std::make_unique<Workspace>();
    return;
  }
  m_ws = std::move(r.m_idle.back());
  r.m_idle.pop_back();
  r.m_idle_bytes -= m_ws->bytes();
}

Resources::Lease::~Lease() {
  std::lock_guard<std::mutex> lock(m_owner.m_mutex);
  m_owner.m_idle_bytes += m_ws->bytes();
  m_owner.m_idle.push_back(std::move(m_ws));
}

size_t Resources::idle_workspace_bytes() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_idle_bytes;
}

void Resources::bind_for_first_run(Graph& graph, int n) const {
  Lease ws(*this);
  graph.bind(ws.get(), *pool_for_calling_thread(n), 1);
}

void Resources::run(Graph& graph, std::mutex& graph_mutex, int n, const float* input_nchw, int64_t batch, float* output,
                    std::vector<double>* layer_seconds) const {
  Lease ws(*this);
  const auto pool = pool_for_calling_thread(n);
  std::lock_guard<std::mutex> lock(graph_mutex);
  graph.run(ws.get(), *pool, input_nchw, batch, output, layer_seconds);
  if (!spin_workers) pool->release_workers();
}

}  // namespace dynn::cpu
