// qkernels avx512 tier (AVX-512 F/BW/VL/DQ + VNNI): quantize, dequantize and FP16/BF16 conversion with 16-lane
// vectors and masked tails. Bit-exact with the scalar tier. BF16 uses integer rounding, not vcvtneps2bf16, which
// flushes subnormal inputs to zero.
#include "qk/simd_x86.h"

#include <cmath>
#include <type_traits>

#include "qk/gemm.h"
#include "qk/sgemm.h"
#include "qk/fakequant.h"
#include "qk/kernels.h"
#include "qk/quant_avx512.h"
#include "qk/reduce.h"
#include "qk/stream.h"

namespace qk {
namespace {

inline __mmask16 tail_mask(size_t r) { return static_cast<__mmask16>((1u << r) - 1u); }

// A full-vector store, streaming (non-temporal, 64-byte aligned) when S.
template <bool S>
inline void store_ps(float* p, __m512 v) {
  if constexpr (S) _mm512_stream_ps(p, v);
  else _mm512_storeu_ps(p, v);
}
template <bool S>
inline void store_si512(void* p, __m512i v) {
  if constexpr (S) _mm512_stream_si512(static_cast<__m512i*>(p), v);
  else _mm512_storeu_si512(p, v);
}
template <bool S>
inline void store_si256(void* p, __m256i v) {
  if constexpr (S) _mm256_stream_si256(static_cast<__m256i*>(p), v);
  else _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}

template <typename T>
void quantize(const float* x, T* q, size_t n, float inv_scale, int32_t zero_point, int32_t qmin, int32_t qmax) {
  const __m512 inv = _mm512_set1_ps(inv_scale), zp = _mm512_set1_ps(static_cast<float>(zero_point));
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    // Values are clamped to the 8-bit range, so vpmovdb's truncation is exact for both signednesses.
    const __m128i a = _mm512_cvtepi32_epi8(quant16(_mm512_loadu_ps(x + i), inv, zp, lo, hi));
    const __m128i b = _mm512_cvtepi32_epi8(quant16(_mm512_loadu_ps(x + i + 16), inv, zp, lo, hi));
    const __m128i c = _mm512_cvtepi32_epi8(quant16(_mm512_loadu_ps(x + i + 32), inv, zp, lo, hi));
    const __m128i d = _mm512_cvtepi32_epi8(quant16(_mm512_loadu_ps(x + i + 48), inv, zp, lo, hi));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i + 48), d);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : tail_mask(n - i);
    const __m512i v = quant16(_mm512_maskz_loadu_ps(m, x + i), inv, zp, lo, hi);
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(v));
  }
}

template <typename T>
void quantize_vec(const float* x, T* q, size_t n, const float* inv_scale, const int32_t* zero_point, int32_t qmin,
                  int32_t qmax) {
  const __m512 lo = _mm512_set1_ps(static_cast<float>(qmin)), hi = _mm512_set1_ps(static_cast<float>(qmax));
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : tail_mask(n - i);
    const __m512 zp = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(m, zero_point + i));
    const __m512i v =
        quant16(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, inv_scale + i), zp, lo, hi);
    _mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(v));
  }
}

template <typename T>
inline __m512i widen16(__mmask16 m, const T* q) {
  const __m128i b = _mm_maskz_loadu_epi8(m, q);
  return std::is_signed<T>::value ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}

// total_bytes: as in qk/stream.h (dequantize_channels_streamed's runs).
template <typename T>
void dequantize_run(const T* q, float* y, size_t n, float scale, int32_t zero_point, size_t total_bytes) {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i zp = _mm512_set1_epi32(zero_point);
  for_stores(
      y, 4, n,
      [&](size_t i, size_t end, auto stream) {
        constexpr bool S = decltype(stream)::value;
        for (; i + 64 <= end; i += 64)
          for (int j = 0; j < 64; j += 16)
            store_ps<S>(y + i + j,
                        _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(widen16(0xffff, q + i + j), zp)), s));
        for (; i < end; i += 16) {
          const __mmask16 m = end - i >= 16 ? 0xffff : tail_mask(end - i);
          _mm512_mask_storeu_ps(y + i, m,
                                _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(widen16(m, q + i), zp)), s));
        }
      },
      total_bytes);
}

