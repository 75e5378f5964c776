// qkernels native tests: the thread pool (qk/threads.h). Every task runs exactly once, from the very first call
// (workers started by it must not miss their first job), with changing thread counts, nested calls and two
// callers at once (one of them then runs its tasks itself). Its own program, so that scripts/native-tests.sh also
// runs it under ThreadSanitizer: the plain array the tasks write lets TSan check that a job's start and end order
// the tasks' writes with the caller's.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "qk/threads.h"

namespace {

int g_failures = 0;
std::string g_first;

void fail(const std::string& msg) {
  if (g_failures++ == 0) g_first = msg;
}

template <typename... Args>
std::string strf(const char* fmt, Args... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

// Workers that cannot be started (the spawn hook; pthread_create failing under a pids limit): every task still runs
// once, on the threads the pool has. Runs first, while the pool has no workers yet.
void test_spawn_failure() {
  auto run = [&](size_t tasks, int threads, int limit, size_t max_ids) {
    qk::set_thread_spawn_limit_for_tests(limit);
    std::vector<std::atomic<int>> hits(tasks);
    for (auto& h : hits) h.store(0);
    std::mutex mu;
    std::set<std::thread::id> ids;
    qk::parallel_for(tasks, threads, [&](size_t t) {
      hits[t].fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // so that every started worker gets tasks
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    for (size_t t = 0; t < tasks; ++t)
      if (hits[t].load() != 1)
        return fail(strf("spawn limit %d: task %zu of %zu ran %d times with %d threads", limit, t, tasks,
                         hits[t].load(), threads));
    if (ids.size() > max_ids)
      fail(strf("spawn limit %d: %zu threads ran tasks, at most %zu expected", limit, ids.size(), max_ids));
  };
  run(64, 4, 0, 1);  // no worker can start: the caller runs everything
  run(64, 4, 1, 2);  // one worker
  run(64, 4, -1, 4);  // the hook off: the missing workers start now
  qk::set_thread_spawn_limit_for_tests(-1);
}

void test_thread_pool() {
  // A lost wake-up hangs instead of failing: a watchdog turns that into a failure with a message.
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    for (int i = 0; i < 1200 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!done.load()) {
      std::printf("FAIL common thread_pool: still running after 120 s (a lost wake-up?)\n");
      std::fflush(stdout);
      std::abort();
    }
  });
  auto run = [&](size_t tasks, int threads, const char* what, int round) {
    std::vector<std::atomic<int>> hits(tasks);
    std::vector<int> plain(tasks, 0);
    for (auto& h : hits) h.store(0);
    qk::parallel_for(tasks, threads, [&](size_t t) {
      hits[t].fetch_add(1);
      plain[t] += 1;
    });
    for (size_t t = 0; t < tasks; ++t)
      if (hits[t].load() != 1 || plain[t] != 1)
        return fail(strf("%s round %d: task %zu of %zu ran %d times with %d threads", what, round, t, tasks,
                           hits[t].load(), threads));
  };
  for (int round = 0; round < 3000 && g_failures == 0; ++round)
    run(static_cast<size_t>(round % 9), 1 + round % 5, "sequential", round);
  // Nested: the inner call finds the pool busy and runs on its caller.
  std::atomic<int> inner{0};
  qk::parallel_for(4, 3, [&](size_t) { qk::parallel_for(5, 3, [&](size_t) { inner.fetch_add(1); }); });
  if (inner.load() != 20) fail(strf("nested: %d inner tasks ran, expected 20", inner.load()));
  // Two callers at once.
  std::thread other([&] {
    for (int round = 0; round < 500; ++round) run(7, 3, "concurrent (second caller)", round);
  });
  for (int round = 0; round < 500; ++round) run(11, 2, "concurrent (first caller)", round);
  other.join();
  done.store(true);
  watchdog.join();
}

}  // namespace

int main() {
  int passed = 0, failed = 0;
  auto report = [&](const char* name) {
    if (g_failures) std::printf("FAIL common %s: %s\n", name, g_first.c_str()), ++failed;
    else std::printf("ok common %s\n", name), ++passed;
    g_failures = 0;
    g_first.clear();
  };
  test_spawn_failure();  // first: it needs a pool without workers
  report("thread_spawn_failure");
  test_thread_pool();
  report("thread_pool");
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
