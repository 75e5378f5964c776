// qkernels: the thread pool behind parallel_for. Workers are started on first use and sleep on a condition
// variable between jobs; a job hands out task indices through an atomic counter.
#include "qk/threads.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace qk {
namespace {

std::atomic<int> g_threads{0};

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // Returns false (and does nothing) if another job is running.
  bool run(size_t tasks, int threads, const std::function<void(size_t)>& fn) {
    std::unique_lock<std::mutex> busy(job_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    const int helpers = threads - 1;
    {
      std::lock_guard<std::mutex> lock(mu_);
      while (static_cast<int>(workers_.size()) < helpers) {
        const size_t id = workers_.size();
        workers_.emplace_back([this, id] { loop(id); });
      }
      fn_ = &fn;
      tasks_ = tasks;
      next_.store(0);
      active_ = helpers;
      pending_ = helpers;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
    return true;
  }

 private:
  void work() {
    for (size_t t; (t = next_.fetch_add(1)) < tasks_;) (*fn_)(t);
  }

  void loop(size_t id) {
    size_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || (generation_ != seen && static_cast<int>(id) < active_); });
        if (stop_) return;
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::mutex job_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t tasks_ = 0;
  std::atomic<size_t> next_{0};
  int active_ = 0, pending_ = 0;
  size_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: workers may outlive static destruction order at exit
  return *p;
}

}  // namespace

int default_num_threads() {
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(std::min(hc, 256u));
}

int num_threads() {
  const int n = g_threads.load();
  return n > 0 ? n : default_num_threads();
}

void set_num_threads(int n) { g_threads.store(n < 0 ? 0 : std::min(n, 256)); }

void parallel_for(size_t tasks, int threads, const std::function<void(size_t)>& fn) {
  threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(threads, 1)), tasks));
  if (threads > 1 && pool().run(tasks, threads, fn)) return;
  for (size_t t = 0; t < tasks; ++t) fn(t);
}

}  // namespace qk