template <typename T>
void dequantize(const T* q, float* y, size_t n, float scale, int32_t zero_point) {
  dequantize_run(q, y, n, scale, zero_point, 0);
}

template <typename T>
void dequantize_vec(const T* q, float* y, size_t n, const float* scale, const int32_t* zero_point) {
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : tail_mask(n - i);
    const __m512i d = _mm512_sub_epi32(widen16(m, q + i), _mm512_maskz_loadu_epi32(m, zero_point + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_cvtepi32_ps(d), _mm512_maskz_loadu_ps(m, scale + i)));
  }
}

void f32_to_f16(const float* x, uint16_t* h, size_t n) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for_stores(h, 2, n, [&](size_t i, size_t end, auto stream) {
    constexpr bool S = decltype(stream)::value;
    for (; i + 32 <= end; i += 32) {
      store_si256<S>(h + i, _mm512_cvtps_ph(_mm512_loadu_ps(x + i), kRound));
      store_si256<S>(h + i + 16, _mm512_cvtps_ph(_mm512_loadu_ps(x + i + 16), kRound));
    }
    for (; i < end; i += 16) {
      const __mmask16 m = end - i >= 16 ? 0xffff : tail_mask(end - i);
      _mm256_mask_storeu_epi16(h + i, m, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), kRound));
    }
  });
}

void f16_to_f32(const uint16_t* h, float* x, size_t n) {
  for_stores(x, 4, n, [&](size_t i, size_t end, auto stream) {
    constexpr bool S = decltype(stream)::value;
    for (; i + 32 <= end; i += 32) {
      store_ps<S>(x + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i))));
      store_ps<S>(x + i + 16, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + 16))));
    }
    for (; i < end; i += 16) {
      const __mmask16 m = end - i >= 16 ? 0xffff : tail_mask(end - i);
      _mm512_mask_storeu_ps(x + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, h + i)));
    }
  });
}

// GCC at -O3 folds a loaded vector into every instruction that uses it, loading it again each time (three loads
// of each input vector in f32_to_bf16, which then ran the 16M-element conversion at half its -O2 speed); an empty
// asm that takes the value in a register keeps it loaded once. Not under SIMDe, whose vectors are structs.
#if defined(QK_SIMDE) || !defined(__GNUC__)
#define QK_IN_REGISTER(v) (void)0
#else
#define QK_IN_REGISTER(v) __asm__("" : "+v"(v))
#endif

// Each lane's bfloat16 bits (round half to even; NaN quieted), in the low 16 bits of its dword.
inline __m512i bf16_bits(__m512 v) {
  __m512i x = _mm512_castps_si512(v);
  QK_IN_REGISTER(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(0x40));
  const __m512 xv = _mm512_castsi512_ps(x);
  const __mmask16 nan = _mm512_cmp_ps_mask(xv, xv, _CMP_UNORD_Q);
  return _mm512_mask_mov_epi32(rounded, nan, quiet);
}

inline __m256i bf16_16(__m512 v) { return _mm512_cvtepi32_epi16(bf16_bits(v)); }

// 32 values: the two vectors' words packed with vpackusdw (exact: every dword is at most 0xffff), which interleaves
// them by 128-bit lane, put back in order by one vpermq. Two vpmovdw instead (bf16_16 twice) ran the 16M-element
// conversion at 73% of the copy's bandwidth on a Zen 5 VM, where vpmovdw is slow.
inline __m512i bf16_32(__m512 v0, __m512 v1) {
  const __m512i packed = _mm512_packus_epi32(bf16_bits(v0), bf16_bits(v1));
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), packed);
}

