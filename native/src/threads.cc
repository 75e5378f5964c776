// qkernels: the thread pool behind parallel_for. Workers are started on first use. A job is published by bumping
// an atomic generation (stored with the job's helper count in one word); workers that finished the previous job spin on it for a short while (kSpin) before
// sleeping on a condition variable, so back-to-back calls (a model's layers, a benchmark loop) start in about a
// microsecond instead of a futex wake-up (tens of microseconds on a VM). Each participant (the caller works too)
// runs its own contiguous share of the tasks, then helps with the others'; the caller then waits for the helpers
// by polling.
//
// Workers are POSIX threads, or Windows threads from _beginthreadex, never std::thread: the addon is built without
// exceptions, where a std::thread that cannot be created (a container's pids limit, address space) throws
// std::system_error into code that cannot catch it and the process aborts. A worker that cannot be started is
// skipped: the call runs on the threads it has (results never depend on the thread count), and the next call
// tries again.
#include "qk/threads.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define QK_PTHREADS 1
#elif defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <process.h>  // _beginthreadex
#include <windows.h>  // CloseHandle
#define QK_WINTHREADS 1
#else
#include <vector>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define QK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define QK_PAUSE() __asm__ volatile("yield")
#else
#define QK_PAUSE() ((void)0)
#endif

namespace qk {
namespace {

std::atomic<int> g_threads{0};
std::atomic<double> g_min_micros{20.0};
std::atomic<int> g_spawn_limit{-1};  // test hook: starting a worker fails once the pool has this many (-1: off)

using Clock = std::chrono::steady_clock;
constexpr auto kSpin = std::chrono::microseconds(300);  // how long an idle worker keeps spinning
// Calls closer together than this are back to back: their workers stay spinning between them.
constexpr auto kWarm = std::chrono::microseconds(200);
std::atomic<Clock::rep> g_last_end{0};  // when the last parallel_for returned

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    cv_.notify_all();
#if QK_PTHREADS
    for (int i = 0; i < nworkers_; ++i) pthread_join(workers_[i], nullptr);
#elif QK_WINTHREADS
    // The pool is never destroyed (pool()); were it, the stopped workers would exit on their own.
#else
    for (auto& t : workers_) t.join();
#endif
  }

  // Returns false (and does nothing) if another job is running.
  bool run(size_t tasks, int threads, const TaskFn& fn) {
    std::unique_lock<std::mutex> busy(job_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    threads = std::min(threads, kMaxParts);
    // The new workers start from the current generation: the bump below is their first job, however late they run.
    while (workers() < threads - 1 && spawn(job_.load(std::memory_order_relaxed) >> kGenShift)) {
    }
    threads = std::min(threads, workers() + 1);  // a worker that could not be started: fewer threads
    if (threads <= 1) return false;               // the caller runs the job alone
    const int helpers = threads - 1;
    fn_ = &fn;
    tasks_ = tasks;
    parts_ = threads;
    for (int p = 0; p < threads; ++p) {
      ranges_[p].next.store(tasks * p / threads, std::memory_order_relaxed);
      ranges_[p].end = tasks * (p + 1) / threads;
    }
    pending_.store(helpers, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);  // a worker about to sleep checks the job word under mu_
      const uint64_t gen = (job_.load(std::memory_order_relaxed) >> kGenShift) + 1;
      job_.store((gen << kGenShift) | static_cast<uint64_t>(helpers), std::memory_order_release);
    }
    if (sleepers_.load(std::memory_order_acquire) > 0) cv_.notify_all();
    work(0);
    // The helpers usually finish within microseconds of the caller; if one was descheduled (more threads than
    // free cores), sleep until the last one is done instead of spinning against it.
    for (unsigned spins = 0; spins < 4096 && pending_.load(std::memory_order_acquire) != 0; ++spins) QK_PAUSE();
    if (pending_.load(std::memory_order_acquire) != 0) {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
    fn_ = nullptr;
    return true;
  }

 private:
  // Participant p (0: the caller, 1 + i: worker i) runs its own contiguous share of the tasks first, then takes
  // what is left of the others' shares. The same thread runs the same tasks call after call where nobody falls
  // behind, so a GEMM's block of C stays in that core's cache (a block written by the other core last call has to
  // come over first: 256^3 amx on 2 threads took 4.5 or 10 us a task depending on the handout).
  void work(int p) {
    for (int q = 0; q < parts_; ++q) {
      Range& r = ranges_[(p + q) % parts_];
      for (size_t t; (t = r.next.fetch_add(1, std::memory_order_relaxed)) < r.end;) (*fn_)(t);
    }
  }

  int workers() const {
#if QK_PTHREADS || QK_WINTHREADS
    return nworkers_;
#else
    return static_cast<int>(workers_.size());
#endif
  }

  // Starts worker number workers(), which has handled generation `seen`; false if it could not be started.
  bool spawn(uint64_t seen) {
    const int id = workers();
    const int limit = g_spawn_limit.load(std::memory_order_relaxed);
    if (limit >= 0 && id >= limit) return false;
#if QK_PTHREADS
    starts_[id] = {this, id, seen};
    pthread_t th;
    if (pthread_create(&th, nullptr, &Pool::entry, &starts_[id]) != 0) return false;
    workers_[nworkers_++] = th;
    return true;
#elif QK_WINTHREADS
    starts_[id] = {this, id, seen};
    // 0 on failure (errno set), never an exception. The handle is not kept: nothing joins the workers.
    const uintptr_t th = _beginthreadex(nullptr, 0, &Pool::entry, &starts_[id], 0, nullptr);
    if (th == 0) return false;
    CloseHandle(reinterpret_cast<HANDLE>(th));
    ++nworkers_;
    return true;
#else
    workers_.emplace_back([this, id, seen] { loop(id, seen); });
    return true;
#endif
  }

#if QK_PTHREADS || QK_WINTHREADS
  struct Start {
    Pool* pool;
    int id;
    uint64_t seen;
  };
#if QK_PTHREADS
  static void* entry(void* arg) {
    const Start* s = static_cast<const Start*>(arg);
    s->pool->loop(s->id, s->seen);
    return nullptr;
  }
#else
  static unsigned __stdcall entry(void* arg) {
    const Start* s = static_cast<const Start*>(arg);
    s->pool->loop(s->id, s->seen);
    return 0;
  }
#endif
#endif

  // `seen`: the last generation this worker has handled (worked on, or skipped when not needed).
  void loop(int id, uint64_t seen) {
    for (;;) {
      uint64_t word = job_.load(std::memory_order_acquire);
      if ((word >> kGenShift) == seen && !stop_.load(std::memory_order_relaxed)) {
        const auto until = Clock::now() + kSpin;
        for (unsigned i = 1; (word >> kGenShift) == seen && !stop_.load(std::memory_order_relaxed); ++i) {
          QK_PAUSE();
          word = job_.load(std::memory_order_acquire);
          if (i % 256 == 0) {
            if (Clock::now() > until) break;
            std::this_thread::yield();  // on a busy machine, let runnable threads have the core
          }
        }
        if ((word >> kGenShift) == seen) {
          std::unique_lock<std::mutex> lock(mu_);
          sleepers_.fetch_add(1, std::memory_order_acq_rel);
          cv_.wait(lock, [&] {
            word = job_.load(std::memory_order_acquire);
            return stop_.load() || (word >> kGenShift) != seen;
          });
          sleepers_.fetch_sub(1, std::memory_order_acq_rel);
        }
      }
      if (stop_.load()) return;
      seen = word >> kGenShift;
      // The generation and its helper count come from one atomic word: a worker that was not needed for a job
      // must not read a later job's count and join a job it was never counted in.
      if (static_cast<uint64_t>(id) < (word & kActiveMask)) {
        work(id + 1);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lock(mu_);  // the caller may be about to wait on done_cv_
          done_cv_.notify_one();
        }
      }
    }
  }

