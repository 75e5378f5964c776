// qkernels avx2 tier (AVX2 + FMA + F16C): quantize, dequantize and FP16/BF16 conversion. Compiled with
// -mavx2 -mfma -mf16c only; reached only when cpuid/xgetbv report all three. Bit-exact with the scalar tier.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <type_traits>

#include "qk/gemm.h"
#include "qk/sgemm.h"
#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/stream.h"
#include "qk/reduce.h"

namespace qk {
namespace {

// One vector of 8: q = clamp(round_even(x * inv) + zp, qmin, qmax), NaN -> zp, as exact int32.
inline __m256i quant8(__m256 x, __m256 inv, __m256 zp, __m256 lo, __m256 hi) {
  const __m256 v = _mm256_mul_ps(x, inv);
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  __m256 r = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  r = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(r, zp), lo), hi);
  return _mm256_cvtps_epi32(_mm256_blendv_ps(r, zp, nan));
}

// Packs 32 int32 lanes already inside the 8-bit range into 32 bytes in order.
template <bool kSigned>
inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i bytes = kSigned ? _mm256_packs_epi16(ab, cd) : _mm256_packus_epi16(ab, cd);
  return _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Runs a 32-element block function over n elements; the tail goes through a zero-padded stack buffer so every
// element takes the same vector path. block(x, y, i, stream): stream (a std::integral_constant) says whether the
// block may write y with streaming stores (y then on a 64-byte boundary; only in blocks32_out).
template <typename In, typename Out, typename Block, typename Stream = std::false_type>
inline void blocks32(const In* x, Out* y, size_t n, Block block, Stream stream = {}) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) block(x + i, y + i, i, stream);
  if (i < n) {
    alignas(32) In xb[32] = {};
    alignas(32) Out yb[32];
    std::memcpy(xb, x + i, (n - i) * sizeof(In));
    block(xb, yb, i, std::false_type{});
    std::memcpy(y + i, yb, (n - i) * sizeof(Out));
  }
}

// blocks32 with streaming stores for a large output (qk/stream.h; total_bytes as there).
template <typename In, typename Out, typename Block>
inline void blocks32_out(const In* x, Out* y, size_t n, Block block, size_t total_bytes = 0) {
  for_stores(
      y, sizeof(Out), n, [&](size_t i0, size_t i1, auto stream) { blocks32(x + i0, y + i0, i1 - i0, block, stream); },
      total_bytes);
}

// A 32- or 16-byte store, streaming when S (the address is then aligned).
template <bool S>
inline void store256(void* p, __m256i v) {
  if constexpr (S) _mm256_stream_si256(static_cast<__m256i*>(p), v);
  else _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}
template <bool S>
inline void store256(float* p, __m256 v) {
  if constexpr (S) _mm256_stream_ps(p, v);
  else _mm256_storeu_ps(p, v);
}
template <bool S>
inline void store128(void* p, __m128i v) {
  if constexpr (S) _mm_stream_si128(static_cast<__m128i*>(p), v);
  else _mm_storeu_si128(static_cast<__m128i*>(p), v);
}

// Packs 8 int32 lanes already inside the 8-bit range into 8 bytes in order, stored at q.
template <bool kSigned>
inline void store8(void* q, __m256i a) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
  _mm_storel_epi64(static_cast<__m128i*>(q), kSigned ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
}

// Blocks of 32, then of 8, then the last few through a zero-padded buffer. The blocks of 8 matter for short runs:
// the GEMM epilogue requantizes tile rows of 16 (the avx2 tile's width), which the 32-element buffer path made
// about 45% of a 256^3 GEMM with int8 output.
template <typename T>
void quantize(const float* x, T* q, size_t n, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const __m256 inv = _mm256_set1_ps(inv_scale), zp = _mm256_set1_ps(static_cast<float>(zero_point));
  const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
  constexpr bool kSigned = std::is_signed<T>::value;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = quant8(_mm256_loadu_ps(x + i), inv, zp, lo, hi);
    const __m256i b = quant8(_mm256_loadu_ps(x + i + 8), inv, zp, lo, hi);
    const __m256i c = quant8(_mm256_loadu_ps(x + i + 16), inv, zp, lo, hi);
    const __m256i d = quant8(_mm256_loadu_ps(x + i + 24), inv, zp, lo, hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), pack32<kSigned>(a, b, c, d));
  }
  for (; i + 8 <= n; i += 8) store8<kSigned>(q + i, quant8(_mm256_loadu_ps(x + i), inv, zp, lo, hi));
  if (i < n) {
    alignas(32) float xb[8] = {};
    alignas(8) T qb[8];
    std::memcpy(xb, x + i, (n - i) * sizeof(float));
    store8<kSigned>(qb, quant8(_mm256_load_ps(xb), inv, zp, lo, hi));
    std::memcpy(q + i, qb, n - i);
  }
}

