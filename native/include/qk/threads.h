// qkernels: a small persistent thread pool for splitting one call across cores.
#pragma once
#include <cstddef>
#include <type_traits>

namespace qk {

// Threads one call may use (default: the hardware concurrency). set_num_threads(0) restores the default.
int num_threads();
void set_num_threads(int n);
int default_num_threads();

// How much work (in microseconds of one core) makes one more thread worth waking for a call; default 20. Tests
// set 0 so that small problems take the multi-threaded paths too.
double min_micros_per_thread();
void set_min_micros_per_thread(double us);
// The same for a call that could use `threads` threads: a quarter of it when the last parallel_for returned less
// than 200 us ago. Back-to-back calls (a model's layers, a loop) keep the pool's workers spinning, and waking a
// spinning worker costs about a microsecond instead of 25-50 (a futex wake-up on a VM); the first split of such a
// run pays one slow wake.
double min_micros_per_thread(int threads);

// Test hook: starting a pool worker fails (as pthread_create would under a pids limit) once the pool has `workers`
// of them; -1 (the default) turns it off. Calls then run on the workers the pool has, plus the caller.
void set_thread_spawn_limit_for_tests(int workers);

// A non-owning reference to a callable taking a task index (a function_ref): parallel_for's callers pass lambdas
// that capture a dozen locals by reference, which a std::function would copy to the heap on every call (a malloc
// per GEMM call, and a process abort when that allocation fails in a build without exceptions). The callable must
// outlive the TaskFn: a lambda passed straight to parallel_for lives until the call returns.
class TaskFn {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskFn>>>
  TaskFn(const F& f)  // NOLINT(google-explicit-constructor): built implicitly from the lambda argument
      : obj_(&f), call_([](const void* o, size_t task) { (*static_cast<const F*>(o))(task); }) {}
  void operator()(size_t task) const { call_(obj_, task); }

 private:
  const void* obj_;
  void (*call_)(const void*, size_t);
};

// Runs fn(task) for task in [0, tasks) on up to `threads` threads (the caller is one of them) and returns when
// all are done. If another call holds the pool (e.g. concurrent async work), runs everything on the caller:
// results never depend on how tasks are spread.
void parallel_for(size_t tasks, int threads, TaskFn fn);

}  // namespace qk
