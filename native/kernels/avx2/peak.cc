// qkernels avx2 tier: register-only peak sequences (see qk/peak.h). Inline assembly so the compiler can neither
// hoist the loop-invariant products nor spill.
#include <cstdint>

#include "qk/peak.h"

namespace qk {
namespace {

// vpmaddwd + vpaddd: 16 int16 multiply-adds per pair (the exact widen-16 GEMM sequence).
void widen16(uint64_t iters) {
  __asm__ volatile(
      "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm0\n\t vpaddd %%ymm0, %%ymm1, %%ymm1\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm2\n\t vpaddd %%ymm2, %%ymm3, %%ymm3\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm4\n\t vpaddd %%ymm4, %%ymm5, %%ymm5\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm6\n\t vpaddd %%ymm6, %%ymm7, %%ymm7\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm8\n\t vpaddd %%ymm8, %%ymm9, %%ymm9\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm10\n\t vpaddd %%ymm10, %%ymm11, %%ymm11\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm12\n\t vpaddd %%ymm12, %%ymm13, %%ymm13\n\t"
      "vpmaddwd %%ymm15, %%ymm14, %%ymm0\n\t vpaddd %%ymm0, %%ymm1, %%ymm1\n\t"
      "dec %0\n\t jnz 1b\n\t vzeroupper"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "xmm14", "xmm15", "cc");
}

// vpmaddubsw + vpmaddwd (by ones) + vpaddd: 32 u8 x s8 multiply-adds per triple; what several peers use, and
// not exact (vpmaddubsw saturates pair sums such as 255 * -128 * 2).
void maddubs(uint64_t iters) {
  __asm__ volatile(
      "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
      "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
      "1:\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm0\n\t vpmaddwd %%ymm13, %%ymm0, %%ymm0\n\t vpaddd %%ymm0, %%ymm1, %%ymm1\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm2\n\t vpmaddwd %%ymm13, %%ymm2, %%ymm2\n\t vpaddd %%ymm2, %%ymm3, %%ymm3\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm4\n\t vpmaddwd %%ymm13, %%ymm4, %%ymm4\n\t vpaddd %%ymm4, %%ymm5, %%ymm5\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm6\n\t vpmaddwd %%ymm13, %%ymm6, %%ymm6\n\t vpaddd %%ymm6, %%ymm7, %%ymm7\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm8\n\t vpmaddwd %%ymm13, %%ymm8, %%ymm8\n\t vpaddd %%ymm8, %%ymm9, %%ymm9\n\t"
      "vpmaddubsw %%ymm15, %%ymm14, %%ymm10\n\t vpmaddwd %%ymm13, %%ymm10, %%ymm10\n\t vpaddd %%ymm10, %%ymm11, %%ymm11\n\t"
      "dec %0\n\t jnz 1b\n\t vzeroupper"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm13",
        "xmm14", "xmm15", "cc");
}

// vfmadd231ps: 8 float32 multiply-adds each, 12 independent accumulators.
void fma(uint64_t iters) {
  __asm__ volatile(
      "vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
      "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
      "1:\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm0\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm1\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm2\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm3\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm4\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm5\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm6\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm7\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm8\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm9\n\t"
      "vfmadd231ps %%ymm15, %%ymm14, %%ymm10\n\t vfmadd231ps %%ymm15, %%ymm14, %%ymm11\n\t"
      "dec %0\n\t jnz 1b\n\t vzeroupper"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm14",
        "xmm15", "cc");
}

const PeakBench kPeaks[] = {
    {"avx2:vpmaddwd+vpaddd", "int8 ops", 8 * 16 * 2, widen16},
    {"avx2:vpmaddubsw+vpmaddwd+vpaddd", "int8 ops", 6 * 32 * 2, maddubs},
    {"avx2:vfmadd231ps", "float32 flops", 12 * 8 * 2, fma},
};

}  // namespace

const PeakBench* peaks_avx2(size_t* count) {
  *count = sizeof(kPeaks) / sizeof(kPeaks[0]);
  return kPeaks;
}

}  // namespace qk
