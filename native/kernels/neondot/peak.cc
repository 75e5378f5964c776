// qkernels neon-dotprod tier: register-only peak sequence (see qk/peak.h), in inline assembly.
#include <cstdint>

#include "qk/peak.h"

namespace qk {
namespace {

// sdot: 16 int8 multiply-adds each, 12 accumulators.
void sdot(uint64_t iters) {
  __asm__ volatile(
      "movi v30.16b, #0\n\t movi v31.16b, #0\n\t"
      "1:\n\t"
      "sdot v0.4s, v30.16b, v31.16b\n\t sdot v1.4s, v30.16b, v31.16b\n\t sdot v2.4s, v30.16b, v31.16b\n\t"
      "sdot v3.4s, v30.16b, v31.16b\n\t sdot v4.4s, v30.16b, v31.16b\n\t sdot v5.4s, v30.16b, v31.16b\n\t"
      "sdot v6.4s, v30.16b, v31.16b\n\t sdot v7.4s, v30.16b, v31.16b\n\t sdot v8.4s, v30.16b, v31.16b\n\t"
      "sdot v9.4s, v30.16b, v31.16b\n\t sdot v10.4s, v30.16b, v31.16b\n\t sdot v11.4s, v30.16b, v31.16b\n\t"
      "subs %0, %0, #1\n\t b.ne 1b"
      : "+r"(iters)
      :
      : "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v30", "v31", "cc");
}

const PeakBench kPeaks[] = {
    {"neon-dotprod:sdot", "int8 ops", 12 * 16 * 2, sdot},
};

}  // namespace

const PeakBench* peaks_neondot(size_t* count) {
  *count = sizeof(kPeaks) / sizeof(kPeaks[0]);
  return kPeaks;
}

}  // namespace qk
