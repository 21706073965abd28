// install_restore_on_exit() and restore records: a forked child changes the knobs of a fake
// sysfs tree through the platform and then dies (signal, exit(), abort(), kill -9); the parent
// checks the files are back and the child died the way it would have without dynn.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "dynn/error.hpp"
#include "dynn/platform.hpp"
#include "fake_trees.hpp"

using dynn::ErrorCode;
using dynn::test::FakeTree;

namespace {

const std::string kPol0 = "sys/devices/system/cpu/cpufreq/policy0/";
const std::string kPol2 = "sys/devices/system/cpu/cpufreq/policy2/";
const std::string kGpu = "sys/class/devfreq/17000000.gv11b/";

std::unique_ptr<dynn::Platform> detect(const FakeTree& t) {
  dynn::DetectOptions o;
  o.root = t.root().string();
  return dynn::Platform::detect(o);
}

// The settings every test changes: a governor, a max frequency and the GPU pinned (min = max).
void change_all(dynn::Platform& p) {
  p.knob("cpufreq.policy0.governor").set_text("performance");
  p.knob("cpufreq.policy2.max_freq").set(1190400);
  p.knob("gpu.freq").set(510000000);
}

bool all_changed(const FakeTree& t) {
  return t.get(kPol0 + "scaling_governor") == "performance" && t.get(kPol2 + "scaling_max_freq") == "1190400" &&
         t.get(kGpu + "min_freq") == "510000000" && t.get(kGpu + "max_freq") == "510000000";
}

void check_originals(const FakeTree& t) {
  CHECK(t.get(kPol0 + "scaling_governor") == "schedutil");
  CHECK(t.get(kPol2 + "scaling_max_freq") == "1907200");
  CHECK(t.get(kGpu + "min_freq") == "114750000");
  CHECK(t.get(kGpu + "max_freq") == "1109250000");
}

// Runs body in a forked child with the default dispositions of a plain program (no Catch2
// handlers, no core files). body ends the process itself; exit code 100 = it returned, 101 = it
// threw, 102 = the knobs did not change (a broken test, not a broken restore).
int in_child(const std::function<void()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    struct rlimit none {0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT}) ::signal(s, SIG_DFL);
    try {
      body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      ::_exit(101);
    }
    ::_exit(100);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return status;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}

volatile sig_atomic_t g_app_handler_ran = 0;
void app_handler(int) { g_app_handler_ran = 1; }

}  // namespace

TEST_CASE("restore on exit: a fatal signal puts governor, max frequency and GPU min=max back, then kills", "[platform]") {
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT}) {
    FakeTree t("sig" + std::to_string(sig));
    dynn::test::build_xavier_nx_jp4(t);
    int status = in_child([&] {
      auto p = detect(t);
      dynn::install_restore_on_exit();
      change_all(*p);
      if (!all_changed(t)) ::_exit(102);
      ::raise(sig);
      ::_exit(103);  // not reached: the signal ends the process
    });
    INFO("signal " << sig << ": child " << describe(status));
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == sig);
    check_originals(t);
  }
}

TEST_CASE("restore on exit: abort() and exit() without destructors put everything back", "[platform]") {
  {
    FakeTree t("abort");
    dynn::test::build_xavier_nx_jp4(t);
    int status = in_child([&] {
      auto p = detect(t);
      dynn::install_restore_on_exit();
      change_all(*p);
      if (!all_changed(t)) ::_exit(102);
      std::abort();
    });
    INFO("child " << describe(status));
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGABRT);
    check_originals(t);
  }
  {
    FakeTree t("exit");
    dynn::test::build_xavier_nx_jp4(t);
    int status = in_child([&] {
      auto* leaked = detect(t).release();  // never destroyed: only the atexit hook can restore
      dynn::install_restore_on_exit();
      change_all(*leaked);
      if (!all_changed(t)) ::_exit(102);
      std::exit(3);
    });
    INFO("child " << describe(status));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 3);
    check_originals(t);
  }
}

TEST_CASE("restore on exit: without the handler a signal leaves the settings changed (what the handler fixes)", "[platform]") {
  FakeTree t("nohandler");
  dynn::test::build_xavier_nx_jp4(t);
  int status = in_child([&] {
    auto p = detect(t);
    change_all(*p);
    ::raise(SIGTERM);
    ::_exit(103);
  });
  REQUIRE(WIFSIGNALED(status));
  CHECK(all_changed(t));
}

