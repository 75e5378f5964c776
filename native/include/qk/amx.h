// qkernels: the AMX tile instructions the amx tier uses, as inline assembly (so the tier needs no -mamx-* flags
// and every tile access is a compiler memory barrier), or, in test builds that define QK_AMX_EMU, as an exact
// scalar emulation of the same instructions on a per-thread tile state (so the tier's logic is tested bit for
// bit on CPUs without AMX; native/src/dispatch.cc built with QK_EMULATE_TIERS=...,amx then reports the tier).
// The addon never defines QK_AMX_EMU.
//
// Tiles are named by number (0-7). QK_TDPBUSD(c, a, b): tile c (int32) += tile a (uint8) x tile b (int8), where a
// row of a holds 4 k values per int32 column of b's rows: c[m][n] += sum_k sum_{i<4} a[m][4k + i] * b[k][4n + i],
// wrapping modulo 2^32 (no saturation). QK_TDPBSSD: the same with int8 a.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace qk {

// The 64-byte LDTILECFG operand (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};  // bytes per row, tiles 0-7
  uint8_t rows[16] = {};
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

}  // namespace qk

// The functions below have internal linkage (see the weak-symbol check in scripts/native-tests.sh).
#if defined(_MSC_VER) && !defined(QK_AMX_EMU)

// MSVC has no inline assembly on x64: its AMX intrinsics. (The tier is only offered on Linux, where the kernel
// grants the tile state; this keeps the file compiling elsewhere.)
#include <immintrin.h>

namespace qk {
namespace {
inline void tile_loadconfig(const TileConfig* cfg) { _tile_loadconfig(cfg); }
inline void tile_release() { _tile_release(); }
}  // namespace
}  // namespace qk

#define QK_TILE_LOADD(t, base, stride) _tile_loadd(t, base, static_cast<long>(stride))
#define QK_TILE_STORED(t, base, stride) _tile_stored(t, base, static_cast<long>(stride))
#define QK_TILE_ZERO(t) _tile_zero(t)
#define QK_TDPBUSD(c, a, b) _tile_dpbusd(c, a, b)
#define QK_TDPBSSD(c, a, b) _tile_dpbssd(c, a, b)

#elif !defined(QK_AMX_EMU)

namespace qk {
namespace {
inline void tile_loadconfig(const TileConfig* cfg) {
  __asm__ volatile("ldtilecfg %0" ::"m"(*cfg) : "memory");
}
inline void tile_release() { __asm__ volatile("tilerelease" ::: "memory"); }
}  // namespace
}  // namespace qk

#define QK_TILE_LOADD(t, base, stride) \
  __asm__ volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"(static_cast<int64_t>(stride)) : "memory")
#define QK_TILE_STORED(t, base, stride) \
  __asm__ volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"(static_cast<int64_t>(stride)) : "memory")
#define QK_TILE_ZERO(t) __asm__ volatile("tilezero %%tmm" #t ::)
#define QK_TDPBUSD(c, a, b) __asm__ volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
#define QK_TDPBSSD(c, a, b) __asm__ volatile("tdpbssd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

#else  // QK_AMX_EMU: test builds only

namespace qk {
namespace {
namespace amx_emu {

struct State {
  uint8_t rows[8] = {};
  uint16_t colsb[8] = {};
  uint8_t data[8][16][64] = {};
};
inline State& state() {
  static thread_local State s;
  return s;
}
inline void load(int t, const void* base, long stride) {
  State& s = state();
  std::memset(s.data[t], 0, sizeof(s.data[t]));
  for (int r = 0; r < s.rows[t]; ++r)
    std::memcpy(s.data[t][r], static_cast<const uint8_t*>(base) + r * stride, s.colsb[t]);
}
inline void store(int t, void* base, long stride) {
  const State& s = state();
  for (int r = 0; r < s.rows[t]; ++r) std::memcpy(static_cast<uint8_t*>(base) + r * stride, s.data[t][r], s.colsb[t]);
}
template <bool ASigned>
inline void dp(int c, int a, int b) {
  State& s = state();
  for (int m = 0; m < s.rows[c]; ++m)
    for (int n = 0; n < s.colsb[c] / 4; ++n) {
      uint32_t acc;
      std::memcpy(&acc, &s.data[c][m][4 * n], 4);
      for (int k = 0; k < s.colsb[a] / 4; ++k)
        for (int i = 0; i < 4; ++i) {
          const uint8_t av = s.data[a][m][4 * k + i];
          const int32_t x = ASigned ? static_cast<int8_t>(av) : av;
          const int32_t y = static_cast<int8_t>(s.data[b][k][4 * n + i]);
          acc += static_cast<uint32_t>(x * y);
        }
      std::memcpy(&s.data[c][m][4 * n], &acc, 4);
    }
}
}  // namespace amx_emu

inline void tile_loadconfig(const TileConfig* cfg) {
  amx_emu::State& s = amx_emu::state();
  s = amx_emu::State();
  for (int t = 0; t < 8; ++t) {
    s.rows[t] = cfg->rows[t];
    s.colsb[t] = cfg->colsb[t];
  }
}
inline void tile_release() { amx_emu::state() = amx_emu::State(); }
}  // namespace
}  // namespace qk

#define QK_TILE_LOADD(t, base, stride) ::qk::amx_emu::load(t, base, static_cast<long>(stride))
#define QK_TILE_STORED(t, base, stride) ::qk::amx_emu::store(t, base, static_cast<long>(stride))
#define QK_TILE_ZERO(t) std::memset(::qk::amx_emu::state().data[t], 0, sizeof(::qk::amx_emu::state().data[t]))
#define QK_TDPBUSD(c, a, b) ::qk::amx_emu::dp<false>(c, a, b)
#define QK_TDPBSSD(c, a, b) ::qk::amx_emu::dp<true>(c, a, b)

#endif
