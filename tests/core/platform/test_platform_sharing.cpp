// Shared hardware: claims of several users on one platform, affinity restored on the thread that
// was pinned, and write errors that name the file.
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "fake_trees.hpp"

using dynn::Error;
using dynn::ErrorCode;
using dynn::Platform;
using dynn::test::FakeTree;

namespace {

const std::string kGpu = "sys/class/devfreq/17000000.gv11b/";
const std::string kPol0 = "sys/devices/system/cpu/cpufreq/policy0/";

std::unique_ptr<Platform> detect(const FakeTree& t) {
  dynn::DetectOptions o;
  o.root = t.root().string();
  return Platform::detect(o);
}

template <class F>
std::pair<ErrorCode, std::string> error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return {e.code(), e.what()};
  }
  FAIL("expected a dynn::Error");
  return {ErrorCode::Internal, ""};
}

cpu_set_t mask_of(pthread_t t) {
  cpu_set_t s;
  CPU_ZERO(&s);
  REQUIRE(::pthread_getaffinity_np(t, sizeof s, &s) == 0);
  return s;
}

// A thread that runs `work` then waits until released, so its mask can be read from outside.
struct Parked {
  std::mutex m;
  std::condition_variable cv;
  bool ready = false, go = false;
  std::thread th;
  template <class F>
  explicit Parked(F work) {
    th = std::thread([this, work] {
      work();
      std::unique_lock<std::mutex> l(m);
      ready = true;
      cv.notify_all();
      cv.wait(l, [this] { return go; });
    });
    std::unique_lock<std::mutex> l(m);
    cv.wait(l, [this] { return ready; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> l(m);
      go = true;
    }
    cv.notify_all();
    th.join();
  }
};

}  // namespace

TEST_CASE("affinity: a worker pinned by the knob is put back when another thread restores", "[platform]") {
  auto p = Platform::detect();
  auto& aff = p->knob("affinity");
  const uint64_t allowed = static_cast<uint64_t>(aff.max_value().value_or(1));
  if (__builtin_popcountll(allowed) < 2) {
    WARN("one CPU: a pinned and an unpinned mask look the same, test skipped");
    return;
  }
  const int64_t first = static_cast<int64_t>(allowed & (~allowed + 1));
  const cpu_set_t main_before = mask_of(::pthread_self());
  cpu_set_t worker_before;
  CPU_ZERO(&worker_before);
  std::atomic<int> failed{0};
  auto pin = [&](int64_t mask) {
    try {
      aff.set(mask);
    } catch (const std::exception&) {
      ++failed;
    }
  };
  Parked worker([&] {
    ::pthread_getaffinity_np(::pthread_self(), sizeof worker_before, &worker_before);
    pin(first);
  });
  REQUIRE(failed == 0);
  CHECK(CPU_COUNT(&worker_before) >= 2);
  cpu_set_t pinned = mask_of(worker.th.native_handle());
  CHECK(CPU_COUNT(&pinned) == 1);
  CHECK(aff.changed());
  p->restore();  // this thread never was pinned: the worker must be put back
  cpu_set_t after = mask_of(worker.th.native_handle());
  CHECK(CPU_EQUAL(&after, &worker_before));
  cpu_set_t main_after = mask_of(::pthread_self());
  CHECK(CPU_EQUAL(&main_after, &main_before));
  CHECK_FALSE(aff.changed());

  // Two threads pinned, the platform destroyed from a third: both back.
  Parked a([&] { pin(first); });
  Parked b([&] {
    pin(static_cast<int64_t>(allowed));
    pin(first);
  });
  REQUIRE(failed == 0);
  pinned = mask_of(b.th.native_handle());
  CHECK(CPU_COUNT(&pinned) == 1);
  p.reset();
  cpu_set_t ma = mask_of(a.th.native_handle()), mb = mask_of(b.th.native_handle());
  CHECK(CPU_EQUAL(&ma, &worker_before));
  CHECK(CPU_EQUAL(&mb, &worker_before));
  a.release();
  b.release();
  worker.release();
}

TEST_CASE("affinity: a pinned thread that has exited is no restore error", "[platform]") {
  auto p = Platform::detect();
  auto& aff = p->knob("affinity");
  const uint64_t allowed = static_cast<uint64_t>(aff.max_value().value_or(1));
  std::thread([&] { aff.set(static_cast<int64_t>(allowed & (~allowed + 1))); }).join();
  CHECK(aff.changed());
  CHECK_NOTHROW(p->restore());
  CHECK_FALSE(aff.changed());
}

