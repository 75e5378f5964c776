// qkernels: register-only peak microbenchmarks. Each runs a fixed instruction sequence with independent
// accumulators (no loads) for `iters` iterations, so the benchmark can print the per-core peak of the
// sequence a kernel uses next to that kernel's measured throughput.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qk {

struct PeakBench {
  const char* name;        // e.g. "avx2:vpmaddwd+vpaddd"
  const char* what;        // what the ops are: "int8 ops" or "float32 flops"
  uint64_t ops_per_iter;   // multiply-adds count 2 ops
  void (*run)(uint64_t iters);
};

// The sequences of one tier (defined in native/kernels/<tier>/peak.cc).
#if defined(__x86_64__) || defined(_M_X64)
const PeakBench* peaks_avx2(size_t* count);
const PeakBench* peaks_avx512(size_t* count);
const PeakBench* peaks_amx(size_t* count);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
const PeakBench* peaks_neon(size_t* count);
const PeakBench* peaks_neondot(size_t* count);
#endif

}  // namespace qk
