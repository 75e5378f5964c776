// qkernels neon-dotprod tier (armv8.2-a+dotprod). The element-wise ops inherit the neon kernels; this tier exists
// for the sdot/udot INT8 GEMM micro-kernels.
#include "qk/kernels.h"

namespace qk {

void fill_neondot(Kernels& k) { (void)k; }

}  // namespace qk