TEST_CASE("restore on exit: the application's handler runs after the restore, and no knob is written afterwards", "[platform]") {
  FakeTree t("chain");
  dynn::test::build_xavier_nx_jp4(t);
  int status = in_child([&] {
    ::signal(SIGTERM, app_handler);  // e.g. a handler that asks the main loop to stop
    auto p = detect(t);
    dynn::install_restore_on_exit();
    change_all(*p);
    if (!all_changed(t)) ::_exit(102);
    ::raise(SIGTERM);
    if (!g_app_handler_ran) ::_exit(104);
    if (t.get(kGpu + "max_freq") != "1109250000") ::_exit(105);
    try {
      p->knob("gpu.max_freq").set(204000000);  // the process is on its way out: refused
    } catch (const dynn::Error& e) {
      ::_exit(e.code() == ErrorCode::Busy && std::string(e.what()).find("gpu.max_freq") != std::string::npos ? 7 : 106);
    }
    ::_exit(107);
  });
  INFO("child " << describe(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 7);
  check_originals(t);
}

TEST_CASE("restore on exit: an ignored signal stays ignored; exit() still restores", "[platform]") {
  FakeTree t("ignored");
  dynn::test::build_xavier_nx_jp4(t);
  int status = in_child([&] {
    ::signal(SIGHUP, SIG_IGN);  // nohup
    auto p = detect(t);
    dynn::install_restore_on_exit();
    change_all(*p);
    ::raise(SIGHUP);
    if (!all_changed(t)) ::_exit(108);  // the program keeps running with its settings
    std::exit(0);
  });
  INFO("child " << describe(status));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  check_originals(t);
}

TEST_CASE("restore record: kill -9 leaves a record that a later run applies", "[platform]") {
  FakeTree t("record");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string record = t.at("restore.json").string();
  int status = in_child([&] {
    auto p = detect(t);
    dynn::RestoreOnExitOptions o;
    o.record_path = record;
    dynn::install_restore_on_exit(o);
    change_all(*p);
    if (!all_changed(t)) ::_exit(102);
    ::kill(::getpid(), SIGKILL);
    ::_exit(103);
  });
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
  CHECK(all_changed(t));  // nothing can run on SIGKILL
  REQUIRE(std::filesystem::exists(record));
  CHECK(dynn::apply_restore_record(record) == 4);  // governor, max_freq, GPU max and min
  check_originals(t);
  CHECK_FALSE(std::filesystem::exists(record));
  CHECK_THROWS_AS(dynn::apply_restore_record(record), dynn::Error);  // gone

  // A clean restore removes the record: nothing is owed.
  status = in_child([&] {
    auto p = detect(t);
    dynn::RestoreOnExitOptions o;
    o.record_path = record;
    dynn::install_restore_on_exit(o);
    change_all(*p);
    if (!std::filesystem::exists(record)) ::_exit(109);
    p->restore();
    ::_exit(std::filesystem::exists(record) ? 110 : 0);
  });
  INFO("child " << describe(status));
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

TEST_CASE("restore record: hostile records write nothing", "[platform]") {
  FakeTree t("hostile-record");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string max = t.at(kPol2 + "scaling_max_freq").string();
  t.put("victim/passwd", "root:x:0:0");
  const std::string victim = t.at("victim/passwd").string();
  const std::string rec = t.at("r.json").string();
  auto write = [&](const std::string& text) { std::ofstream(rec) << text; };
  auto record = [&](const std::string& path, const std::string& value, long pid = 999999999) {
    return "{\"format\": \"dynn-restore-record\", \"version\": 1, \"pid\": " + std::to_string(pid) +
           ", \"entries\": [{\"path\": \"" + path + "\", \"value\": \"" + value + "\"}]}";
  };
  auto code_of = [&](bool force = false) {
    try {
      dynn::apply_restore_record(rec, force);
    } catch (const dynn::Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  // Anywhere but a cpufreq/devfreq attribute is refused, and so is a value that is not a word.
  write(record(victim, "hacked"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record(t.at(kPol2 + "../../../../../../victim/scaling_max_freq").string(), "1"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record("relative/cpufreq/policy0/scaling_max_freq", "1"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record(max, "1 2"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record(max, std::string(100, '1')));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  // CPU hot-plug: only .../cpu/cpuN/online and only 0 or 1.
  t.put("sys/devices/system/cpu/cpu4/online", "0");
  t.put("victim/online", "1");
  write(record(t.at("sys/devices/system/cpu/cpu4/online").string(), "2"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record(t.at("victim/online").string(), "0"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  write(record(t.at("sys/devices/system/cpu/cpux/online").string(), "1"));
  CHECK(code_of() == ErrorCode::InvalidArgument);
  CHECK(t.get("victim/online") == "1");
  write(record(t.at("sys/devices/system/cpu/cpu4/online").string(), "1"));
  CHECK(dynn::apply_restore_record(rec) == 1);  // a core a killed run left offline comes back
  CHECK(t.get("sys/devices/system/cpu/cpu4/online") == "1");
  CHECK(t.get("victim/passwd") == "root:x:0:0");
  CHECK(t.get(kPol2 + "scaling_max_freq") == "1907200");
  // Malformed: Parse.
  for (const std::string& text : std::vector<std::string>{"{", "[]", "{\"format\": \"x\"}", record(max, "1190400").substr(0, 40),
                                  "{\"format\": \"dynn-restore-record\", \"format\": \"dynn-restore-record\", \"version\": 1, \"pid\": 1, \"entries\": []}",
                                  "{\"format\": \"dynn-restore-record\", \"version\": 1, \"pid\": 18446744073709551615, \"entries\": []}"}) {
    write(text);
    INFO(text);
    CHECK(code_of() == ErrorCode::Parse);
  }
  // A record of a process that still runs (our parent) is refused unless forced.
  write(record(max, "1190400", static_cast<long>(::getppid())));
  CHECK(code_of() == ErrorCode::Busy);
  CHECK(t.get(kPol2 + "scaling_max_freq") == "1907200");
  CHECK(dynn::apply_restore_record(rec, true) == 1);
  CHECK(t.get(kPol2 + "scaling_max_freq") == "1190400");
  // A missing attribute: Io naming it, record kept.
  write(record(t.at(kPol0 + "../policy9/scaling_max_freq").string(), "1"));
  CHECK(code_of() == ErrorCode::InvalidArgument);  // '..' again
  write(record(t.at("sys/devices/system/cpu/cpufreq/policy9/scaling_max_freq").string(), "1"));
  CHECK(code_of() == ErrorCode::Io);
  CHECK(std::filesystem::exists(rec));
}

TEST_CASE("restore on exit: the table follows first changes and restores", "[platform]") {
  FakeTree t("table");
  dynn::test::build_xavier_nx_jp4(t);
  const size_t before = dynn::pending_restores();
  {
    auto p = detect(t);
    change_all(*p);
    CHECK(dynn::pending_restores() == before + 4);
    p->knob("gpu.freq").set(306000000);  // not a first change: no new entry
    CHECK(dynn::pending_restores() == before + 4);
    p->knob("gpu.max_freq").restore();
    CHECK(dynn::pending_restores() == before + 3);
    // Simulated and callback knobs have no file: nothing to put back from a signal handler.
    p->knob("threads").set(1);
    CHECK(dynn::pending_restores() == before + 3);
  }
  CHECK(dynn::pending_restores() == before);
  check_originals(t);
  dynn::RestoreOnExitOptions o;
  o.record_path = t.root().string();  // a folder
  CHECK_THROWS_AS(dynn::install_restore_on_exit(o), dynn::Error);
}

TEST_CASE("restore on exit: a forked child that exits leaves its parent's settings alone", "[platform]") {
  FakeTree t("fork");
  dynn::test::build_xavier_nx_jp4(t);
  const std::string record = t.at("parent.json").string();
  int status = in_child([&] {
    auto p = detect(t);
    dynn::RestoreOnExitOptions o;
    o.record_path = record;
    dynn::install_restore_on_exit(o);
    change_all(*p);
    std::fflush(nullptr);
    pid_t helper = ::fork();  // e.g. a worker process of the application
    if (helper == 0) std::exit(0);
    int hs = 0;
    ::waitpid(helper, &hs, 0);
    if (!all_changed(t)) ::_exit(111);                   // the helper restored the parent's settings
    if (!std::filesystem::exists(record)) ::_exit(112);  // or removed its record
    ::raise(SIGTERM);
    ::_exit(103);
  });
  INFO("child " << describe(status));
  REQUIRE(WIFSIGNALED(status));
  CHECK(WTERMSIG(status) == SIGTERM);
  check_originals(t);
  CHECK_FALSE(std::filesystem::exists(record));
}