TEST_CASE("claims: releasing one claimant restores only what it changed, and the others' values win", "[platform]") {
  FakeTree t("claims");
  dynn::test::build_xavier_nx_jp4(t);
  auto p = detect(t);
  auto a = p->add_claimant("manager A"), b = p->add_claimant("manager B");
  CHECK_THROWS_AS(p->set_knob(12345, p->knob("gpu.max_freq"), 510000000), Error);  // unknown claimant

  SECTION("disjoint knobs") {
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    p->set_knob(b, p->knob("cpufreq.policy0.max_freq"), 1190400);
    p->release(a);
    CHECK(t.get(kGpu + "max_freq") == "1109250000");
    CHECK(t.get(kPol0 + "scaling_max_freq") == "1190400");  // B still relies on it
    p->release(b);
    CHECK(t.get(kPol0 + "scaling_max_freq") == "1907200");
  }
  SECTION("one knob: the leaver had overwritten the other's value, which is written again") {
    p->set_knob(b, p->knob("gpu.max_freq"), 1007250000);
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    CHECK(p->holders(p->knob("gpu.max_freq")).size() == 2);
    p->release(a);
    CHECK(t.get(kGpu + "max_freq") == "1007250000");
    p->release(b);
    CHECK(t.get(kGpu + "max_freq") == "1109250000");  // the original, saved once at the first change (B's)
  }
  SECTION("one knob: the other's value is in force already, nothing is written") {
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    p->set_knob(b, p->knob("gpu.max_freq"), 1007250000);
    const uint64_t writes = p->knob("gpu.max_freq").write_count();
    p->release(a);
    CHECK(p->knob("gpu.max_freq").write_count() == writes);
    CHECK(t.get(kGpu + "max_freq") == "1007250000");
  }
  SECTION("pinned frequency (min = max through two files)") {
    p->set_knob(b, p->knob("gpu.freq"), 803250000);
    p->set_knob(a, p->knob("gpu.freq"), 204000000);
    p->release(a);
    CHECK(t.get(kGpu + "min_freq") == "803250000");
    CHECK(t.get(kGpu + "max_freq") == "803250000");
    p->release(b);
    CHECK(t.get(kGpu + "min_freq") == "114750000");
    CHECK(t.get(kGpu + "max_freq") == "1109250000");
  }
  SECTION("pinned by one, a bound moved by the other") {
    p->set_knob(a, p->knob("gpu.freq"), 510000000);
    p->set_knob(b, p->knob("gpu.max_freq"), 1007250000);
    p->release(a);
    CHECK(t.get(kGpu + "min_freq") == "114750000");  // only A held it
    CHECK(t.get(kGpu + "max_freq") == "1007250000");  // B's
  }
  SECTION("the application's direct changes are not a claimant's to restore") {
    p->knob("cpufreq.policy0.governor").set_text("performance");
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    p->knob("gpu.max_freq").set(306000000);  // the application moves it too
    p->release(a);
    CHECK(t.get(kPol0 + "scaling_governor") == "performance");
    CHECK(t.get(kGpu + "max_freq") == "306000000");
    CHECK(p->holders(p->knob("gpu.max_freq")) == std::vector<std::string>{"application"});
    p->restore();
    CHECK(t.get(kPol0 + "scaling_governor") == "schedutil");
    CHECK(t.get(kGpu + "max_freq") == "1109250000");
  }
  SECTION("release without restoring hands the change to the platform") {
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    p->release(a, false);
    CHECK(t.get(kGpu + "max_freq") == "510000000");
    CHECK(p->knob("gpu.max_freq").changed());
    p.reset();
    CHECK(t.get(kGpu + "max_freq") == "1109250000");
  }
  SECTION("a failed restore is reported and stays owed") {
    p->set_knob(a, p->knob("gpu.max_freq"), 510000000);
    t.make_dir(kGpu + "max_freq");
    auto [code, msg] = error_of([&] { p->release(a); });
    CHECK(code == ErrorCode::Io);
    CHECK(msg.find("manager A") != std::string::npos);
    CHECK(msg.find("gpu.max_freq") != std::string::npos);
    CHECK(msg.find(t.at(kGpu + "max_freq").string()) != std::string::npos);
    t.remove(kGpu + "max_freq");
    t.put(kGpu + "max_freq", "510000000");
    p->restore();
    CHECK(t.get(kGpu + "max_freq") == "1109250000");
  }
}

