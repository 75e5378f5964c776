// qkernels: the x86 intrinsics header for the AVX-512 tier.
//
// Normally this is just <immintrin.h>. Test builds define QK_SIMDE to compile the AVX-512 kernels against SIMDe
// (header-only emulation of the intrinsics, built from AVX2 + FMA + F16C instructions), so the tier's logic can be
// tested bit for bit on CPUs without AVX-512; native/src/dispatch.cc built with -DQK_EMULATE_TIERS=avx512 then
// reports the tier as available. The addon never defines QK_SIMDE.
#pragma once

#if !defined(QK_SIMDE)

#include <immintrin.h>

#else  // QK_SIMDE: test builds only

#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/x86/avx2.h>
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

#include <cstdint>
#include <cstring>

#if !defined(__F16C__) || !defined(__AVX2__)
#error "QK_SIMDE builds compile the AVX-512 tier with -mavx2 -mfma -mf16c: the shims below use F16C and AVX2"
#endif

// Shims for the intrinsics the kernels use that SIMDe 0.7.4 (Debian's 0.7.4~rc2) does not provide. Without them
// the native aliases fall through to GCC's <immintrin.h> versions, which need real AVX-512 and fail to compile
// ("target specific option mismatch"). Each shim is exact: masked loads and stores touch only the selected lanes
// (as AVX-512 fault suppression guarantees), narrowing conversions truncate (vpmovdb/vpmovdw), widening ones
// sign- or zero-extend, and the float conversions run the same AVX2/F16C instruction on each 256-bit half
// (vcvtps2dq and vcvtdq2ps use MXCSR rounding and produce the same integer indefinite as their AVX-512 forms;
// vcvtps2ph/vcvtph2ps convert lane by lane identically), the masked compare ANDs the mask into SIMDe's compare,
// and the reductions replay GCC's sequence. They override SIMDe's own versions where a newer SIMDe has them,
// which is harmless.
//
// Adding an AVX-512 intrinsic to a kernel: if the test_kernels_emu build then fails with "inlining failed ...
// target specific option mismatch", SIMDe lacks it: add an exact shim here.
namespace qk {
namespace simde_shim {
// Internal linkage: an out-of-line instantiation would otherwise be a weak symbol, one copy serving every tier.
namespace {

template <typename V, typename E, int N>
inline V maskz_loadu(uint64_t k, const void* p) {
  static_assert(sizeof(V) == sizeof(E) * N, "lane layout");
  E lanes[N] = {};
  for (int i = 0; i < N; ++i)
    if ((k >> i) & 1u) std::memcpy(&lanes[i], static_cast<const unsigned char*>(p) + i * sizeof(E), sizeof(E));
  V v;
  std::memcpy(&v, lanes, sizeof(V));
  return v;
}

template <typename V, typename E, int N>
inline V mask_loadu(V src, uint32_t k, const void* p) {
  static_assert(sizeof(V) == sizeof(E) * N, "lane layout");
  E lanes[N];
  std::memcpy(lanes, &src, sizeof(V));
  for (int i = 0; i < N; ++i)
    if ((k >> i) & 1u) std::memcpy(&lanes[i], static_cast<const unsigned char*>(p) + i * sizeof(E), sizeof(E));
  V v;
  std::memcpy(&v, lanes, sizeof(V));
  return v;
}

template <typename E, int N, typename V>
inline void mask_storeu(void* p, uint32_t k, V v) {
  static_assert(sizeof(V) == sizeof(E) * N, "lane layout");
  E lanes[N];
  std::memcpy(lanes, &v, sizeof(V));
  for (int i = 0; i < N; ++i)
    if ((k >> i) & 1u) std::memcpy(static_cast<unsigned char*>(p) + i * sizeof(E), &lanes[i], sizeof(E));
}

// Lane-wise integer conversion of N lanes: In -> Out by static_cast (unsigned types truncate, signed extend).
template <typename VOut, typename Out, typename In, int N, typename VIn>
inline VOut convert_lanes(VIn v) {
  static_assert(sizeof(VIn) == sizeof(In) * N && sizeof(VOut) == sizeof(Out) * N, "lane layout");
  In in[N];
  Out out[N];
  std::memcpy(in, &v, sizeof(VIn));
  for (int i = 0; i < N; ++i) out[i] = static_cast<Out>(in[i]);
  VOut r;
  std::memcpy(&r, out, sizeof(VOut));
  return r;
}

// Applies a 256-bit operation to each half of a 512-bit vector (or of a 256-bit one, for the half-width forms).
template <typename VOut, typename HalfOut, typename HalfIn, typename VIn, typename F>
inline VOut by_halves(VIn v, F f) {
  static_assert(sizeof(VIn) == 2 * sizeof(HalfIn) && sizeof(VOut) == 2 * sizeof(HalfOut), "half layout");
  HalfIn in[2];
  std::memcpy(in, &v, sizeof(VIn));
  const HalfOut out[2] = {f(in[0]), f(in[1])};
  VOut r;
  std::memcpy(&r, out, sizeof(VOut));
  return r;
}

inline simde__m512i mm512_cvtps_epi32(simde__m512 a) {
  return by_halves<simde__m512i, __m256i, __m256>(a, [](__m256 h) { return _mm256_cvtps_epi32(h); });
}
inline simde__m512i mm512_cvttps_epi32(simde__m512 a) {
  return by_halves<simde__m512i, __m256i, __m256>(a, [](__m256 h) { return _mm256_cvttps_epi32(h); });
}
inline simde__m512 mm512_cvtepi32_ps(simde__m512i a) {
  return by_halves<simde__m512, __m256, __m256i>(a, [](__m256i h) { return _mm256_cvtepi32_ps(h); });
}
inline simde__m512 mm512_cvtph_ps(__m256i a) {
  return by_halves<simde__m512, __m256, __m128i>(a, [](__m128i h) { return _mm256_cvtph_ps(h); });
}
inline simde__m512d mm512_cvtps_pd(__m256 a) {
  return by_halves<simde__m512d, __m256d, __m128>(a, [](__m128 h) { return _mm256_cvtps_pd(h); });
}
template <int kImm>
inline __m256i mm512_cvtps_ph(simde__m512 a) {
  return by_halves<__m256i, __m128i, __m256>(a, [](__m256 h) { return _mm256_cvtps_ph(h, kImm); });
}

// _mm512_reduce_min_ps / _mm512_reduce_max_ps are instruction sequences, not instructions: this is GCC's
// sequence (avx512fintrin.h, __MM512_REDUCE_OP) with the same operand order, so NaN and signed-zero results match.
template <bool kMax>
inline float mm512_reduce_minmax_ps(simde__m512 a) {
  __m256 h[2];  // h[0] = lanes 0..7, h[1] = lanes 8..15
  std::memcpy(h, &a, sizeof h);
  const __m256 t3 = kMax ? _mm256_max_ps(h[1], h[0]) : _mm256_min_ps(h[1], h[0]);
  const __m128 t4 = _mm256_extractf128_ps(t3, 1), t5 = _mm256_extractf128_ps(t3, 0);
  const __m128 t6 = kMax ? _mm_max_ps(t4, t5) : _mm_min_ps(t4, t5);
  const __m128 t7 = _mm_shuffle_ps(t6, t6, _MM_SHUFFLE(1, 0, 3, 2));  // {2, 3, 0, 1}
  const __m128 t8 = kMax ? _mm_max_ps(t6, t7) : _mm_min_ps(t6, t7);
  const __m128 t9 = _mm_shuffle_ps(t8, t8, _MM_SHUFFLE(0, 1, 0, 1));  // {1, 0, 1, 0}
  return _mm_cvtss_f32(kMax ? _mm_max_ps(t8, t9) : _mm_min_ps(t8, t9));
}

}  // namespace
}  // namespace simde_shim
}  // namespace qk

