// qkernels scalar tier: the float32 GEMM reference, the oracle the SIMD tiers are tested against. Plain loops,
// compiled with -fno-tree-vectorize and -ffp-contract=off: every element is a float32 sum over p in order,
// acc = acc + a * b with the product and the sum rounded separately, starting from +0.
#include "qk/sgemm.h"

namespace qk {

void sgemm_reference(const SgemmArgs& g, size_t i0, size_t i1) {
  if (g.cs == 1) {
    // B row-major: i-p-j order walks B and C rows contiguously. Each c[i][j] still receives its terms in the
    // order p = 0, 1, ..., k - 1, exactly as the dot-product loop below would.
    for (size_t i = i0; i < i1; ++i) {
      float* crow = g.c + i * g.ldc;
      for (size_t j = 0; j < g.n; ++j) crow[j] = 0.0f;
      const float* arow = g.a + i * g.lda;
      for (size_t p = 0; p < g.k; ++p) {
        const float av = arow[p];
        const float* brow = g.b + p * g.rs;
        for (size_t j = 0; j < g.n; ++j) crow[j] = crow[j] + av * brow[j];
      }
    }
    return;
  }
  for (size_t i = i0; i < i1; ++i) {
    const float* arow = g.a + i * g.lda;
    for (size_t j = 0; j < g.n; ++j) {
      const float* bcol = g.b + j * g.cs;
      float acc = 0.0f;
      for (size_t p = 0; p < g.k; ++p) acc = acc + arow[p] * bcol[p * g.rs];
      g.c[i * g.ldc + j] = acc;
    }
  }
}

}  // namespace qk