TEST_CASE("callback knobs: a claimant's binding cannot be taken over", "[platform]") {
  Platform p("bind");
  auto& k = static_cast<dynn::CallbackKnob&>(
      p.add_knob(std::make_unique<dynn::CallbackKnob>(dynn::KnobSpec{"threads", "threads", "", dynn::KnobType::Numeric, {}, 1, 8, {}}, 4)));
  int model = 2;
  auto a = p.add_claimant("runtime manager 7");
  k.bind([&] { return int64_t{model}; }, [&](int64_t v) { model = static_cast<int>(v); }, a, "runtime manager 7 (app 'x')");
  CHECK(k.bound_by() == a);
  auto [code, msg] = error_of([&] { p.bind_knob("threads", [] { return int64_t{1}; }, [](int64_t) {}); });
  CHECK(code == ErrorCode::Busy);
  CHECK(msg.find("runtime manager 7 (app 'x')") != std::string::npos);
  CHECK(model == 2);
  k.unbind();
  p.bind_knob("threads", [] { return int64_t{1}; }, [](int64_t) {});  // free again
  CHECK(k.bound_by() == 0);
  p.bind_knob("threads", [] { return int64_t{3}; }, [](int64_t) {});  // the application may rebind its own
  CHECK(k.get() == 3);
  k.unbind();
}

TEST_CASE("sysfs knobs: missing files and refused writes are errors naming the knob and the file", "[platform]") {
  FakeTree t("errors");
  dynn::test::build_xavier_nx_jp4(t);
  t.remove(kGpu + "min_freq");
  auto p = detect(t);
  const std::string min_path = t.at(kGpu + "min_freq").string();

  // Missing at detection.
  auto [c1, m1] = error_of([&] { p->knob("gpu.min_freq").set(306000000); });
  CHECK(c1 == ErrorCode::NotFound);
  CHECK(m1.find("gpu.min_freq") != std::string::npos);
  CHECK(m1.find(min_path) != std::string::npos);
  auto [c2, m2] = error_of([&] { p->knob("gpu.freq").set(306000000); });
  CHECK(c2 == ErrorCode::NotFound);
  CHECK(m2.find(min_path) != std::string::npos);

  // Gone after detection, before the first change: nothing is written (the original cannot be
  // read), the error names the knob and the file.
  const std::string gov = t.at(kPol0 + "scaling_governor").string();
  t.remove(kPol0 + "scaling_governor");
  auto [c3, m3] = error_of([&] { p->knob("cpufreq.policy0.governor").set_text("performance"); });
  CHECK(c3 == ErrorCode::NotFound);
  CHECK(m3.find("cpufreq.policy0.governor") != std::string::npos);
  CHECK(m3.find(gov) != std::string::npos);
  CHECK_FALSE(p->knob("cpufreq.policy0.governor").changed());

  // Gone after the first change: the write error names both; restore reports the file.
  auto& mx = p->knob("cpufreq.policy0.max_freq");
  mx.set(1190400);
  const std::string mx_path = t.at(kPol0 + "scaling_max_freq").string();
  t.remove(kPol0 + "scaling_max_freq");
  auto [c4, m4] = error_of([&] { mx.set(1036800); });
  CHECK(c4 == ErrorCode::NotFound);
  CHECK(m4.find("cpufreq.policy0.max_freq") != std::string::npos);
  CHECK(m4.find(mx_path) != std::string::npos);
  auto [c5, m5] = error_of([&] { p->restore(); });
  CHECK(c5 == ErrorCode::Io);
  CHECK(m5.find(mx_path) != std::string::npos);
  t.put(kPol0 + "scaling_max_freq", "1190400");
  p->restore();
  CHECK(t.get(kPol0 + "scaling_max_freq") == "1907200");

  if (::geteuid() == 0) {
    WARN("running as root: file modes do not refuse writes, permission-denied cases skipped");
    return;
  }
  // Permission denied: at detection (read-only attribute) and at run time.
  ::chmod(t.at(kGpu + "max_freq").c_str(), 0444);
  auto q = detect(t);
  auto [c6, m6] = error_of([&] { q->knob("gpu.max_freq").set(510000000); });
  CHECK(c6 == ErrorCode::PermissionDenied);
  CHECK(m6.find(t.at(kGpu + "max_freq").string()) != std::string::npos);
  ::chmod(t.at(kGpu + "max_freq").c_str(), 0644);
  auto& g = q->knob("cpufreq.policy2.max_freq");
  g.set(1190400);
  const std::string p2 = t.at("sys/devices/system/cpu/cpufreq/policy2/scaling_max_freq").string();
  ::chmod(p2.c_str(), 0444);
  auto [c7, m7] = error_of([&] { g.set(1036800); });
  CHECK(c7 == ErrorCode::PermissionDenied);
  CHECK(m7.find(p2) != std::string::npos);
  ::chmod(p2.c_str(), 0644);
}