template <typename T>
void quantize_vec(const float* x, T* q, size_t n, const float* inv_scale, const int32_t* zero_point, int32_t qmin,
                  int32_t qmax) {
  const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
  size_t i = 0;
  auto one = [&](const float* xs, const float* is, const int32_t* zs) {
    const __m256 zp = _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(zs)));
    return quant8(_mm256_loadu_ps(xs), _mm256_loadu_ps(is), zp, lo, hi);
  };
  for (; i + 32 <= n; i += 32) {
    const __m256i a = one(x + i, inv_scale + i, zero_point + i);
    const __m256i b = one(x + i + 8, inv_scale + i + 8, zero_point + i + 8);
    const __m256i c = one(x + i + 16, inv_scale + i + 16, zero_point + i + 16);
    const __m256i d = one(x + i + 24, inv_scale + i + 24, zero_point + i + 24);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i), pack32<std::is_signed<T>::value>(a, b, c, d));
  }
  if (i < n) {
    const size_t r = n - i;
    alignas(32) float xb[32] = {}, ib[32] = {};
    alignas(32) int32_t zb[32] = {};
    alignas(32) T qb[32];
    std::memcpy(xb, x + i, r * 4);
    std::memcpy(ib, inv_scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    const __m256i a = one(xb, ib, zb), b = one(xb + 8, ib + 8, zb + 8);
    const __m256i c = one(xb + 16, ib + 16, zb + 16), d = one(xb + 24, ib + 24, zb + 24);
    _mm256_store_si256(reinterpret_cast<__m256i*>(qb), pack32<std::is_signed<T>::value>(a, b, c, d));
    std::memcpy(q + i, qb, r);
  }
}

template <typename T>
inline __m256i widen8(const T* q) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  return std::is_signed<T>::value ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}

// total_bytes: as in qk/stream.h (dequantize_channels_streamed's runs).
template <typename T>
void dequantize_run(const T* q, float* y, size_t n, float scale, int32_t zero_point, size_t total_bytes) {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  blocks32_out(
      q, y, n,
      [&](const T* qs, float* ys, size_t, auto stream) {
        for (int j = 0; j < 32; j += 8)
          store256<decltype(stream)::value>(
              ys + j, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(qs + j), zp)), s));
      },
      total_bytes);
}

template <typename T>
void dequantize(const T* q, float* y, size_t n, float scale, int32_t zero_point) {
  dequantize_run(q, y, n, scale, zero_point, 0);
}

template <typename T>
void dequantize_vec(const T* q, float* y, size_t n, const float* scale, const int32_t* zero_point) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i d =
        _mm256_sub_epi32(widen8(q + i), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zero_point + i)));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_loadu_ps(scale + i)));
  }
  if (i < n) {
    const size_t r = n - i;
    alignas(32) T qb[8] = {};
    alignas(32) float sb[8] = {}, yb[8];
    alignas(32) int32_t zb[8] = {};
    std::memcpy(qb, q + i, r);
    std::memcpy(sb, scale + i, r * 4);
    std::memcpy(zb, zero_point + i, r * 4);
    const __m256i d = _mm256_sub_epi32(widen8(qb), _mm256_load_si256(reinterpret_cast<const __m256i*>(zb)));
    _mm256_store_ps(yb, _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_load_ps(sb)));
    std::memcpy(y + i, yb, r * 4);
  }
}

void f32_to_f16(const float* x, uint16_t* h, size_t n) {
  blocks32_out(x, h, n, [](const float* xs, uint16_t* hs, size_t, auto stream) {
    for (int j = 0; j < 32; j += 8)
      store128<decltype(stream)::value>(
          hs + j, _mm256_cvtps_ph(_mm256_loadu_ps(xs + j), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  });
}

void f16_to_f32(const uint16_t* h, float* x, size_t n) {
  blocks32_out(h, x, n, [](const uint16_t* hs, float* xs, size_t, auto stream) {
    for (int j = 0; j < 32; j += 8)
      store256<decltype(stream)::value>(xs + j,
                                        _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hs + j))));
  });
}

