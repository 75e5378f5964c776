// qkernels: CPU feature detection and the active kernel table.
#pragma once
#include <string>
#include <vector>

#include "qk/kernels.h"

namespace qk {

struct CpuInfo {
  const char* arch;                   // "x64", "arm64" or "unknown"
  std::string model;                  // brand string where the CPU reports one
  std::vector<std::string> features;  // detected features (OS support checked)
};

const CpuInfo& cpu_info();

// Tiers this build compiled AND this CPU (and OS) supports, best first. Always ends with Scalar.
const std::vector<Isa>& available_isas();
bool isa_available(Isa isa);
// Parses a tier name ("scalar", "avx2", "avx512", "neon", "neon-dotprod"); returns false for an unknown name.
bool parse_isa(const char* name, Isa* out);

// The full table for one available tier (nullptr when the tier is not available).
const Kernels* kernels_for(Isa isa);
// The active table. Chosen at load (best available); set_active switches it for the whole process.
const Kernels& active();
void set_active(Isa isa);  // caller checks isa_available first

}  // namespace qk
