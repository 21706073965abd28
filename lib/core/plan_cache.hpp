// The prepared-plan cache every family's supernet uses: plans by sub-network key, least recently
// used first out once their bytes pass a budget, and the current plan swapped atomically, so an
// inference that loaded a plan finishes on it while another thread switches (and evicts: a plan
// lives while someone holds it). Internal; torch-free.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace dynn::detail {

// Plan must have `size_t bytes` and its key in the member KeyOf (`key` unless named).
template <class Key, class Plan, Key Plan::*KeyOf = &Plan::key>
class PlanCache {
 public:
  explicit PlanCache(size_t budget) : m_budget(budget) {}

  // The cached plan for key (now the most recent), or make()'s, built outside the lock so other
  // sub-networks keep running meanwhile. Two threads asking for the same new key may both build;
  // the first to finish is kept.
  std::shared_ptr<const Plan> get_or_build(const Key& key, const std::function<std::shared_ptr<Plan>()>& make) {
    if (auto p = lookup(key)) return p;
    std::shared_ptr<const Plan> built = make();
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_index.find(key);
    if (it != m_index.end()) {
      m_lru.splice(m_lru.begin(), m_lru, it->second);
      return *it->second;
    }
    m_lru.push_front(built);
    m_index.emplace(key, m_lru.begin());
    m_bytes += built->bytes;
    evict();
    return built;
  }

  std::shared_ptr<const Plan> lookup(const Key& key) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_index.find(key);
    if (it == m_index.end()) return nullptr;
    m_lru.splice(m_lru.begin(), m_lru, it->second);
    return *it->second;
  }
  // Drops key's plan from the cache (the current plan, and any held elsewhere, lives on until
  // replaced); the next get_or_build builds it again, e.g. after its BN statistics changed.
  void erase(const Key& key) {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto it = m_index.find(key);
    if (it == m_index.end()) return;
    m_bytes -= (*it->second)->bytes;
    m_lru.erase(it->second);
    m_index.erase(it);
  }

  bool contains(const Key& key) const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_index.count(key) != 0;
  }

  void set_current(std::shared_ptr<const Plan> p) { std::atomic_store(&m_current, std::move(p)); }
  std::shared_ptr<const Plan> current() const { return std::atomic_load(&m_current); }

  // Drops every plan but the current one (plans in use stay alive until their inferences end).
  void clear() {
    std::lock_guard<std::mutex> lock(m_mutex);
    auto cur = current();
    m_lru.clear();
    m_index.clear();
    m_bytes = 0;
    if (cur) {
      m_lru.push_front(cur);
      m_index.emplace(cur.get()->*KeyOf, m_lru.begin());
      m_bytes = cur->bytes;
    }
  }

  // Drops every plan, the current one too (plans built for another device): the next
  // get_or_build of any key builds again; current() stays until set_current replaces it.
  void clear_all() {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_lru.clear();
    m_index.clear();
    m_bytes = 0;
  }

  size_t bytes() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_bytes;
  }
  size_t count() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_lru.size();
  }
  size_t budget() const { return m_budget; }

 private:
  // Never evicts the current plan nor the newest (about to become current), even if one alone
  // exceeds the budget.
  void evict() {
    auto cur = current();
    auto it = m_lru.end();
    while (m_bytes > m_budget && m_lru.size() > 1 && it != std::next(m_lru.begin())) {
      --it;
      if (cur && it->get() == cur.get()) continue;
      m_bytes -= (*it)->bytes;
      m_index.erase(it->get()->*KeyOf);
      it = m_lru.erase(it);
    }
  }

  const size_t m_budget;
  mutable std::mutex m_mutex;
  std::list<std::shared_ptr<const Plan>> m_lru;  // front = most recent
  std::unordered_map<Key, typename std::list<std::shared_ptr<const Plan>>::iterator> m_index;
  size_t m_bytes = 0;
  std::shared_ptr<const Plan> m_current;
};

}  // namespace dynn::detail