// bfloat16 with integer arithmetic: (x + 0x7fff + lsb) >> 16, NaN -> (x >> 16) | 0x40.
inline __m256i bf16_8(__m256 v) {
  const __m256i x = _mm256_castps_si256(v);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(rounded), _mm256_castsi256_ps(quiet), nan));
}

void f32_to_bf16(const float* x, uint16_t* h, size_t n) {
  blocks32_out(x, h, n, [](const float* xs, uint16_t* hs, size_t, auto stream) {
    for (int j = 0; j < 32; j += 16) {
      const __m256i a = bf16_8(_mm256_loadu_ps(xs + j)), b = bf16_8(_mm256_loadu_ps(xs + j + 8));
      store256<decltype(stream)::value>(hs + j, _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8));
    }
  });
}

void bf16_to_f32(const uint16_t* h, float* x, size_t n) {
  blocks32_out(h, x, n, [](const uint16_t* hs, float* xs, size_t, auto stream) {
    for (int j = 0; j < 32; j += 8) {
      const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hs + j)));
      store256<decltype(stream)::value>(static_cast<void*>(xs + j), _mm256_slli_epi32(w, 16));
    }
  });
}

// _mm256_min_ps(x, acc) returns acc when x is NaN, so NaNs drop out; they are counted from the compare mask.
size_t minmax(const float* x, size_t n, float* mn, float* mx) {
  __m256 lo[4], hi[4];
  size_t nans = 0;
  for (int j = 0; j < 4; ++j) {
    lo[j] = _mm256_set1_ps(INFINITY);
    hi[j] = _mm256_set1_ps(-INFINITY);
  }
  auto step = [&](int j, __m256 v) {
    lo[j] = _mm256_min_ps(v, lo[j]);
    hi[j] = _mm256_max_ps(v, hi[j]);
    nans += static_cast<size_t>(__builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q))));
  };
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 4; ++j) step(j, _mm256_loadu_ps(x + i + 8 * j));
  for (; i < n; i += 8) {
    alignas(32) float buf[8];
    const size_t r = n - i < 8 ? n - i : 8;
    for (size_t t = 0; t < 8; ++t) buf[t] = t < r ? x[i + t] : NAN;  // NaN padding is ignored ...
    step(0, _mm256_load_ps(buf));
    nans -= 8 - r;  // ... and not counted
  }
  __m256 l = _mm256_min_ps(_mm256_min_ps(lo[0], lo[1]), _mm256_min_ps(lo[2], lo[3]));
  __m256 h = _mm256_max_ps(_mm256_max_ps(hi[0], hi[1]), _mm256_max_ps(hi[2], hi[3]));
  alignas(32) float ls[8], hs[8];
  _mm256_store_ps(ls, l);
  _mm256_store_ps(hs, h);
  float a = ls[0], b = hs[0];
  for (int t = 1; t < 8; ++t) {
    a = ls[t] < a ? ls[t] : a;
    b = hs[t] > b ? hs[t] : b;
  }
  *mn = a == 0.0f ? 0.0f : a;
  *mx = b == 0.0f ? 0.0f : b;
  return nans;
}

}  // namespace

void fill_avx2(Kernels& k) {
  k.quantize_s8 = quantize<int8_t>;
  k.quantize_u8 = quantize<uint8_t>;
  k.quantize_s8_vec = quantize_vec<int8_t>;
  k.quantize_u8_vec = quantize_vec<uint8_t>;
  k.dequantize_s8 = dequantize<int8_t>;
  k.dequantize_u8 = dequantize<uint8_t>;
  k.dequantize_s8_vec = dequantize_vec<int8_t>;
  k.dequantize_u8_vec = dequantize_vec<uint8_t>;
  k.dequantize_s8_channels = dequantize_channels_streamed<int8_t, dequantize_run<int8_t>>;
  k.dequantize_u8_channels = dequantize_channels_streamed<uint8_t, dequantize_run<uint8_t>>;
  k.f32_to_f16 = f32_to_f16;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_bf16 = f32_to_bf16;
  k.bf16_to_f32 = bf16_to_f32;
  k.minmax = minmax;
  fill_reduce_avx2(k);  // minmax_channels, histogram (reduce.cc)
  fill_fakequant_avx2(k);  // fake_quant*, lsq_grad* (fakequant.cc)
  k.gemm = gemm_avx2();
  k.sgemm = sgemm_avx2();
}

}  // namespace qk
