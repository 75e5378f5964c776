// qkernels: a small persistent thread pool for splitting one call across cores.
#pragma once
#include <cstddef>
#include <functional>

namespace qk {

// Threads one call may use (default: the hardware concurrency). set_num_threads(0) restores the default.
int num_threads();
void set_num_threads(int n);
int default_num_threads();

// How much work (in microseconds of one core) makes one more thread worth waking for a call; default 20. Tests
// set 0 so that small problems take the multi-threaded paths too.
double min_micros_per_thread();
void set_min_micros_per_thread(double us);

// Runs fn(task) for task in [0, tasks) on up to `threads` threads (the caller is one of them) and returns when
// all are done. If another call holds the pool (e.g. concurrent async work), runs everything on the caller:
// results never depend on how tasks are spread.
void parallel_for(size_t tasks, int threads, const std::function<void(size_t)>& fn);

}  // namespace qk