#undef _mm512_cvtps_epi32
#define _mm512_cvtps_epi32(a) ::qk::simde_shim::mm512_cvtps_epi32(a)
#undef _mm512_cvttps_epi32
#define _mm512_cvttps_epi32(a) ::qk::simde_shim::mm512_cvttps_epi32(a)
#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps(a) ::qk::simde_shim::mm512_cvtepi32_ps(a)
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps(a) ::qk::simde_shim::mm512_cvtph_ps(a)
#undef _mm512_cvtps_pd
#define _mm512_cvtps_pd(a) ::qk::simde_shim::mm512_cvtps_pd(a)
#undef _mm512_cvtps_ph
#define _mm512_cvtps_ph(a, imm) ::qk::simde_shim::mm512_cvtps_ph<(imm)>(a)

#undef _mm512_cvtepi32_epi8
#define _mm512_cvtepi32_epi8(a) (::qk::simde_shim::convert_lanes<__m128i, uint8_t, uint32_t, 16>(a))
#undef _mm512_cvtepi32_epi16
#define _mm512_cvtepi32_epi16(a) (::qk::simde_shim::convert_lanes<__m256i, uint16_t, uint32_t, 16>(a))
#undef _mm512_cvtepi8_epi32
#define _mm512_cvtepi8_epi32(a) (::qk::simde_shim::convert_lanes<simde__m512i, int32_t, int8_t, 16>(a))
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32(a) (::qk::simde_shim::convert_lanes<simde__m512i, int32_t, uint8_t, 16>(a))
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32(a) (::qk::simde_shim::convert_lanes<simde__m512i, int32_t, uint16_t, 16>(a))