void f32_to_bf16(const float* x, uint16_t* h, size_t n) {
  for_stores(h, 2, n, [&](size_t i, size_t end, auto stream) {
    constexpr bool S = decltype(stream)::value;
    for (; i + 32 <= end; i += 32) store_si512<S>(h + i, bf16_32(_mm512_loadu_ps(x + i), _mm512_loadu_ps(x + i + 16)));
    for (; i < end; i += 16) {
      const __mmask16 m = end - i >= 16 ? 0xffff : tail_mask(end - i);
      _mm256_mask_storeu_epi16(h + i, m, bf16_16(_mm512_maskz_loadu_ps(m, x + i)));
    }
  });
}

void bf16_to_f32(const uint16_t* h, float* x, size_t n) {
  for_stores(x, 4, n, [&](size_t i, size_t end, auto stream) {
    constexpr bool S = decltype(stream)::value;
    for (; i + 32 <= end; i += 32) {
      const __m512i a = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i)));
      const __m512i b = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(h + i + 16)));
      store_si512<S>(x + i, _mm512_slli_epi32(a, 16));
      store_si512<S>(x + i + 16, _mm512_slli_epi32(b, 16));
    }
    for (; i < end; i += 16) {
      const __mmask16 m = end - i >= 16 ? 0xffff : tail_mask(end - i);
      const __m512i a = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, h + i));
      _mm512_mask_storeu_epi32(x + i, m, _mm512_slli_epi32(a, 16));
    }
  });
}

// _mm512_min_ps(x, acc) returns acc when x is NaN, so NaNs drop out; masked-off tail lanes load as NaN too.
size_t minmax(const float* x, size_t n, float* mn, float* mx) {
  __m512 lo[4], hi[4];
  size_t nans = 0;
  for (int j = 0; j < 4; ++j) {
    lo[j] = _mm512_set1_ps(INFINITY);
    hi[j] = _mm512_set1_ps(-INFINITY);
  }
  auto step = [&](int j, __m512 v, __mmask16 m) {
    lo[j] = _mm512_min_ps(v, lo[j]);
    hi[j] = _mm512_max_ps(v, hi[j]);
    nans += static_cast<size_t>(__builtin_popcount(_mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q)));
  };
  size_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; ++j) step(j, _mm512_loadu_ps(x + i + 16 * j), 0xffff);
  const __m512 nanv = _mm512_set1_ps(NAN);
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : tail_mask(n - i);
    step(0, _mm512_mask_loadu_ps(nanv, m, x + i), m);
  }
  const float a = _mm512_reduce_min_ps(_mm512_min_ps(_mm512_min_ps(lo[0], lo[1]), _mm512_min_ps(lo[2], lo[3])));
  const float b = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(hi[0], hi[1]), _mm512_max_ps(hi[2], hi[3])));
  *mn = a == 0.0f ? 0.0f : a;
  *mx = b == 0.0f ? 0.0f : b;
  return nans;
}

}  // namespace

void fill_avx512(Kernels& k) {
  k.quantize_s8 = quantize<int8_t>;
  k.quantize_u8 = quantize<uint8_t>;
  k.quantize_s8_vec = quantize_vec<int8_t>;
  k.quantize_u8_vec = quantize_vec<uint8_t>;
  k.dequantize_s8 = dequantize<int8_t>;
  k.dequantize_u8 = dequantize<uint8_t>;
  k.dequantize_s8_channels = dequantize_channels_streamed<int8_t, dequantize_run<int8_t>>;
  k.dequantize_u8_channels = dequantize_channels_streamed<uint8_t, dequantize_run<uint8_t>>;
  k.dequantize_s8_vec = dequantize_vec<int8_t>;
  k.dequantize_u8_vec = dequantize_vec<uint8_t>;
  k.f32_to_f16 = f32_to_f16;
  k.f16_to_f32 = f16_to_f32;
  k.f32_to_bf16 = f32_to_bf16;
  k.bf16_to_f32 = bf16_to_f32;
  k.minmax = minmax;
  fill_reduce_avx512(k);  // minmax_channels, histogram (reduce.cc)
  fill_fakequant_avx512(k);  // fake_quant*, lsq_grad* (fakequant.cc)
  k.gemm = gemm_avx512();
  k.sgemm = sgemm_avx512();
}

}  // namespace qk
