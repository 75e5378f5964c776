// qkernels neon tier: register-only peak sequences (see qk/peak.h), in inline assembly.
#include <cstdint>

#include "qk/peak.h"

namespace qk {
namespace {

// smlal + smlal2 by element (element register v0-v15 only): 4 int16 multiply-adds into int32 each, the
// widen-16 GEMM sequence, 12 accumulators.
void widen16(uint64_t iters) {
  __asm__ volatile(
      "movi v14.8h, #0\n\t movi v15.8h, #0\n\t"
      "1:\n\t"
      "smlal v0.4s, v14.4h, v15.h[0]\n\t smlal2 v1.4s, v14.8h, v15.h[0]\n\t"
      "smlal v2.4s, v14.4h, v15.h[1]\n\t smlal2 v3.4s, v14.8h, v15.h[1]\n\t"
      "smlal v4.4s, v14.4h, v15.h[2]\n\t smlal2 v5.4s, v14.8h, v15.h[2]\n\t"
      "smlal v6.4s, v14.4h, v15.h[3]\n\t smlal2 v7.4s, v14.8h, v15.h[3]\n\t"
      "smlal v8.4s, v14.4h, v15.h[4]\n\t smlal2 v9.4s, v14.8h, v15.h[4]\n\t"
      "smlal v10.4s, v14.4h, v15.h[5]\n\t smlal2 v11.4s, v14.8h, v15.h[5]\n\t"
      "subs %0, %0, #1\n\t b.ne 1b"
      : "+r"(iters)
      :
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v14", "v15", "cc");
}

// fmla: 4 float32 multiply-adds each, 12 accumulators.
void fma(uint64_t iters) {
  __asm__ volatile(
      "movi v30.4s, #0\n\t movi v31.4s, #0\n\t"
      "1:\n\t"
      "fmla v0.4s, v30.4s, v31.4s\n\t fmla v1.4s, v30.4s, v31.4s\n\t fmla v2.4s, v30.4s, v31.4s\n\t"
      "fmla v3.4s, v30.4s, v31.4s\n\t fmla v4.4s, v30.4s, v31.4s\n\t fmla v5.4s, v30.4s, v31.4s\n\t"
      "fmla v6.4s, v30.4s, v31.4s\n\t fmla v7.4s, v30.4s, v31.4s\n\t fmla v8.4s, v30.4s, v31.4s\n\t"
      "fmla v9.4s, v30.4s, v31.4s\n\t fmla v10.4s, v30.4s, v31.4s\n\t fmla v11.4s, v30.4s, v31.4s\n\t"
      "subs %0, %0, #1\n\t b.ne 1b"
      : "+r"(iters)
      :
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v30", "v31", "cc");
}

const PeakBench kPeaks[] = {
    {"neon:smlal", "int8 ops", 12 * 4 * 2, widen16},
    {"neon:fmla", "float32 flops", 12 * 4 * 2, fma},
};

}  // namespace

const PeakBench* peaks_neon(size_t* count) {
  *count = sizeof(kPeaks) / sizeof(kPeaks[0]);
  return kPeaks;
}

}  // namespace qk
