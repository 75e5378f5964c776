// qkernels amx tier: the register-only peak of tdpbusd (see qk/peak.h): four independent 16 x 16 int32 tiles,
// each += a 16 x 64 uint8 tile times a 16 x 64 int8 tile (16 x 16 x 64 multiply-adds per instruction).
#include <cstdint>

#include "qk/amx.h"
#include "qk/peak.h"

namespace qk {
namespace {

void tdpbusd(uint64_t iters) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  tile_loadconfig(&cfg);
  QK_TILE_ZERO(4);
  QK_TILE_ZERO(6);
  for (uint64_t i = 0; i < iters; ++i) {
    QK_TDPBUSD(0, 4, 6);
    QK_TDPBUSD(1, 4, 6);
    QK_TDPBUSD(2, 4, 6);
    QK_TDPBUSD(3, 4, 6);
  }
  tile_release();
}

const PeakBench kPeaks[] = {
    {"amx:tdpbusd", "int8 ops", 4 * 16 * 16 * 64 * 2, tdpbusd},
};

}  // namespace

const PeakBench* peaks_amx(size_t* count) {
  *count = sizeof(kPeaks) / sizeof(kPeaks[0]);
  return kPeaks;
}

}  // namespace qk