  std::mutex job_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  static constexpr int kMaxParts = 257;  // set_num_threads caps at 256
#if QK_PTHREADS
  pthread_t workers_[kMaxParts];
  Start starts_[kMaxParts];  // each worker's start arguments (the pool is never moved)
  int nworkers_ = 0;
#elif QK_WINTHREADS
  Start starts_[kMaxParts];
  int nworkers_ = 0;
#else
  std::vector<std::thread> workers_;
#endif
  // Written by the job's caller before job_ is published (release), read by its helpers after (acquire).
  const TaskFn* fn_ = nullptr;
  size_t tasks_ = 0;
  // Each participant's share [next, end) of the current job, a cache line apiece.
  struct alignas(64) Range {
    std::atomic<size_t> next{0};
    size_t end = 0;
  };
  Range ranges_[kMaxParts];
  int parts_ = 0;
  std::atomic<int> pending_{0};
  // The current job: generation << kGenShift | the number of helpers it needs (workers 0 .. n - 1).
  static constexpr int kGenShift = 16;
  static constexpr uint64_t kActiveMask = (uint64_t{1} << kGenShift) - 1;
  std::atomic<uint64_t> job_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order at exit
  return *p;
}

}  // namespace

int default_num_threads() {
  // Computed once: hardware_concurrency() is a system call (glibc's get_nprocs), 1.7 us on this VM, and every
  // GEMM call asks for the thread count (a 1x1x1 int8Gemm took 3.3 us, 0.75 us with this cached).
  static const int n = [] {
    const unsigned hc = std::thread::hardware_concurrency();
    return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
  }();
  return n;
}

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : std::min(n, 256)); }

double min_micros_per_thread() { return g_min_micros.load(std::memory_order_relaxed); }
double min_micros_per_thread(int threads) {
  const double us = min_micros_per_thread();
  if (threads <= 1) return us;
  const auto since = Clock::now().time_since_epoch() - Clock::duration(g_last_end.load(std::memory_order_relaxed));
  return since < kWarm ? us / 4 : us;
}
void set_thread_spawn_limit_for_tests(int workers) { g_spawn_limit.store(workers, std::memory_order_relaxed); }

void set_min_micros_per_thread(double us) { g_min_micros.store(us < 0 ? 0 : us, std::memory_order_relaxed); }

void parallel_for(size_t tasks, int threads, TaskFn fn) {
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), tasks));
  if (!(threads > 1 && pool().run(tasks, threads, fn)))
    for (size_t t = 0; t < tasks; ++t) fn(t);
  g_last_end.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

}  // namespace qk