#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps(k, p) (::qk::simde_shim::maskz_loadu<simde__m512, float, 16>((k), (p)))
#undef _mm512_maskz_loadu_epi32
#define _mm512_maskz_loadu_epi32(k, p) (::qk::simde_shim::maskz_loadu<simde__m512i, int32_t, 16>((k), (p)))
#undef _mm256_maskz_loadu_epi16
#define _mm256_maskz_loadu_epi16(k, p) (::qk::simde_shim::maskz_loadu<__m256i, uint16_t, 16>((k), (p)))
#undef _mm512_maskz_loadu_epi8
#define _mm512_maskz_loadu_epi8(k, p) (::qk::simde_shim::maskz_loadu<simde__m512i, uint8_t, 64>((k), (p)))
#undef _mm_maskz_loadu_epi8
#define _mm_maskz_loadu_epi8(k, p) (::qk::simde_shim::maskz_loadu<__m128i, uint8_t, 16>((k), (p)))

#undef _mm512_mask_loadu_ps
#define _mm512_mask_loadu_ps(src, k, p) (::qk::simde_shim::mask_loadu<simde__m512, float, 16>((src), (k), (p)))

#undef _mm512_mask_cmp_ps_mask
#define _mm512_mask_cmp_ps_mask(k, a, b, imm) \
  (static_cast<simde__mmask16>((k) & simde_mm512_cmp_ps_mask((a), (b), (imm))))
#undef _mm512_reduce_min_ps
#define _mm512_reduce_min_ps(a) (::qk::simde_shim::mm512_reduce_minmax_ps<false>(a))
#undef _mm512_reduce_max_ps
#define _mm512_reduce_max_ps(a) (::qk::simde_shim::mm512_reduce_minmax_ps<true>(a))

#undef _mm512_mask_storeu_ps
// Streaming stores: the same memory result as a plain store.
#define _mm512_stream_ps(p, v) _mm512_storeu_ps((p), (v))
#define _mm512_stream_si512(p, v) _mm512_storeu_si512((p), (v))
#define _mm512_mask_storeu_ps(p, k, v) (::qk::simde_shim::mask_storeu<float, 16>((p), (k), (v)))
#undef _mm512_mask_storeu_epi32
#define _mm512_mask_storeu_epi32(p, k, v) (::qk::simde_shim::mask_storeu<int32_t, 16>((p), (k), (v)))
#undef _mm256_mask_storeu_epi16
#define _mm256_mask_storeu_epi16(p, k, v) (::qk::simde_shim::mask_storeu<uint16_t, 16>((p), (k), (v)))
#undef _mm_mask_storeu_epi8
#define _mm_mask_storeu_epi8(p, k, v) (::qk::simde_shim::mask_storeu<uint8_t, 16>((p), (k), (v)))

#endif  // QK_SIMDE
