// qkernels avx512 tier: register-only peak sequences (see qk/peak.h), in inline assembly.
#include <cstdint>

#include "qk/peak.h"

namespace qk {
namespace {

// vpdpbusd: 64 u8 x s8 multiply-adds each, 12 independent accumulators.
void vnni(uint64_t iters) {
  __asm__ volatile(
      "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
      "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
      "1:\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm0\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm1\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm2\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm3\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm4\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm5\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm6\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm7\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm8\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm9\n\t"
      "vpdpbusd %%zmm15, %%zmm14, %%zmm10\n\t vpdpbusd %%zmm15, %%zmm14, %%zmm11\n\t"
      "dec %0\n\t jnz 1b\n\t vzeroupper"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14",
        "xmm15", "cc");
}

// vfmadd231ps zmm: 16 float32 multiply-adds each.
void fma(uint64_t iters) {
  __asm__ volatile(
      "vxorps %%zmm14, %%zmm14, %%zmm14\n\t"
      "vxorps %%zmm15, %%zmm15, %%zmm15\n\t"
      "1:\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm0\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm1\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm2\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm3\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm4\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm5\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm6\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm7\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm8\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm9\n\t"
      "vfmadd231ps %%zmm15, %%zmm14, %%zmm10\n\t vfmadd231ps %%zmm15, %%zmm14, %%zmm11\n\t"
      "dec %0\n\t jnz 1b\n\t vzeroupper"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14",
        "xmm15", "cc");
}

const PeakBench kPeaks[] = {
    {"avx512:vpdpbusd", "int8 ops", 12 * 64 * 2, vnni},
    {"avx512:vfmadd231ps", "float32 flops", 12 * 16 * 2, fma},
};

}  // namespace

const PeakBench* peaks_avx512(size_t* count) {
  *count = sizeof(kPeaks) / sizeof(kPeaks[0]);
  return kPeaks;
}

}  // namespace qk
