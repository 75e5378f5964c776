// qkernels native kernel tests (no Node): every SIMD tier available in this process is compared with the scalar
// tier slot by slot, bit for bit (NaN outputs included), on random data, special values, rounding ties and clamp
// edges, at many sizes and misaligned offsets, with guard elements after (and before) every output checked
// untouched; the scalar tier itself is checked against hand-computed known answers. The GEMM slots are run
// through their shared drivers: INT8 gemm bit for bit against qk::gemm_reference; float32 sgemm, which by its
// contract may round differently per tier, within the float32 error bound (exactly on integer operands) and
// identically for every thread count. Out of memory (qk::set_alloc_limit_for_tests) must make the GEMM drivers
// return false, and lifting it must give the exact results again.
//
// Output: one line per check group ("ok avx2 quantize_s8" or "FAIL avx2 quantize_s8: <first mismatch>"), then
// exactly "N passed, N failed". Exit status 1 when any group failed.
//
// Environment:
//   QK_TEST_TIERS=avx2,avx512   compare only these tiers ("scalar" selects the known-answer checks; unset: all).
//                               A listed tier that is not available is a failure.
//   QK_EXPECT_TIERS=neon,scalar fail unless available_isas() is exactly this list (detection checks under qemu).
//   QK_TEST_SEED=<n>            random seed (default fixed, printed).
#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "qk/dispatch.h"
#include "qk/fakequant.h"
#include "qk/gemm_driver.h"
#include "qk/kernels.h"
#include "qk/reduce.h"
#include "qk/scratch.h"
#include "qk/search.h"
#include "qk/sgemm.h"
#include "qk/threads.h"

namespace {

// n bytes on a 64-byte boundary in an allocation of exactly n bytes (AddressSanitizer then flags a read past
// them; aligned_alloc wants a multiple of 64): posix_memalign, or _aligned_malloc on Windows.
void* alloc_exact64(size_t n) {
#ifdef _WIN32
  return _aligned_malloc(n, 64);
#else
  void* p = nullptr;
  return posix_memalign(&p, 64, n) == 0 ? p : nullptr;
#endif
}
void free_exact64(void* p) {
#ifdef _WIN32
  _aligned_free(p);
#else
  std::free(p);
#endif
}

using qk::Isa;
using qk::Kernels;

// ---------------------------------------------------------------------------------------------------------------
// Reporting

int g_passed = 0, g_failed = 0;

std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string strf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

struct Group {
  std::string tier, name, first;
  long failures = 0;
  Group(std::string t, std::string n) : tier(std::move(t)), name(std::move(n)) {}
  bool failed() const { return failures > 0; }
  void fail(const std::string& msg) {
    if (failures++ == 0) first = msg;
  }
  void check(bool ok, const std::string& msg) {
    if (!ok) fail(msg);
  }
  ~Group() {
    if (failures == 0) {
      ++g_passed;
      std::printf("ok %s %s\n", tier.c_str(), name.c_str());
    } else {
      ++g_failed;
      std::printf("FAIL %s %s: %s", tier.c_str(), name.c_str(), first.c_str());
      if (failures > 1) std::printf(" (%ld failing runs)", failures);
      std::printf("\n");
    }
    std::fflush(stdout);
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Values

uint32_t fbits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bitsf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::string show(float v) { return strf("0x%08" PRIx32 " (%.9g)", fbits(v), static_cast<double>(v)); }
std::string show(int8_t v) { return strf("%d", v); }
std::string show(uint8_t v) { return strf("%u", v); }
std::string show(uint16_t v) { return strf("0x%04x", v); }
std::string show(int32_t v) { return strf("%" PRId32, v); }

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull) {}
  uint64_t next() {  // splitmix64: same stream on every platform
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint32_t u32() { return static_cast<uint32_t>(next() >> 32); }
  uint32_t below(uint32_t n) { return static_cast<uint32_t>((next() >> 32) * n >> 32); }
  int32_t range(int32_t lo, int32_t hi) { return lo + static_cast<int32_t>(below(static_cast<uint32_t>(hi - lo + 1))); }
  float unit() { return static_cast<float>(u32() >> 8) * 0x1p-24f; }  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * unit(); }
  bool chance(uint32_t percent) { return below(100) < percent; }
};

uint64_t g_seed = 0x5eed2024;

const float kInf = std::numeric_limits<float>::infinity();
const float kMax = std::numeric_limits<float>::max();
const float kDenormMin = std::numeric_limits<float>::denorm_min();
const float kNormMin = std::numeric_limits<float>::min();

// Values every float-input kernel sees: zeros, subnormals, infinities, NaNs (quiet and signalling, both signs,
// payloads in the bits that survive narrowing and in the ones that do not), huge and tiny normals, f16 limits.
std::vector<float> special_floats() {
  std::vector<float> v = {0.0f, -0.0f, kDenormMin, -kDenormMin, bitsf(0x007fffffu), bitsf(0x807fffffu),
                          bitsf(0x00400000u), kNormMin, -kNormMin, kInf, -kInf, kMax, -kMax, 1e20f, -1e20f,
                          1e10f, -3e9f, 2147483648.0f, -2147483648.0f, 16777216.0f, 16777217.0f, 8388608.5f,
                          0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 1.0f, -1.0f, 0.49999997f, -0.49999997f,
                          65504.0f, 65519.99f, 65520.0f, -65520.0f, 65536.0f, 0x1p-14f, 0x1p-24f, 0x1p-25f,
                          0x3p-26f, -0x1p-25f, 0x1.8p-25f, 0x1p-26f, 0x1.ffcp-15f, 0x1.ffep-15f};
  const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff800001u, 0x7fa00000u, 0xffa00000u,
                           0x7fbfffffu, 0x7fffffffu, 0xffffffffu, 0x7f802000u, 0x7fc01234u, 0x7f801fffu,
                           0xff8fe000u, 0x7f808000u, 0x7f8000ffu, 0x7fc00001u};
  for (uint32_t b : nans) v.push_back(bitsf(b));
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Buffers: inputs are heap allocations of exactly offset + n elements, so an over-read is a sanitizer error;
// outputs have offset elements before and kGuard after, all filled with a sentinel byte and checked afterwards.

constexpr size_t kGuard = 64;
constexpr unsigned char kSentinel = 0xa5;

template <typename T>
struct In {
  std::vector<T> buf;
  size_t off;
  In(size_t off_, const std::vector<T>& values) : buf(off_ + values.size() > 0 ? off_ + values.size() : 1), off(off_) {
    std::memset(buf.data(), 0x5a, buf.size() * sizeof(T));
    if (!values.empty()) std::memcpy(buf.data() + off, values.data(), values.size() * sizeof(T));
  }
  const T* data() const { return buf.data() + off; }
};

template <typename T>
struct Out {
  std::vector<T> buf;
  size_t off, n;
  Out(size_t off_, size_t n_) : buf(off_ + n_ + kGuard), off(off_), n(n_) {
    std::memset(buf.data(), kSentinel, buf.size() * sizeof(T));
  }
  T* data() { return buf.data() + off; }
  const T& at(size_t i) const { return buf[off + i]; }
  // Describes the first byte outside [off, off + n) that is not the sentinel, or returns "".
  std::string stray_write() const {
    const unsigned char* b = reinterpret_cast<const unsigned char*>(buf.data());
    const size_t lo = off * sizeof(T), hi = (off + n) * sizeof(T), end = buf.size() * sizeof(T);
    for (size_t i = 0; i < end; ++i) {
      if (i == lo) i = hi;
      if (i >= end) break;
      if (b[i] != kSentinel) {
        const long e = static_cast<long>(i / sizeof(T)) - static_cast<long>(off);
        return strf("%s write at output[%ld] (byte %zu of the %zu-element guard %s)",
                    e < 0 ? "out-of-bounds (before start)" : "out-of-bounds", e,
                    e < 0 ? i : i - hi, e < 0 ? off : kGuard, e < 0 ? "before" : "after");
      }
    }
    return "";
  }
};

struct Layout {
  size_t in_off, out_off, par_off;
};
const Layout kLayouts[] = {{0, 0, 0}, {1, 3, 2}, {2, 1, 3}, {3, 2, 1}};
const size_t kSizes[] = {0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 129, 1023, 4099};

// Compares one run of a tier against the scalar run. describe(i) names element i's inputs.
template <typename T, typename D>
bool compare(Group& g, const char* tier, const std::string& where, const Out<T>& want, const Out<T>& got,
             D describe) {
  std::string s = want.stray_write();
  if (!s.empty()) {
    g.fail(where + ": scalar " + s);
    return false;
  }
  s = got.stray_write();
  if (!s.empty()) {
    g.fail(where + ": " + s);
    return false;
  }
  for (size_t i = 0; i < want.n; ++i) {
    if (std::memcmp(&want.at(i), &got.at(i), sizeof(T)) != 0) {
      g.fail(strf("%s index=%zu: %s scalar=%s %s=%s", where.c_str(), i, describe(i).c_str(), show(want.at(i)).c_str(),
                  tier, show(got.at(i)).c_str()));
      return false;
    }
  }
  return true;
}

std::string where(size_t n, const Layout& l, const char* mode) {
  return strf("size=%zu in_off=%zu out_off=%zu data=%s", n, l.in_off, l.out_off, mode);
}

// ---------------------------------------------------------------------------------------------------------------
// Quantize

struct QParams {
  float inv;
  int32_t zp, qmin, qmax;
};

std::string show_params(float inv, int32_t zp, int32_t qmin, int32_t qmax) {
  return strf("inv_scale=%s zero_point=%d q=[%d,%d]", show(inv).c_str(), zp, qmin, qmax);
}

const QParams kS8Params[] = {
    {1.0f, 0, -128, 127},  {0.5f, 0, -128, 127},   {2.0f, -5, -128, 127}, {1.0f / 0.0173f, 3, -128, 127},
    {0.25f, 127, -128, 127}, {4.0f, -128, -128, 127}, {1.0f, 0, -8, 7},     {0.5f, -3, -8, 7},
    {3.0f, 0, -127, 127},  {1e-3f, 0, -128, 127},  {1e30f, 1, -128, 127}, {1e-40f, 0, -128, 127},
    {0.0f, 5, -128, 127},  {-2.0f, 0, -128, 127},  {1.0f, 0, 0, 0},       {7.0f, -1, -1, 1},
};
const QParams kU8Params[] = {
    {1.0f, 0, 0, 255},   {0.5f, 128, 0, 255},  {2.0f, 255, 0, 255}, {1.0f / 0.0173f, 7, 0, 255},
    {1.0f, 64, 0, 127},  {0.25f, 8, 0, 15},    {1e30f, 0, 0, 255},  {3.0f, 0, 0, 255},
    {1e-3f, 200, 0, 255}, {1.0f, 255, 255, 255}, {-0.5f, 100, 0, 255}, {1e-40f, 0, 0, 255},
};

// Input values for one quantization parameter set (x * inv lands near the interesting integers).
float quant_value(Rng& r, const char* mode, const QParams& p, const std::vector<float>& specials) {
  const float inv = p.inv != 0.0f && std::isfinite(p.inv) ? p.inv : 1.0f;
  const int32_t klo = p.qmin - p.zp - 3, khi = p.qmax - p.zp + 3;
  if (std::strcmp(mode, "random") == 0) return r.uniform(static_cast<float>(klo), static_cast<float>(khi)) / inv;
  if (std::strcmp(mode, "ties") == 0) {
    float x = (static_cast<float>(r.range(klo, khi)) + 0.5f) / inv;
    const uint32_t k = r.below(4);
    if (k == 1) x = std::nextafter(x, kInf);
    if (k == 2) x = std::nextafter(x, -kInf);
    return x;
  }
  if (std::strcmp(mode, "bits") == 0) return bitsf(r.u32());
  // "special": specials, the clamp edges and their neighbours, mixed with random values.
  switch (r.below(4)) {
    case 0: return specials[r.below(static_cast<uint32_t>(specials.size()))];
    case 1: {
      const float edges[] = {static_cast<float>(p.qmin - p.zp), static_cast<float>(p.qmax - p.zp)};
      float x = (edges[r.below(2)] + (r.below(3) - 1.0f) * 0.5f) / inv;
      const uint32_t k = r.below(3);
      if (k == 1) x = std::nextafter(x, kInf);
      if (k == 2) x = std::nextafter(x, -kInf);
      return x;
    }
    case 2: return r.uniform(-1e6f, 1e6f);
    default: return r.uniform(static_cast<float>(klo), static_cast<float>(khi)) / inv;
  }
}

const char* const kQuantModes[] = {"random", "ties", "special", "bits"};

template <typename T, typename Fn>
void test_quantize(const Kernels& ref, const Kernels& k, const char* name, Fn Kernels::*slot, const QParams* params,
                   size_t np, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  for (size_t pi = 0; pi < np && !g.failed(); ++pi) {
    const QParams& p = params[pi];
    for (const char* mode : kQuantModes) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n);
          for (float& x : xs) x = quant_value(r, mode, p, specials);
          In<float> x(l.in_off, xs);
          Out<T> want(l.out_off, n), got(l.out_off, n);
          (ref.*slot)(x.data(), want.data(), n, p.inv, p.zp, p.qmin, p.qmax);
          (k.*slot)(x.data(), got.data(), n, p.inv, p.zp, p.qmin, p.qmax);
          compare(g, tier, where(n, l, mode), want, got, [&](size_t i) {
            return "x=" + show(xs[i]) + " " + show_params(p.inv, p.zp, p.qmin, p.qmax);
          });
        }
      }
    }
    // Every special value in every lane position, tail included.
    for (size_t rot = 0; rot < 67 && !g.failed(); rot += 3) {
      std::vector<float> xs(257);
      for (size_t i = 0; i < xs.size(); ++i) xs[i] = specials[(i + rot) % specials.size()];
      const Layout& l = kLayouts[rot % 4];
      In<float> x(l.in_off, xs);
      Out<T> want(l.out_off, xs.size()), got(l.out_off, xs.size());
      (ref.*slot)(x.data(), want.data(), xs.size(), p.inv, p.zp, p.qmin, p.qmax);
      (k.*slot)(x.data(), got.data(), xs.size(), p.inv, p.zp, p.qmin, p.qmax);
      compare(g, tier, where(xs.size(), l, "all-specials"), want, got, [&](size_t i) {
        return "x=" + show(xs[i]) + " " + show_params(p.inv, p.zp, p.qmin, p.qmax);
      });
    }
  }
}

const float kInvPool[] = {1.0f, 0.5f, 2.0f, 0.25f, 1.0f / 0.0173f, 3.0f, 1e-3f, 1e30f, 0.0f, -0.0f, 1e-40f,
                          -1.5f, 127.0f, 1.0f / 3.0f};

template <typename T, typename Fn>
void test_quantize_vec(const Kernels& ref, const Kernels& k, const char* name, Fn Kernels::*slot, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  const bool is_signed = std::is_signed<T>::value;
  const int32_t ranges[][2] = {{is_signed ? -128 : 0, is_signed ? 127 : 255},
                               {is_signed ? -8 : 0, is_signed ? 7 : 127},
                               {is_signed ? -127 : 0, is_signed ? 127 : 15}};
  const std::vector<float> specials = special_floats();
  const char* const modes[] = {"random", "ties", "special", "bits", "special-params"};
  for (const auto& range : ranges) {
    const int32_t qmin = range[0], qmax = range[1];
    for (const char* mode : modes) {
      const bool special_params = std::strcmp(mode, "special-params") == 0;
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n), inv(n);
          std::vector<int32_t> zp(n);
          for (size_t i = 0; i < n; ++i) {
            inv[i] = kInvPool[r.below(sizeof kInvPool / sizeof kInvPool[0])];
            if (special_params && r.chance(30)) inv[i] = specials[r.below(static_cast<uint32_t>(specials.size()))];
            const uint32_t z = r.below(4);
            zp[i] = z == 0 ? qmin : z == 1 ? qmax : r.range(qmin, qmax);
            const QParams p{inv[i], zp[i], qmin, qmax};
            xs[i] = quant_value(r, special_params ? "special" : mode, p, specials);
          }
          In<float> x(l.in_off, xs), is(l.par_off, inv);
          In<int32_t> zs((l.par_off + 1) % 4, zp);
          Out<T> want(l.out_off, n), got(l.out_off, n);
          (ref.*slot)(x.data(), want.data(), n, is.data(), zs.data(), qmin, qmax);
          (k.*slot)(x.data(), got.data(), n, is.data(), zs.data(), qmin, qmax);
          compare(g, tier, where(n, l, mode), want, got,
                  [&](size_t i) { return "x=" + show(xs[i]) + " " + show_params(inv[i], zp[i], qmin, qmax); });
          if (g.failed()) return;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dequantize

const float kScalePool[] = {1.0f, 0.5f, 0.0173f, 1.0f / 3.0f, -0.25f, 0.0f, -0.0f, 1e-40f, 1e-45f, 1e38f, kMax,
                            kInf, -kInf, bitsf(0x7fc00000u), bitsf(0x7f800001u), bitsf(0xffa01234u), 3e-39f,
                            0.1f, 7.0f};

template <typename T>
std::vector<int32_t> zp_pool() {
  // In-range zero points plus large ones (q - zp is still exact int32; its float conversion then rounds).
  if (std::is_signed<T>::value) return {0, -128, 127, -5, 3, 16777217, -16777219, 2000000001, -2000000001};
  return {0, 128, 255, 1, 77, 16777217, -16777219, 2000000001, -2000000001};
}

template <typename T, typename Fn>
void test_dequantize(const Kernels& ref, const Kernels& k, const char* name, Fn Kernels::*slot, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  for (float scale : kScalePool) {
    for (int32_t zp : zp_pool<T>()) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<T> qs(n);
          for (size_t i = 0; i < n; ++i) qs[i] = static_cast<T>(n >= 256 ? i + n : r.u32());
          In<T> q(l.in_off, qs);
          Out<float> want(l.out_off, n), got(l.out_off, n);
          (ref.*slot)(q.data(), want.data(), n, scale, zp);
          (k.*slot)(q.data(), got.data(), n, scale, zp);
          compare(g, tier, where(n, l, "all-q"), want, got, [&](size_t i) {
            return "q=" + show(qs[i]) + " scale=" + show(scale) + " zero_point=" + show(zp);
          });
          if (g.failed()) return;
        }
      }
    }
  }
}

// Per channel over [outer, channels, inner] in one call, against the scalar tier's: short and long runs on every
// layout, and outputs of 8 MB and more whose runs of 4 KB and more are written with streaming stores, on an aligned
// and a misaligned layout.
template <typename T, typename Fn>
void test_dequantize_channels(const Kernels& ref, const Kernels& k, const char* name, Fn Kernels::*slot, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  const std::vector<int32_t> zps = zp_pool<T>();
  struct Shape {
    size_t outer, channels, inner;
  };
  const Shape shapes[] = {{1, 1, 1},     {2, 3, 5},      {1, 4, 33},     {3, 2, 1025},
                          {2, 5, 4099},  {1, 3, 699087}, {2, 1024, 1100}};
  for (const Shape& sh : shapes) {
    const size_t n = sh.outer * sh.channels * sh.inner;
    for (const Layout& l : kLayouts) {
      std::vector<T> qs(n);
      for (T& v : qs) v = static_cast<T>(r.u32());
      std::vector<float> sc(sh.channels);
      std::vector<int32_t> zp(sh.channels);
      for (size_t c = 0; c < sh.channels; ++c) {
        sc[c] = kScalePool[r.below(sizeof kScalePool / sizeof kScalePool[0])];
        zp[c] = zps[r.below(static_cast<uint32_t>(zps.size()))];
      }
      In<T> q(l.in_off, qs);
      In<float> s(l.par_off, sc);
      In<int32_t> z((l.par_off + 2) % 4, zp);
      Out<float> want(l.out_off, n), got(l.out_off, n);
      (ref.*slot)(q.data(), want.data(), sh.outer, sh.channels, sh.inner, s.data(), z.data());
      (k.*slot)(q.data(), got.data(), sh.outer, sh.channels, sh.inner, s.data(), z.data());
      const std::string at = strf("%zux%zux%zu", sh.outer, sh.channels, sh.inner);
      compare(g, tier, where(n, l, at.c_str()), want, got, [&](size_t i) {
        const size_t c = i / sh.inner % sh.channels;
        return "q=" + show(qs[i]) + " scale=" + show(sc[c]) + " zero_point=" + show(zp[c]);
      });
      if (g.failed()) return;
      if (n > (size_t{1} << 20) && &l == &kLayouts[1]) break;  // the large shapes: layouts 0 and 1
    }
  }
}

template <typename T, typename Fn>
void test_dequantize_vec(const Kernels& ref, const Kernels& k, const char* name, Fn Kernels::*slot, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  const std::vector<int32_t> zps = zp_pool<T>();
  for (int round = 0; round < 6; ++round) {
    const bool wide = round >= 3;  // rounds 3..5 also use the large zero points and the special scales
    for (size_t n : kSizes) {
      for (const Layout& l : kLayouts) {
        std::vector<T> qs(n);
        std::vector<float> sc(n);
        std::vector<int32_t> zp(n);
        for (size_t i = 0; i < n; ++i) {
          qs[i] = static_cast<T>(r.u32());
          sc[i] = wide ? kScalePool[r.below(sizeof kScalePool / sizeof kScalePool[0])] : r.uniform(-2.0f, 2.0f);
          zp[i] = zps[r.below(wide ? static_cast<uint32_t>(zps.size()) : 5)];
        }
        In<T> q(l.in_off, qs);
        In<float> s(l.par_off, sc);
        In<int32_t> z((l.par_off + 2) % 4, zp);
        Out<float> want(l.out_off, n), got(l.out_off, n);
        (ref.*slot)(q.data(), want.data(), n, s.data(), z.data());
        (k.*slot)(q.data(), got.data(), n, s.data(), z.data());
        compare(g, tier, where(n, l, wide ? "special-params" : "random"), want, got, [&](size_t i) {
          return "q=" + show(qs[i]) + " scale=" + show(sc[i]) + " zero_point=" + show(zp[i]);
        });
        if (g.failed()) return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// FP16 / BF16

float half_value(uint16_t h) {  // exact binary16 value, computed independently of the kernels
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -24) : std::ldexp(static_cast<float>(m | 0x400), e - 25);
  return (h & 0x8000) ? -mag : mag;
}

// Values around binary16 (bf16 = false) or bfloat16 rounding points.
float narrow_value(Rng& r, const char* mode, bool bf16, const std::vector<float>& specials) {
  if (std::strcmp(mode, "bits") == 0) return bitsf(r.u32());
  if (std::strcmp(mode, "special") == 0) {
    if (r.chance(50)) return specials[r.below(static_cast<uint32_t>(specials.size()))];
    return bitsf((r.u32() & 0x80ffffffu) | ((96u + r.below(50)) << 23));  // exponents around f16's range
  }
  // "ties": exactly halfway between two representable values, or one float ulp either side.
  float x;
  if (bf16) {
    const uint32_t h = r.u32() & 0xffffu;
    const uint32_t deltas[] = {0x8000u, 0x7fffu, 0x8001u, 0x0u, 0xffffu, r.u32() & 0xffffu};
    x = bitsf((h << 16) + deltas[r.below(6)]);
    if (std::isnan(x)) x = bitsf(r.u32() & 0x7f7fffffu);
  } else {
    const uint16_t h = static_cast<uint16_t>(r.below(0x7c00));  // finite, non-negative
    if (h < 0x400) {
      x = static_cast<float>(2 * h + 1) * 0x1p-25f;  // halfway between subnormals h and h + 1
    } else {
      x = bitsf(fbits(half_value(h)) + 0x1000u);  // halfway between normals h and h + 1
    }
    const uint32_t k = r.below(4);
    if (k == 1) x = std::nextafter(x, kInf);
    if (k == 2) x = std::nextafter(x, -kInf);
    if (k == 3) x = half_value(h);
    if (r.chance(50)) x = -x;
  }
  return x;
}

void test_narrow(const Kernels& ref, const Kernels& k, const char* name, qk::F32ToU16Fn Kernels::*slot, bool bf16,
                 Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  const char* const modes[] = {"ties", "special", "bits"};
  for (int round = 0; round < 3; ++round) {
    for (const char* mode : modes) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n);
          for (float& x : xs) x = narrow_value(r, mode, bf16, specials);
          In<float> x(l.in_off, xs);
          Out<uint16_t> want(l.out_off, n), got(l.out_off, n);
          (ref.*slot)(x.data(), want.data(), n);
          (k.*slot)(x.data(), got.data(), n);
          compare(g, tier, where(n, l, mode), want, got, [&](size_t i) { return "x=" + show(xs[i]); });
          if (g.failed()) return;
        }
      }
    }
  }
  // A sweep over the whole float32 bit space with a prime stride (about a million values), 4099 at a time.
  const uint32_t stride = 4093;
  std::vector<float> xs;
  xs.reserve(4099);
  size_t chunk = 0;
  for (uint64_t b = 0; b <= 0xffffffffull; b += stride) {
    xs.push_back(bitsf(static_cast<uint32_t>(b)));
    if (xs.size() == 4099 || b + stride > 0xffffffffull) {
      const Layout& l = kLayouts[chunk++ % 4];
      In<float> x(l.in_off, xs);
      Out<uint16_t> want(l.out_off, xs.size()), got(l.out_off, xs.size());
      (ref.*slot)(x.data(), want.data(), xs.size());
      (k.*slot)(x.data(), got.data(), xs.size());
      compare(g, tier, where(xs.size(), l, "bit-sweep"), want, got, [&](size_t i) { return "x=" + show(xs[i]); });
      if (g.failed()) return;
      xs.clear();
    }
  }
}

void test_widen(const Kernels& ref, const Kernels& k, const char* name, qk::U16ToF32Fn Kernels::*slot, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, name);
  if (!(k.*slot)) return g.fail("slot is null");
  // All 65536 patterns in one call, at every offset.
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (const Layout& l : kLayouts) {
    In<uint16_t> h(l.in_off, all);
    Out<float> want(l.out_off, all.size()), got(l.out_off, all.size());
    (ref.*slot)(h.data(), want.data(), all.size());
    (k.*slot)(h.data(), got.data(), all.size());
    compare(g, tier, where(all.size(), l, "all-65536"), want, got, [&](size_t i) { return "h=" + show(all[i]); });
    if (g.failed()) return;
  }
  for (int round = 0; round < 4; ++round) {
    for (size_t n : kSizes) {
      for (const Layout& l : kLayouts) {
        std::vector<uint16_t> hs(n);
        for (uint16_t& v : hs) v = static_cast<uint16_t>(r.u32());
        In<uint16_t> h(l.in_off, hs);
        Out<float> want(l.out_off, n), got(l.out_off, n);
        (ref.*slot)(h.data(), want.data(), n);
        (k.*slot)(h.data(), got.data(), n);
        compare(g, tier, where(n, l, "random"), want, got, [&](size_t i) { return "h=" + show(hs[i]); });
        if (g.failed()) return;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Min / max (NaN count, min and max compared bitwise)

void test_minmax(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "minmax");
  if (!k.minmax) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  const char* const modes[] = {"random", "special", "bits", "nan-heavy", "zeros", "all-nan"};
  for (int round = 0; round < 3; ++round) {
    for (const char* mode : modes) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n);
          for (float& x : xs) {
            if (std::strcmp(mode, "random") == 0) x = r.uniform(-1e3f, 1e3f);
            else if (std::strcmp(mode, "special") == 0) x = quant_value(r, "special", {1.0f, 0, -128, 127}, specials);
            else if (std::strcmp(mode, "bits") == 0) x = bitsf(r.u32());
            else if (std::strcmp(mode, "nan-heavy") == 0)
              x = r.chance(80) ? bitsf(0x7f800000u | (r.u32() & 0x807fffffu) | 1u) : r.uniform(-5.0f, 5.0f);
            else if (std::strcmp(mode, "zeros") == 0) x = r.chance(50) ? -0.0f : 0.0f;
            else x = bitsf(0x7f800000u | (r.u32() & 0x807fffffu) | 1u);  // all NaN, quiet and signalling
          }
          // A lone extreme at a random position (first, last, tail lanes) must be found.
          if (n > 0 && round == 1) xs[r.below(static_cast<uint32_t>(n))] = r.chance(50) ? -3e38f : 3e38f;
          In<float> x(l.in_off, xs);
          float wmin = 1.0f, wmax = 1.0f, gmin = 2.0f, gmax = 2.0f;
          const size_t wn = ref.minmax(x.data(), n, &wmin, &wmax);
          const size_t gn = k.minmax(x.data(), n, &gmin, &gmax);
          if (wn != gn || fbits(wmin) != fbits(gmin) || fbits(wmax) != fbits(gmax)) {
            std::string first;
            for (size_t i = 0; i < n && i < 4; ++i) first += (i ? " " : "") + show(xs[i]);
            for (size_t i = 0; i < n; ++i)
              if (std::isnan(xs[i])) {
                first += strf("%s first NaN: [%zu]=0x%08" PRIx32, n > 4 ? " ..." : "", i, fbits(xs[i]));
                break;
              }
            g.fail(strf("%s: inputs [%s%s] scalar nans=%zu min=%s max=%s %s nans=%zu min=%s max=%s",
                        where(n, l, mode).c_str(), first.c_str(), n > 4 ? " ..." : "", wn, show(wmin).c_str(),
                        show(wmax).c_str(), tier, gn, show(gmin).c_str(), show(gmax).c_str()));
            return;
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// INT8 GEMM: the tier's micro-kernels through the shared driver (qk::gemm) against qk::gemm_reference, every
// output mode, both signednesses, B row-major and transposed, packed B reused, 1 and 3 threads, per-row/column
// zero points and scales. Rows of C are padded (ldc > n): the padding and a guard after C must stay untouched.

struct GemmCase {
  size_t m, n, k;
};

const GemmCase kGemmShapes[] = {
    {0, 5, 3},   {4, 0, 3},    {3, 4, 0},   {1, 1, 1},    {1, 1, 7},    {2, 3, 5},    {5, 7, 13},
    {6, 64, 4},  {7, 65, 9},   {4, 24, 2},  {5, 25, 3},   {13, 17, 31}, {12, 128, 64}, {25, 33, 100},
    {3, 130, 257}, {1, 70, 1}, {66, 3, 17}, {2, 2, 40000},
    // Last panels with 49-63 and 33-47 columns: the 64-column tiles' fourth and third vectors partial.
    {9, 61, 37}, {8, 111, 70},
    // The gemv path (m <= 8, B not packed; rows past 4 in a second register group, or the avx2 tier's second pass)
    // over several of the driver's chunks, row runs and 64-column blocks.
    {4, 300, 131}, {1, 521, 66}, {6, 300, 131}, {8, 521, 66}, {5, 130, 67}, {7, 200, 1027},
    // Several k blocks (kc is 512 or 1024, 4096 for avx512) with a ragged last block, and enough rows and
    // columns for the driver to split the call into many tasks on 3 threads (row and column blocks, edge panels);
    // the next-panel prefetch hint crosses panels and k blocks.
    {7, 130, 1100}, {33, 65, 1027}, {50, 200, 700}, {97, 31, 513}, {13, 70, 4100},
};

template <typename T>
std::string gemm_value(const void* c, size_t idx) {
  T v;
  std::memcpy(&v, static_cast<const unsigned char*>(c) + idx * sizeof(T), sizeof(T));
  return show(v);
}

void test_gemm(const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "gemm");
  size_t pack_turn = 0;
  const char* const mode_names[] = {"int32", "float32", "int8", "uint8"};
  for (const GemmCase& shape : kGemmShapes) {
    for (int variant = 0; variant < 8 && !g.failed(); ++variant) {
      const size_t m = shape.m, n = shape.n, kk = shape.k;
      const bool a_signed = variant & 1, b_signed = (variant >> 1) & 1, trans_b = (variant >> 2) & 1;
      const int threads = variant % 3 == 0 ? 3 : 1;
      // Extreme operands (all -128 / 255) make the long-k case wrap modulo 2^32.
      const bool extreme = kk >= 1000 || r.chance(15);
      std::vector<uint8_t> a(std::max<size_t>(m * kk, 1)), b(std::max<size_t>(kk * n, 1));
      for (auto& v : a) v = extreme ? (a_signed ? 0x80 : 0xff) : static_cast<uint8_t>(r.u32());
      for (auto& v : b) v = extreme ? (b_signed ? 0x80 : 0xff) : static_cast<uint8_t>(r.u32());
      // Half the cases take A from a 64-byte boundary, in an allocation of exactly its size (so ASan still sees a
      // read past it): the amx tier reads such an A in place, with a copy of the last rows, where it stages a
      // misaligned one (a std::vector's data is only 16-byte aligned).
      const bool a_aligned = ((variant + m + kk) & 1) == 0;
      std::unique_ptr<uint8_t, void (*)(void*)> a64(nullptr, free_exact64);
      if (a_aligned) {
        void* p = alloc_exact64(a.size());
        if (p == nullptr) std::abort();
        a64.reset(static_cast<uint8_t*>(p));
        std::memcpy(a64.get(), a.data(), a.size());
      }
      const uint8_t* a_data = a_aligned ? a64.get() : a.data();
      // Some cases take A with a row stride past k (a view into wider rows): the bytes between rows are junk that
      // must not reach C, and the allocation ends at the last row's k-th byte (ASan flags reads past it).
      size_t lda = kk;
      std::vector<uint8_t> a_wide;
      if (!a_aligned && m > 0 && kk > 0 && ((variant + m) % 3) == 0) {
        lda = kk + 1 + r.below(9);
        a_wide.assign((m - 1) * lda + kk, 0xa5);
        for (size_t i = 0; i < m; ++i) std::memcpy(a_wide.data() + i * lda, a.data() + i * kk, kk);
        a_data = a_wide.data();
      }
      const size_t rs = trans_b ? 1 : n, cs = trans_b ? kk : 1;
      const size_t za_step = r.below(2), zb_step = r.below(2);
      std::vector<int32_t> za(m + 1), zb(n + 1);
      for (auto& z : za) z = extreme ? (a_signed ? 127 : 0) : (a_signed ? r.range(-128, 127) : r.range(0, 255));
      for (auto& z : zb) z = extreme ? (b_signed ? 127 : 0) : (b_signed ? r.range(-128, 127) : r.range(0, 255));
      // Two of the variants take A zero points beyond A's range: the API rejects them, the core takes any int32
      // (exact modulo 2^32), and the avx2 gemv must then keep its column sums instead of centering A (|a - za| would
      // pass 255).
      if (!extreme && (variant == 1 || variant == 6))
        for (auto& z : za) z = r.range(-100000, 100000);
      std::vector<float> as(m + 1), bs(n + 1), bias(n + 1);
      for (auto& v : as) v = r.uniform(1e-4f, 2e-2f);
      for (auto& v : bs) v = r.uniform(1e-4f, 2e-2f);
      for (auto& v : bias) v = r.uniform(-3.0f, 3.0f);
      for (int mode = 0; mode < 4 && !g.failed(); ++mode) {
        for (int use_packed = 0; use_packed < 2 && !g.failed(); ++use_packed) {
          qk::GemmArgs args;
          args.m = m;
          args.n = n;
          args.k = kk;
          args.a = a_data;
          args.lda = lda;
          args.a_signed = a_signed;
          args.za = za.data();
          args.za_step = za_step;
          args.zb = zb.data();
          args.zb_step = zb_step;
          args.mode = static_cast<qk::GemmOut>(mode);
          args.ldc = n + 3;
          args.a_scale = as.data();
          args.a_scale_step = r.below(2);
          args.b_scale = bs.data();
          args.b_scale_step = r.below(2);
          args.bias = r.chance(50) ? bias.data() : nullptr;
          args.relu = r.chance(50);
          args.inv_out_scale = r.uniform(0.5f, 20.0f);
          args.out_zp = mode == 2 ? r.range(-20, 20) : r.range(100, 150);
          args.qmin = mode == 2 ? (r.chance(50) ? -128 : -8) : 0;
          args.qmax = mode == 2 ? (args.qmin == -8 ? 7 : 127) : (r.chance(50) ? 255 : 127);
          if (mode == 2) args.out_zp = std::max(args.qmin, std::min(args.qmax, args.out_zp));
          if (mode == 3) args.out_zp = std::min(args.qmax, args.out_zp);
          const size_t esize = mode <= 1 ? 4 : 1, elems = m ? (m - 1) * args.ldc + n : 0;
          std::vector<unsigned char> want(elems * esize + kGuard * 4, kSentinel), got(want);
          qk::GemmArgs wa = args, ga = args;
          wa.c = want.data();
          ga.c = got.data();
          // An empty C writes nothing (qk::gemm returns at once; gemm_reference would memcpy from an empty
          // vector's null data(), which UBSan rejects, so it is only run for non-empty outputs).
          if (m && n) qk::gemm_reference(wa, b.data(), rs, cs, b_signed);
          std::unique_ptr<qk::PackedB> packed;
          const char* packed_for = "";
          if (use_packed) {
            // Packed for each available tier in turn (the scalar tier keeps the values instead): for another tier,
            // the first use rebuilds B from that packing and packs it for this one.
            const std::vector<Isa>& avail = qk::available_isas();
            const Kernels* from = qk::kernels_for(avail[pack_turn++ % avail.size()]);
            packed_for = qk::isa_name(from->isa);
            packed.reset(new qk::PackedB(b.data(), rs, cs, b_signed, kk, n, from->gemm, threads));
            if (!packed->ok() || !qk::gemm(k, ga, nullptr, 0, 0, b_signed, packed.get(), threads))
              g.fail("gemm reported out of memory");
            std::fill(got.begin(), got.end(), kSentinel);
          }
          if (!qk::gemm(k, ga, use_packed ? nullptr : b.data(), rs, cs, b_signed, packed.get(), threads))
            g.fail("gemm reported out of memory");
          const std::string at = strf("m=%zu n=%zu k=%zu a_%s%s b_%s%s out=%s%s%s threads=%d za_step=%zu zb_step=%zu", m,
                                      n, kk, a_signed ? "s8" : "u8", a_aligned ? " (64-byte aligned)" : "", b_signed ? "s8" : "u8",
                                      trans_b ? " transB" : "", mode_names[mode], args.relu ? " relu" : "",
                                      args.bias ? " bias" : "", threads, za_step, zb_step);
          for (size_t byte = 0; byte < want.size(); ++byte) {
            if (want[byte] == got[byte]) continue;
            const size_t idx = byte / esize, i = idx / args.ldc, j = idx % args.ldc;
            if (idx >= elems || j >= n) {
              g.fail(at + (use_packed ? strf(" packedB (packed for %s)", packed_for) : "") +
                     strf(": out-of-bounds write at C element %zu (row %zu, column %zu; ldc=%zu)", idx, i, j,
                          args.ldc));
            } else {
              std::string w, o;
              switch (mode) {
                case 0: w = gemm_value<int32_t>(want.data(), idx), o = gemm_value<int32_t>(got.data(), idx); break;
                case 1: w = gemm_value<float>(want.data(), idx), o = gemm_value<float>(got.data(), idx); break;
                case 2: w = gemm_value<int8_t>(want.data(), idx), o = gemm_value<int8_t>(got.data(), idx); break;
                default: w = gemm_value<uint8_t>(want.data(), idx), o = gemm_value<uint8_t>(got.data(), idx); break;
              }
              g.fail(at + (use_packed ? strf(" packedB (packed for %s)", packed_for) : "") +
                     strf(" C[%zu][%zu]: za=%d zb=%d reference=%s %s=%s", i, j, za[i * za_step], zb[j * zb_step],
                          w.c_str(), tier, o.c_str()));
            }
            break;
          }
        }
      }
    }
  }
}

// A PackedB keeps only its packing: B's values rebuilt from it (unpack_b, for the scalar tier and other tiers'
// packings) must be B exactly, for edge widths of the last panel and ragged k groups, every tier's layout, both
// signednesses, row-major and transB; and the scalar tier's GEMM on such a PackedB must match the reference.
void test_packed_values(const Kernels& ref, const Kernels& k, Rng& r) {
  if (!k.gemm) return;
  Group g(qk::isa_name(k.isa), "packed_values");
  const size_t ks[] = {1, 2, 3, 4, 5, 63, 64, 65, 255, 256, 257, 300, 1100};
  const size_t ns[] = {1, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 130};
  for (size_t kk : ks)
    for (size_t n : ns)
      for (int variant = 0; variant < 4 && !g.failed(); ++variant) {
        const bool b_signed = variant & 1, trans_b = variant & 2;
        std::vector<uint8_t> b(kk * n);
        for (auto& v : b) v = static_cast<uint8_t>(r.u32());
        if (r.chance(20)) std::fill(b.begin(), b.end(), b_signed ? 0x80 : 0xff);
        const size_t rs = trans_b ? 1 : n, cs = trans_b ? kk : 1;
        const std::string at = strf("k=%zu n=%zu b_%s%s", kk, n, b_signed ? "s8" : "u8", trans_b ? " transB" : "");
        qk::PackedB pb(b.data(), rs, cs, b_signed, kk, n, k.gemm, 1 + variant % 3);
        const qk::PackedPanels* pp = pb.ok() ? pb.panels(k.gemm) : nullptr;
        qk::PackedB::Values v;
        if (!pp) {
          g.fail(at + ": out of memory");
          return;
        }
        // Only the packing is held until the values are asked for, which adds them (k x n bytes, at least 1).
        const size_t packing = pp->data.size() + pp->sums.size();
        if (pb.bytes() != packing) {
          g.fail(at + strf(": holds %zu bytes, its packing %zu", pb.bytes(), packing));
          return;
        }
        if (!pb.values(&v)) {
          g.fail(at + ": out of memory");
          return;
        }
        if (pb.bytes() != packing + std::max<size_t>(kk * n, 1)) {
          g.fail(at + strf(": holds %zu bytes with its values, its packing %zu", pb.bytes(), packing));
          return;
        }
        bool same = v.rs == n && v.cs == 1;
        for (size_t p = 0; p < kk && same; ++p)
          for (size_t j = 0; j < n && same; ++j)
            if (v.data[p * n + j] != b[p * rs + j * cs]) {
              g.fail(at + strf(": rebuilt B[%zu][%zu] = %d, packed from %d", p, j, v.data[p * n + j], b[p * rs + j * cs]));
              same = false;
            }
        if (!same) return;
        g.check(true, at);
        if (kk > 300 || n > 64) continue;
        // The scalar tier's GEMM on a PackedB packed for this tier (a fresh one: values rebuilt inside gemm).
        const size_t m = 3;
        std::vector<uint8_t> a(m * kk);
        for (auto& x : a) x = static_cast<uint8_t>(r.u32());
        const int32_t za = r.range(0, 255), zb = b_signed ? r.range(-128, 127) : r.range(0, 255);
        qk::GemmArgs args;
        args.m = m, args.n = n, args.k = kk, args.a = a.data(), args.lda = kk, args.a_signed = false;
        args.za = &za, args.zb = &zb, args.ldc = n;
        std::vector<int32_t> want(m * n), got(m * n, 0x5a5a5a5a);
        qk::GemmArgs wa = args, ga = args;
        wa.c = want.data(), ga.c = got.data();
        qk::gemm_reference(wa, b.data(), rs, cs, b_signed);
        qk::PackedB fresh(b.data(), rs, cs, b_signed, kk, n, k.gemm);
        if (!qk::gemm(ref, ga, nullptr, 0, 0, b_signed, &fresh, 3) || got != want) {
          g.fail(at + ": the scalar tier's gemm on a PackedB packed for this tier differs from the reference");
          return;
        }
      }
}

// ---------------------------------------------------------------------------------------------------------------
// Float32 GEMM. By qk/sgemm.h's contract tiers round differently from the scalar reference (FMA, summation
// order), so this is the one slot not compared bit for bit: each element must lie within the float32 error bound
// 2 (k + 2) 2^-24 sum_p |a b| of the reference; with small-integer operands (exact sums) it must equal the
// reference; and results must be bitwise identical for 1 and 3 threads. Padding columns (ldc > n) and a guard
// after C must stay untouched.

// Column sums over k > 2^24: packing sums each column's shifted bytes, and uint8 zeros (-128 after the shift) or
// int8 -128 pass -2^31 there. The sums are kept modulo 2^32 (unsigned, so the UBSan build checks there is no
// signed overflow), and the result is exact. A is all zeros with zero point 1, so the kernels' own dot products
// are 0 (SIMDe's emulated vpdpbusd adds in signed int, and UBSan would stop a wrapping accumulator there) and the
// result comes from the correction terms alone: sum (0 - 1) (b - (b + dz)) = dz * k. One column of B, packed (the
// path that uses the sums), row-major and transB.
void test_gemm_long_k(const Kernels& k) {
  if (!k.gemm) return;  // the scalar tier packs nothing
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "gemm_long_k");
  const size_t kk = (size_t{1} << 24) + 64;
  const std::vector<uint8_t> a(kk, 0);
  for (const bool b_signed : {false, true})
    for (const bool trans_b : {false, true}) {
      const std::vector<uint8_t> b(kk, b_signed ? 0x80 : 0x00);
      qk::PackedB pb(b.data(), 1, trans_b ? kk : 1, b_signed, kk, 1, k.gemm);
      for (const int32_t dz : {-1, 0, 1}) {
        const int32_t za = 1, zb = (b_signed ? -128 : 0) + dz;
        int32_t c = 12345;
        qk::GemmArgs args;
        args.m = 1, args.n = 1, args.k = kk, args.a = a.data(), args.lda = kk, args.a_signed = false;
        args.za = &za, args.zb = &zb, args.mode = qk::GemmOut::Int32, args.c = &c, args.ldc = 1;
        const bool ok = qk::gemm(k, args, nullptr, 0, 0, b_signed, &pb, 1);
        const int32_t want = static_cast<int32_t>(static_cast<uint32_t>(dz) * static_cast<uint32_t>(kk));
        g.check(ok && c == want, strf("%s B, %s, zero point %d: got %d, want %d", b_signed ? "int8" : "uint8",
                                      trans_b ? "transB" : "row-major", zb, c, want));
      }
    }
}

void test_sgemm(const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "sgemm");
  const GemmCase shapes[] = {{0, 5, 3},   {4, 0, 3},     {3, 4, 0},    {1, 1, 1},     {2, 3, 5},
                             {6, 16, 7},  {7, 17, 9},    {6, 32, 256}, {13, 33, 257}, {5, 48, 600},
                             {25, 70, 100}, {1, 1, 1000}, {66, 3, 17},  {12, 130, 40}};
  for (const GemmCase& shape : shapes) {
    for (int variant = 0; variant < 4 && !g.failed(); ++variant) {
      const size_t m = shape.m, n = shape.n, kk = shape.k;
      const bool trans_b = variant & 1, integers = variant & 2;
      std::vector<float> a(std::max<size_t>(m * kk, 1)), b(std::max<size_t>(kk * n, 1));
      for (float& v : a) v = integers ? static_cast<float>(r.range(-8, 8)) : r.uniform(-1.0f, 1.0f);
      for (float& v : b) v = integers ? static_cast<float>(r.range(-8, 8)) : r.uniform(-1.0f, 1.0f);
      qk::SgemmArgs args;
      args.m = m;
      args.n = n;
      args.k = kk;
      args.a = a.data();
      args.lda = kk;
      args.b = b.data();
      args.rs = trans_b ? 1 : n;
      args.cs = trans_b ? kk : 1;
      args.ldc = n + 2;
      const size_t elems = m ? (m - 1) * args.ldc + n : 0;
      std::vector<float> want(elems + kGuard), got1(want.size()), got3(want.size());
      for (auto* v : {&want, &got1, &got3}) std::memset(v->data(), kSentinel, v->size() * sizeof(float));
      qk::SgemmArgs wa = args, g1 = args, g3 = args;
      wa.c = want.data();
      g1.c = got1.data();
      g3.c = got3.data();
      if (m && n) qk::sgemm_reference(wa, 0, m);
      if (!qk::sgemm(k, g1, 1) || !qk::sgemm(k, g3, 3)) g.fail("sgemm reported out of memory");
      const std::string at =
          strf("m=%zu n=%zu k=%zu%s%s", m, n, kk, trans_b ? " transB" : "", integers ? " integer-operands" : "");
      for (size_t idx = 0; idx < want.size() && !g.failed(); ++idx) {
        const size_t i = idx / args.ldc, j = idx % args.ldc;
        const bool inside = idx < elems && j < n;
        if (!inside) {
          if (fbits(got1[idx]) != fbits(want[idx]) || fbits(got3[idx]) != fbits(want[idx]))
            g.fail(at + strf(": out-of-bounds write at C element %zu (row %zu, column %zu; ldc=%zu)", idx, i, j,
                             args.ldc));
          continue;
        }
        if (fbits(got1[idx]) != fbits(got3[idx])) {
          g.fail(at + strf(" C[%zu][%zu]: 1 thread %s, 3 threads %s (must be identical)", i, j,
                           show(got1[idx]).c_str(), show(got3[idx]).c_str()));
          continue;
        }
        double mag = 0;
        for (size_t p = 0; p < kk; ++p)
          mag += std::fabs(static_cast<double>(a[i * kk + p]) * b[p * args.rs + j * args.cs]);
        const double bound = integers ? 0.0 : 2.0 * (kk + 2) * 0x1p-24 * mag + 1e-37;
        const double diff = std::fabs(static_cast<double>(got1[idx]) - want[idx]);
        if (!(diff <= bound))
          g.fail(at + strf(" C[%zu][%zu]: reference=%s %s=%s |diff|=%.3g > bound %.3g", i, j,
                           show(want[idx]).c_str(), tier, show(got1[idx]).c_str(), diff, bound));
      }
    }
  }
}

// Up to kSgemmRowsMax rows against row-major B take the tiers' `rows` path (B read in place, nothing packed),
// which must give the packed path's bits: each case's first m rows are computed alone (rows path) and as part of
// 9 rows (packed), on 1 and 3 threads, with k over several k blocks and column counts around the vector widths
// and past the path's largest task (4096 columns at m = 1), so that 1 thread runs several tasks too.
void test_sgemm_rows(const Kernels& k, Rng& r) {
  if (!k.sgemm || !k.sgemm->rows) return;
  Group g(qk::isa_name(k.isa), "sgemm_rows");
  const size_t ns[] = {1, 7, 8, 17, 33, 1030, 2100, 4100};
  const size_t ks[] = {1, 5, 300, 1100};
  for (const size_t n : ns)
    for (const size_t kk : ks) {
      constexpr size_t kAll = 9;
      std::vector<float> a(kAll * kk), b(kk * n);
      for (float& v : a) v = r.uniform(-1.0f, 1.0f);
      for (float& v : b) v = r.uniform(-1.0f, 1.0f);
      qk::SgemmArgs args;
      args.n = n, args.k = kk, args.a = a.data(), args.lda = kk, args.b = b.data(), args.rs = n, args.cs = 1;
      args.ldc = n + 3;
      std::vector<float> all(kAll * args.ldc, 0.0f);
      qk::SgemmArgs ga = args;
      ga.m = kAll, ga.c = all.data();
      if (!qk::sgemm(k, ga, 1)) g.fail("sgemm reported out of memory");
      for (size_t m = 1; m <= qk::kSgemmRowsMax && !g.failed(); ++m)
        for (const int threads : {1, 3}) {
          std::vector<float> got(m * args.ldc + kGuard);
          std::memset(got.data(), kSentinel, got.size() * sizeof(float));
          qk::SgemmArgs gr = args;
          gr.m = m, gr.c = got.data();
          if (!qk::sgemm(k, gr, threads)) g.fail("sgemm reported out of memory");
          for (size_t idx = 0; idx < got.size() && !g.failed(); ++idx) {
            const size_t i = idx / args.ldc, j = idx % args.ldc;
            const bool inside = i < m && j < n;
            if (!inside) {
              float sentinel;
              std::memset(&sentinel, kSentinel, sizeof sentinel);
              if (fbits(got[idx]) != fbits(sentinel))
                g.fail(strf("m=%zu n=%zu k=%zu: out-of-bounds write at C element %zu", m, n, kk, idx));
            } else if (fbits(got[idx]) != fbits(all[idx])) {
              g.fail(strf("m=%zu n=%zu k=%zu, %d threads: C[%zu][%zu] %s alone, %s in %zu rows (must be identical)",
                          m, n, kk, threads, i, j, show(got[idx]).c_str(), show(all[idx]).c_str(), kAll));
            }
          }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Out of memory. qk::set_alloc_limit_for_tests(bytes) makes every allocation of the drivers above `bytes` fail as
// if the memory were gone (AlignedBytes, Scratch, qk::make_array). gemm (unpacked, the gemv path, packed with the
// packing done on first use) and sgemm (few-rows and blocked paths, C overlapping A) must then return false, not
// abort, under a limit that fails every allocation they make (at larger limits a call that returns true must be
// exact), leak nothing (ASan), and once the limit is lifted return true with the exact results on the same
// objects: a failed packing must not have been kept as valid.

struct AllocLimit {  // lifts the limit however the scope is left
  explicit AllocLimit(size_t bytes) { qk::set_alloc_limit_for_tests(bytes); }
  ~AllocLimit() { qk::set_alloc_limit_for_tests(0); }
};

// The first limit is below every allocation the test shapes need; the larger ones fail some of them (packing,
// per-call terms, a task's scratch, ...), each in its place.
constexpr size_t kOomLimits[] = {64,      128,     256,     512,     1 << 10, 1 << 11, 1 << 12, 1 << 13,
                                  1 << 14, 1 << 15, 1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20};

void test_oom_gemm(const Kernels& k, Rng& r) {
  Group g(qk::isa_name(k.isa), "gemm_out_of_memory");
  // Packed per call and split into tasks on 3 threads, several k blocks; the gemv path (m <= 4, unpacked); A
  // read in place with a zero-padded copy of its last rows (amx: A 64-byte aligned, k a multiple of 64); and
  // whole amx tiles read in place, where the row strip (gemm_strip_min_bytes 0) is a task's only scratch.
  const GemmCase shapes[] = {{33, 65, 300}, {7, 130, 1100}, {2, 200, 64}, {50, 200, 700}, {37, 20, 128},
                             {32, 32, 128}};
  for (const GemmCase& shape : shapes) {
    for (int variant = 0; variant < 2 && !g.failed(); ++variant) {
      const size_t m = shape.m, n = shape.n, kk = shape.k;
      const bool a_signed = variant == 1, b_signed = variant == 0, trans_b = variant == 1;
      std::vector<uint8_t> abuf(m * kk + 64), b(kk * n);
      uint8_t* a = abuf.data() + (64 - reinterpret_cast<uintptr_t>(abuf.data()) % 64) % 64;
      for (size_t i = 0; i < m * kk; ++i) a[i] = static_cast<uint8_t>(r.u32());
      for (auto& v : b) v = static_cast<uint8_t>(r.u32());
      const size_t rs = trans_b ? 1 : n, cs = trans_b ? kk : 1;
      const int32_t za = a_signed ? r.range(-128, 127) : r.range(0, 255);
      std::vector<int32_t> zb(n);
      for (auto& z : zb) z = b_signed ? r.range(-128, 127) : r.range(0, 255);
      qk::GemmArgs args;
      args.m = m;
      args.n = n;
      args.k = kk;
      args.a = a;
      args.lda = kk;
      args.a_signed = a_signed;
      args.za = &za;
      args.zb = zb.data();
      args.zb_step = 1;
      args.ldc = n;
      std::vector<int32_t> want(m * n), got(m * n);
      qk::GemmArgs wa = args, ga = args;
      wa.c = want.data();
      ga.c = got.data();
      qk::gemm_reference(wa, b.data(), rs, cs, b_signed);
      const std::string at = strf("m=%zu n=%zu k=%zu a_%s b_%s%s", m, n, kk, a_signed ? "s8" : "u8",
                                  b_signed ? "s8" : "u8", trans_b ? " transB" : "");
      // gemm on 3 threads under `limit` (0: none): its status; a true one must come with the exact result.
      auto call = [&](size_t limit, qk::PackedB* packed, const char* what) {
        std::fill(got.begin(), got.end(), 0x5a5a5a5a);
        bool ok;
        {
          AllocLimit lim(limit);
          ok = qk::gemm(k, ga, packed ? nullptr : b.data(), rs, cs, b_signed, packed, 3);
        }
        if (ok && got != want) g.fail(at + strf(" %s, limit %zu: true with a wrong result", what, limit));
        return ok;
      };
      for (size_t limit : kOomLimits) {
        const bool all_fail = limit == kOomLimits[0];
        if (call(limit, nullptr, "unpacked") && all_fail)
          g.fail(at + strf(" unpacked: true under a %zu-byte allocation limit", limit));
        if (!call(0, nullptr, "unpacked")) g.fail(at + strf(" unpacked: false after a %zu-byte limit", limit));

        // Created without a limit, holding B's values, so its first use for this tier packs under it.
        std::unique_ptr<qk::PackedB> packed = qk::PackedB::create(b.data(), rs, cs, b_signed, kk, n, nullptr);
        if (!packed) {
          g.fail(at + " PackedB::create: null without a limit");
          return;
        }
        if (call(limit, packed.get(), "packed, first use") && all_fail)
          g.fail(at + strf(" packed: true under a %zu-byte allocation limit", limit));
        if (k.gemm && all_fail) {
          AllocLimit lim(limit);
          g.check(packed->panels(k.gemm, 3) == nullptr, at + " PackedB::panels: not null under the limit");
        }
        if (!call(0, packed.get(), "packed, after the limit"))
          g.fail(at + strf(" packed: false after a %zu-byte limit", limit));
        if (k.gemm) g.check(packed->panels(k.gemm, 3) != nullptr, at + " PackedB::panels: null without a limit");
        call(limit, packed.get(), "packed, packing kept");  // then only the call's own memory can fail

        // Packed for another tier (the best one; the scalar tier's values for the scalar tier), so the first use
        // here rebuilds B's values from that packing (and packs them for this tier) under the limit.
        const Kernels* best = qk::kernels_for(qk::available_isas()[0]);
        const qk::GemmUkernel* other = best->gemm != k.gemm ? best->gemm : nullptr;
        std::unique_ptr<qk::PackedB> foreign = qk::PackedB::create(b.data(), rs, cs, b_signed, kk, n, other, 3);
        if (!foreign) {
          g.fail(at + " PackedB::create for another tier: null without a limit");
          return;
        }
        if (call(limit, foreign.get(), "packed for another tier, first use") && all_fail)
          g.fail(at + strf(" packed for another tier: true under a %zu-byte allocation limit", limit));
        if (!call(0, foreign.get(), "packed for another tier, after the limit"))
          g.fail(at + strf(" packed for another tier: false after a %zu-byte limit", limit));
      }
      AllocLimit lim(kOomLimits[0]);
      for (const qk::GemmUkernel* uk : {static_cast<const qk::GemmUkernel*>(nullptr), k.gemm}) {
        g.check(qk::PackedB::create(b.data(), rs, cs, b_signed, kk, n, uk, 3) == nullptr,
                at + " PackedB::create: not null under the limit");
        qk::PackedB direct(b.data(), rs, cs, b_signed, kk, n, uk, 3);
        qk::PackedB::Values v;
        g.check(!direct.ok() && !direct.values(&v) && (k.gemm == nullptr || direct.panels(k.gemm, 3) == nullptr),
                at + " PackedB: ok() under the limit");
        g.check(!qk::gemm(k, ga, nullptr, rs, cs, b_signed, &direct, 3), at + " gemm with a failed PackedB: true");
      }
    }
  }
}

void test_oom_sgemm(const Kernels& k, Rng& r) {
  Group g(qk::isa_name(k.isa), "sgemm_out_of_memory");
  // Two rows (row-major B: the tiers' rows path and its per-task sums; transB: packed), few rows (A's k block
  // packed once, B panels per task), the blocked path (more rows than the tiers' mc; with
  // one column panel a task's A block is larger than the shared B block), and C on top of A (k == n: computed
  // into a temporary).
  struct Case {
    size_t m, n, k;
    bool in_place;
  };
  const Case cases[] = {{2, 70, 300, false},  {13, 70, 300, false}, {200, 40, 300, false},
                        {1000, 16, 256, false}, {20, 64, 64, true},  {200, 48, 48, true}};
  for (const Case& c : cases) {
    for (int trans_b = 0; trans_b < 2 && !g.failed(); ++trans_b) {
      const size_t m = c.m, n = c.n, kk = c.k;
      // Small integers: every sum is exact, so every tier must equal the reference bit for bit.
      std::vector<float> a(m * kk), b(kk * n), want(m * n);
      for (float& v : a) v = static_cast<float>(r.range(-8, 8));
      for (float& v : b) v = static_cast<float>(r.range(-8, 8));
      qk::SgemmArgs args;
      args.m = m;
      args.n = n;
      args.k = kk;
      args.lda = kk;
      args.b = b.data();
      args.rs = trans_b ? 1 : n;
      args.cs = trans_b ? kk : 1;
      args.ldc = n;
      qk::SgemmArgs wa = args;
      wa.a = a.data();
      wa.c = want.data();
      qk::sgemm_reference(wa, 0, m);
      const std::string at = strf("m=%zu n=%zu k=%zu%s%s", m, n, kk, trans_b ? " transB" : "",
                                  c.in_place ? " C=A" : "");
      std::vector<float> abuf(a.size()), cbuf(m * n);
      auto call = [&](size_t limit) {
        abuf = a;  // C = A overwrites A
        std::fill(cbuf.begin(), cbuf.end(), -1.0f);
        qk::SgemmArgs ga = args;
        ga.a = abuf.data();
        ga.c = c.in_place ? abuf.data() : cbuf.data();
        bool ok;
        {
          AllocLimit lim(limit);
          ok = qk::sgemm(k, ga, 3);
        }
        if (ok && std::memcmp(ga.c, want.data(), m * n * sizeof(float)) != 0)
          g.fail(at + strf(", limit %zu: true with a wrong result", limit));
        return ok;
      };
      for (size_t limit : kOomLimits) {
        // The scalar tier's reference loops allocate nothing unless C overlaps A.
        const bool must_fail = limit == kOomLimits[0] && (k.sgemm || c.in_place);
        if (call(limit) && must_fail) g.fail(at + strf(": true under a %zu-byte allocation limit", limit));
        if (!call(0)) g.fail(at + strf(": false after a %zu-byte limit", limit));
      }
    }
  }
}

// The allocation helpers themselves: a failure leaves them empty and usable.
void test_oom_helpers() {
  Group g("scalar", "alloc_limit");
  qk::AlignedBytes bytes;
  qk::Scratch scratch;
  {
    AllocLimit lim(100);
    g.check(bytes.assign(100) && bytes.data() != nullptr && bytes.size() == 100, "AlignedBytes::assign(100) failed");
    g.check(!bytes.assign(101) && bytes.data() == nullptr && bytes.size() == 0,
            "AlignedBytes::assign(101) under a 100-byte limit: not false and empty");
    g.check(scratch.get(100) != nullptr && scratch.get(101) == nullptr && scratch.get(50) != nullptr,
            "Scratch::get under a 100-byte limit");
    g.check(qk::make_array<int32_t>(25) && !qk::make_array<int32_t>(26), "make_array under a 100-byte limit");
    g.check(!qk::make_array<int32_t>(SIZE_MAX / 2), "make_array: an element count that overflows");
  }
  g.check(bytes.assign(4096) && bytes.data() != nullptr && bytes.size() == 4096 && bytes.data()[4095] == 0,
          "AlignedBytes::assign after the limit");
  g.check(scratch.get(4096) != nullptr, "Scratch::get after the limit");
  qk::set_alloc_limit_for_tests(0);
  // Large blocks (huge-page candidates): 64-byte aligned everywhere, on 2 MB boundaries where madvise exists, every
  // byte usable up to the size asked for, and still refused under the test limit.
  for (const size_t n : {qk::kHugePageBytes - 64, qk::kHugePageBytes, qk::kHugePageBytes + 64, 3 * qk::kHugePageBytes}) {
    uint8_t* p = static_cast<uint8_t*>(qk::aligned_malloc64(n));
    const uintptr_t at = reinterpret_cast<uintptr_t>(p);
    if (p == nullptr || at % 64 != 0) {
      g.fail(strf("aligned_malloc64(%zu): null or misaligned", n));
      qk::aligned_free(p);
      continue;
    }
#if !defined(_WIN32) && defined(MADV_HUGEPAGE)
    if (n >= qk::kHugePageBytes)
      g.check(at % qk::kHugePageBytes == 0, strf("aligned_malloc64(%zu): not 2 MB aligned", n));
#endif
    std::memset(p, 0xa5, n);
    g.check(p[0] == 0xa5 && p[n / 2] == 0xa5 && p[n - 1] == 0xa5, strf("aligned_malloc64(%zu): bytes not kept", n));
    qk::aligned_free(p);
  }
  {
    AllocLimit lim(qk::kHugePageBytes);
    g.check(scratch.get(qk::kHugePageBytes) != nullptr && scratch.get(qk::kHugePageBytes + 1) == nullptr,
            "Scratch::get of a huge-page size under the limit");
    g.check(bytes.assign(qk::kHugePageBytes, false) && bytes.data() != nullptr, "AlignedBytes::assign(2 MB)");
  }
  qk::set_alloc_limit_for_tests(0);
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration reductions (qk/reduce.h): per-channel min / max and histogram accumulation, bit for bit against
// scalar (NaN counts included), with misaligned inputs and guard elements around every output.

float reduce_value(Rng& r, const char* mode, const std::vector<float>& specials) {
  if (std::strcmp(mode, "random") == 0) return r.uniform(-1e3f, 1e3f);
  if (std::strcmp(mode, "special") == 0)
    return r.chance(30) ? specials[r.below(static_cast<uint32_t>(specials.size()))] : r.uniform(-4.0f, 4.0f);
  if (std::strcmp(mode, "bits") == 0) return bitsf(r.u32());
  if (std::strcmp(mode, "nan-heavy") == 0)
    return r.chance(80) ? bitsf(0x7f800000u | (r.u32() & 0x807fffffu) | 1u) : r.uniform(-5.0f, 5.0f);
  if (std::strcmp(mode, "zeros") == 0) return r.chance(50) ? -0.0f : 0.0f;
  return bitsf(0x7f800000u | (r.u32() & 0x807fffffu) | 1u);  // all NaN
}

const char* const kReduceModes[] = {"random", "special", "bits", "nan-heavy", "zeros", "all-nan"};

void test_minmax_channels(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "minmax_channels");
  if (!k.minmax_channels) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  // (outer, channels, inner): inner == 1 with narrow and wide rows, small inner (the vertical path with its
  // super-rows), inner around the per-run threshold (64) and long runs; empty layouts.
  const size_t shapes[][3] = {{0, 3, 5},   {3, 4, 0},    {1, 1, 1},    {1, 7, 1},     {5, 1, 1},   {33, 3, 1},
                              {129, 1, 1}, {7, 1024, 1}, {3, 1000, 1}, {2, 1025, 1},  {9, 2049, 1}, {4, 3, 2},
                              {17, 5, 7},  {9, 4, 63},   {3, 5, 64},   {2, 3, 65},    {2, 2, 1000}, {1, 2, 4099},
                              {1000, 3, 1}, {64, 65, 1}, {37, 9, 3},   {6, 300, 5},   {11, 1, 17},  {1, 1, 4099}};
  for (const auto& s : shapes) {
    const size_t outer = s[0], channels = s[1], inner = s[2], n = outer * channels * inner;
    for (const char* mode : kReduceModes) {
      const Layout& l = kLayouts[r.below(4)];
      std::vector<float> xs(n);
      for (float& x : xs) x = reduce_value(r, mode, specials);
      if (n > 0 && r.chance(50)) xs[r.below(static_cast<uint32_t>(n))] = r.chance(50) ? -3e38f : 3e38f;
      In<float> x(l.in_off, xs);
      Out<float> wmin(l.out_off, channels), wmax(l.par_off, channels), gmin(l.out_off, channels),
          gmax(l.par_off, channels);
      const size_t wn = ref.minmax_channels(x.data(), outer, channels, inner, wmin.data(), wmax.data());
      const size_t gn = k.minmax_channels(x.data(), outer, channels, inner, gmin.data(), gmax.data());
      const std::string at = strf("outer=%zu channels=%zu inner=%zu in_off=%zu data=%s", outer, channels, inner,
                                  l.in_off, mode);
      if (wn != gn) return g.fail(strf("%s: scalar nans=%zu %s nans=%zu", at.c_str(), wn, tier, gn));
      auto describe = [&](size_t c) { return strf("channel %zu", c); };
      if (!compare(g, tier, at + " min", wmin, gmin, describe) || !compare(g, tier, at + " max", wmax, gmax, describe))
        return;
    }
  }
}

void test_histogram(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "histogram");
  if (!k.histogram) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  struct Grid {
    float lo, scale;
  };
  const uint32_t bin_counts[] = {1, 2, 3, 127, 128, 2048, 2049, 5000};
  const size_t sizes[] = {0, 1, 7, 15, 16, 17, 31, 33, 63, 65, 129, 1023, 4099, 17000, 70001};
  for (uint32_t bins : bin_counts) {
    const Grid grids[] = {
        {-2.0f, static_cast<float>(bins) / 4.0f},       // [-2, 2)
        {0.0f, static_cast<float>(bins) / 1000.0f},     // [0, 1000)
        {-1e-3f, static_cast<float>(bins) / 2e-3f},     // narrow
        {-kMax, static_cast<float>(bins) / 3e38f / 2},  // everything (x - lo overflows to +Inf near the top)
        {3.0f, 1e-30f},                                 // everything below 3 + ~1e30 in bin 0
    };
    for (const Grid& gr : grids)
      for (size_t n : sizes)
        for (int abs = 0; abs < 2; ++abs) {
          const char* mode = kReduceModes[r.below(6)];
          const Layout& l = kLayouts[r.below(4)];
          std::vector<float> xs(n);
          for (float& x : xs) {
            if (std::strcmp(mode, "random") == 0) x = gr.lo + r.uniform(-0.1f, 1.1f) * static_cast<float>(bins) / gr.scale;
            else x = reduce_value(r, mode, specials);
          }
          In<float> x(l.in_off, xs);
          // Counts compared as int32 (show() has no uint32_t overload; every count here is below 2^31).
          Out<int32_t> want(l.out_off, bins), got(l.out_off, bins);
          uint32_t* wc = reinterpret_cast<uint32_t*>(want.data());
          uint32_t* gc = reinterpret_cast<uint32_t*>(got.data());
          std::memset(wc, 0, bins * sizeof(uint32_t));
          std::memset(gc, 0, bins * sizeof(uint32_t));
          // The kernels add to the counts: start some runs from non-zero counts (the same in both).
          if (r.chance(25))
            for (uint32_t b = 0; b < bins; ++b) wc[b] = gc[b] = r.below(1000);
          const size_t wn = ref.histogram(x.data(), n, gr.lo, gr.scale, bins, abs != 0, wc);
          const size_t gn = k.histogram(x.data(), n, gr.lo, gr.scale, bins, abs != 0, gc);
          const std::string at = strf("bins=%u lo=%s scale=%s abs=%d size=%zu in_off=%zu data=%s", bins,
                                      show(gr.lo).c_str(), show(gr.scale).c_str(), abs, n, l.in_off, mode);
          if (wn != gn) return g.fail(strf("%s: scalar nans=%zu %s nans=%zu", at.c_str(), wn, tier, gn));
          if (!compare(g, tier, at, want, got, [](size_t b) { return strf("bin %zu", b); })) return;
        }
  }
}

void test_histogram_channels(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "histogram_channels");
  if (!k.histogram_channels) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  // (outer, channels, inner): inner == 1 with narrow rows (super-rows) and wide ones (several column chunks), small
  // inner (the column path), inner at and above the per-run threshold (64), empty layouts.
  const size_t shapes[][3] = {{0, 3, 5},    {3, 4, 0},    {1, 1, 1},    {1, 7, 1},   {5, 1, 1},     {33, 3, 1},
                              {129, 1, 1},  {7, 1024, 1}, {3, 1000, 1}, {2, 1025, 1}, {40, 37, 1},  {300, 129, 1},
                              {4, 3, 2},    {17, 5, 7},   {9, 4, 63},   {3, 5, 64},  {2, 3, 65},    {2, 2, 1000},
                              {1, 2, 4099}, {1000, 3, 1}, {64, 65, 1},  {37, 9, 3},  {6, 300, 5},   {11, 1, 17},
                              {1, 1, 4099}, {3, 2, 20000}};
  const uint32_t strides[] = {1, 2, 3, 127, 128, 2048, 2049, 5000};
  for (const auto& s : shapes) {
    const size_t outer = s[0], channels = s[1], inner = s[2], n = outer * channels * inner;
    for (int run = 0; run < 4; ++run) {
      // At most ~400k counts per run; every channel gets its own bin count, grid and data range.
      uint32_t stride = strides[r.below(8)];
      while (stride > 1 && channels * stride > 400000) stride /= 2;
      const char* mode = run == 0 ? "random" : kReduceModes[r.below(6)];
      const int abs = static_cast<int>(r.below(2));
      const Layout& l = kLayouts[r.below(4)];
      std::vector<float> lo(channels), scale(channels);
      std::vector<uint32_t> bins(channels);
      for (size_t c = 0; c < channels; ++c) {
        bins[c] = r.chance(20) ? stride : 1 + r.below(stride);
        switch (r.below(5)) {
          case 0: lo[c] = -2.0f, scale[c] = static_cast<float>(bins[c]) / 4.0f; break;
          case 1: lo[c] = 0.0f, scale[c] = static_cast<float>(bins[c]) / 1000.0f; break;
          case 2: lo[c] = -1e-3f, scale[c] = static_cast<float>(bins[c]) / 2e-3f; break;
          case 3: lo[c] = -kMax, scale[c] = static_cast<float>(bins[c]) / 3e38f / 2; break;
          default: lo[c] = r.uniform(-5.0f, 5.0f), scale[c] = static_cast<float>(bins[c]) / r.uniform(0.1f, 9.0f);
        }
      }
      std::vector<float> xs(n);
      for (size_t e = 0; e < n; ++e) {
        const size_t c = (e / inner) % channels;
        if (std::strcmp(mode, "random") == 0)
          xs[e] = lo[c] + r.uniform(-0.1f, 1.1f) * static_cast<float>(bins[c]) / scale[c];
        else
          xs[e] = reduce_value(r, mode, specials);
      }
      In<float> x(l.in_off, xs);
      In<float> plo(l.par_off, lo), pscale(l.par_off, scale);
      In<uint32_t> pbins(l.par_off, bins);
      const size_t total = channels * stride;
      Out<int32_t> want(l.out_off, total), got(l.out_off, total);
      uint32_t* wc = reinterpret_cast<uint32_t*>(want.data());
      uint32_t* gc = reinterpret_cast<uint32_t*>(got.data());
      std::memset(wc, 0, total * sizeof(uint32_t));
      std::memset(gc, 0, total * sizeof(uint32_t));
      if (r.chance(25))
        for (size_t b = 0; b < total; ++b) wc[b] = gc[b] = r.below(1000);
      const size_t wn = ref.histogram_channels(x.data(), outer, channels, inner, plo.data(), pscale.data(),
                                               pbins.data(), stride, abs != 0, wc);
      const size_t gn = k.histogram_channels(x.data(), outer, channels, inner, plo.data(), pscale.data(),
                                             pbins.data(), stride, abs != 0, gc);
      const std::string at = strf("outer=%zu channels=%zu inner=%zu stride=%u abs=%d in_off=%zu data=%s", outer,
                                  channels, inner, stride, abs, l.in_off, mode);
      if (wn != gn) return g.fail(strf("%s: scalar nans=%zu %s nans=%zu", at.c_str(), wn, tier, gn));
      auto describe = [&](size_t b) {
        const size_t c = b / stride;
        return strf("channel %zu bin %zu (bins %u, lo %s, scale %s)", c, b % stride, bins[c], show(lo[c]).c_str(),
                    show(scale[c]).c_str());
      };
      if (!compare(g, tier, at, want, got, describe)) return;
    }
  }
}

// Scalar known answers for the reductions.
void known_answers_reduce(const Kernels& s) {
  {
    Group g("scalar", "known_histogram_channels");
    const float nan = bitsf(0x7fc00000u);
    // [outer 2][channels 2][inner 3]; channel 0: lo 0, scale 1, 3 bins; channel 1: lo -4, scale 0.5, 2 bins (stride 3).
    const float xs[] = {0.5f, 2.5f, -1.0f, -4.0f, 0.0f, 9.0f, 1.0f, nan, 7.0f, -3.0f, nan, -0.5f};
    const float lo[] = {0.0f, -4.0f}, scale[] = {1.0f, 0.5f};
    const uint32_t bins[] = {3, 2};
    uint32_t got[6] = {0, 0, 0, 0, 0, 0};
    // channel 0 (x): 0.5 -1 | 1 | 2.5 7; channel 1 (x): -4 -3 | 0 9 -0.5; slot 5 unused.
    const uint32_t want[] = {2, 1, 2, 2, 3, 0};
    const size_t nans = s.histogram_channels(xs, 2, 2, 3, lo, scale, bins, 3, false, got);
    g.check(nans == 2 && std::memcmp(got, want, sizeof want) == 0,
            strf("x: nans=%zu counts %u %u %u | %u %u %u, expected nans=2 counts 2 1 2 | 2 3 0", nans, got[0], got[1],
                 got[2], got[3], got[4], got[5]));
    // |x|: channel 0: 0.5 | 1 1 | 2.5 7; channel 1: (|v| + 4) * 0.5 >= 2 for all five values, so all in bin 1.
    uint32_t ga[6] = {0, 0, 0, 0, 0, 0};
    const uint32_t want_abs[] = {1, 2, 2, 0, 5, 0};
    const size_t na = s.histogram_channels(xs, 2, 2, 3, lo, scale, bins, 3, true, ga);
    g.check(na == 2 && std::memcmp(ga, want_abs, sizeof want_abs) == 0,
            strf("|x|: nans=%zu counts %u %u %u | %u %u %u, expected nans=2 counts 1 2 2 | 0 5 0", na, ga[0], ga[1],
                 ga[2], ga[3], ga[4], ga[5]));
  }
  {
    Group g("scalar", "known_histogram");
    const float nan = bitsf(0x7fc00000u), snan = bitsf(0xff800001u);
    // lo = 0, scale = 1, 4 bins: [0,1) [1,2) [2,3) [3,+Inf) with everything below 0 in bin 0.
    const float xs[] = {-1.0f, -0.0f, 0.0f, 0.999f, 1.0f, 2.5f, 3.0f, 4.0f, 1e30f, -kInf, kInf, nan, snan, 0x1p-149f};
    const uint32_t want[] = {6, 1, 1, 4};  // -1 -0 0 .999 -Inf denorm | 1 | 2.5 | 3 4 1e30 +Inf
    uint32_t got[4] = {0, 0, 0, 0};
    const size_t nans = s.histogram(xs, sizeof xs / sizeof xs[0], 0.0f, 1.0f, 4, false, got);
    g.check(nans == 2 && std::memcmp(got, want, sizeof want) == 0,
            strf("x: nans=%zu counts %u %u %u %u, expected nans=2 counts 6 1 1 4", nans, got[0], got[1], got[2], got[3]));
    const uint32_t want_abs[] = {4, 2, 1, 5};  // -0 0 .999 denorm | -1 1 | 2.5 | 3 4 1e30 -Inf +Inf
    uint32_t ga[4] = {0, 0, 0, 0};
    const size_t na = s.histogram(xs, sizeof xs / sizeof xs[0], 0.0f, 1.0f, 4, true, ga);
    g.check(na == 2 && std::memcmp(ga, want_abs, sizeof want_abs) == 0,
            strf("|x|: nans=%zu counts %u %u %u %u, expected nans=2 counts 4 2 1 5", na, ga[0], ga[1], ga[2], ga[3]));
    // The bin is computed in float32: (x - lo) rounds before the product.
    g.check(qk::ref::hist_bin(1.0f, 0x1p-24f, 4.0f, 8) == 3, "hist_bin(1, 2^-24, 4, 8): 1 - 2^-24 is exact, bin 3");
    g.check(qk::ref::hist_bin(1.0f, 0x1p-26f, 4.0f, 8) == 4,
            "hist_bin(1, 2^-26, 4, 8): 1 - 2^-26 rounds to 1 in float32, so bin 4 (not 3 as in real arithmetic)");
  }
  {
    Group g("scalar", "known_minmax_channels");
    const float nan = bitsf(0x7fc00000u);
    // [outer 2][channels 3][inner 2]
    const float xs[] = {1, -2, nan, nan, -0.0f, 0.0f, 5, 0.5f, nan, nan, 0.0f, -0.0f};
    float mn[3], mx[3];
    const size_t nans = s.minmax_channels(xs, 2, 3, 2, mn, mx);
    g.check(nans == 4 && mn[0] == -2 && mx[0] == 5 && std::isinf(mn[1]) && mn[1] > 0 && std::isinf(mx[1]) &&
                mx[1] < 0 && fbits(mn[2]) == 0 && fbits(mx[2]) == 0,
            strf("nans=%zu min %s %s %s max %s %s %s", nans, show(mn[0]).c_str(), show(mn[1]).c_str(),
                 show(mn[2]).c_str(), show(mx[0]).c_str(), show(mx[1]).c_str(), show(mx[2]).c_str()));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Threshold searches (qk/search.h): not tiered; the fast searches against their straightforward versions on
// random histograms (dense, sparse, spiky; |x| and x grids), bit for bit.

// A random histogram of n bins: counts (integers) from a few shapes.
std::vector<double> random_counts(Rng& r, size_t n, int shape) {
  std::vector<double> c(n, 0.0);
  const uint32_t total = 50 + r.below(200000);
  for (uint32_t k = 0; k < total; ++k) {
    double u;
    switch (shape) {
      case 0: u = std::fabs(r.unit() + r.unit() + r.unit() - 1.5) / 1.5; break;  // |normal-ish|
      case 1: u = -std::log(1.0 - r.unit() * 0.999) / 7.0; break;              // exponential tail
      case 2: u = r.chance(50) ? 0.0 : r.unit() * r.unit(); break;             // spike at 0 (ReLU)
      case 3: u = r.chance(98) ? r.unit() * 0.3 : 0.5 + r.unit() * 0.5; break;  // outliers
      default: u = r.below(8) / 8.0; break;                                    // a few bins only
    }
    const size_t b = std::min(n - 1, static_cast<size_t>(u * static_cast<double>(n)));
    c[b] += 1;
  }
  c[n - 1] += 1;  // the grid ends at the data's max
  return c;
}

void search_tests() {
  {
    Group g("search", "fdlibm_log");
    // The bits V8's Math.log returns (Node 20) for these inputs.
    const struct {
      double x;
      uint64_t bits;
    } known[] = {{2.0, 0x3fe62e42fefa39efull},    {10.0, 0x40026bb1bbb55516ull},
                 {0.5, 0xbfe62e42fefa39efull},    {1e-310, 0xc0864e69394d9508ull},
                 {3.0, 0x3ff193ea7aad030aull},    {1.0000001, 0x3e7ad7f2847b6492ull},
                 {1.7976931348623157e308, 0x40862e42fefa39efull}};
    for (const auto& k : known) {
      const double y = qk::fdlibm_log(k.x);
      uint64_t b;
      std::memcpy(&b, &y, 8);
      g.check(b == k.bits, strf("log(%.17g) = %.17g (0x%016" PRIx64 "), expected 0x%016" PRIx64, k.x, y, b, k.bits));
    }
    g.check(qk::fdlibm_log(1.0) == 0.0 && !std::signbit(qk::fdlibm_log(1.0)), "log(1) = +0");
    g.check(std::isinf(qk::fdlibm_log(0.0)) && qk::fdlibm_log(-0.0) < 0, "log(+-0) = -Inf");
    g.check(std::isnan(qk::fdlibm_log(-1.0)) && std::isnan(qk::fdlibm_log(std::nan(""))), "log(-1), log(NaN) = NaN");
    g.check(qk::fdlibm_log(std::numeric_limits<double>::infinity()) == std::numeric_limits<double>::infinity(),
            "log(+Inf) = +Inf");
    Rng r(g_seed);
    for (int k = 0; k < 100000 && !g.failed(); ++k) {  // within 1 ulp of libm's log
      uint64_t u = r.next() >> 2 | 0x0010000000000000ull;
      double x;
      std::memcpy(&x, &u, 8);
      const double a = qk::fdlibm_log(x), b = std::log(x);
      g.check(std::fabs(a - b) <= std::fabs(b) * 0x1p-52 + 0x1p-1074, strf("log(%.17g): fdlibm %.17g libm %.17g", x, a, b));
    }
  }
  Rng r(g_seed ^ 0x5ea4c4ull);
  {
    Group g("search", "entropy_memo");
    const size_t sizes[] = {127, 128, 129, 200, 512, 2047, 2048};
    const uint32_t levels[] = {128, 256, 64, 8, 100, 127, 1};
    for (size_t n : sizes)
      for (uint32_t L : levels)
        for (int shape = 0; shape < 5 && !g.failed(); ++shape) {
          if (L == 1 && n > 512) continue;
          const std::vector<double> c = random_counts(r, n, shape);
          std::vector<double> d1(n > 127 ? n - 127 : 1, -1.0), d2(d1.size(), -2.0);
          const int64_t i1 = qk::entropy_search(c.data(), n, L, d1.data(), true);
          const int64_t i2 = qk::entropy_search(c.data(), n, L, d2.data(), false);
          const std::string at = strf("n=%zu levels=%u shape=%d", n, L, shape);
          if (n < 128) {
            g.check(i1 == -1 && i2 == -1, at + ": fewer than 128 bins must give -1");
            continue;
          }
          g.check(i1 == i2 && i1 >= 128 && i1 <= static_cast<int64_t>(n),
                  strf("%s: memoized pick %" PRId64 ", direct %" PRId64, at.c_str(), i1, i2));
          for (size_t k = 0; k < d1.size(); ++k)
            if (std::memcmp(&d1[k], &d2[k], 8) != 0) {
              g.fail(strf("%s: D(%zu) memoized %.17g, direct %.17g", at.c_str(), k + 128, d1[k], d2[k]));
              break;
            }
        }
  }
  {
    // Out of memory: the searches report it (entropy: kSearchOutOfMemory; mse: ok false) instead of aborting, at
    // every limit below their arrays; a limit that only refuses the entropy memo table gives the same pick and
    // divergences (computed directly); once lifted, the same results as before.
    Group g("search", "search_out_of_memory");
    const size_t n = 2048;
    const std::vector<double> c = random_counts(r, n, 1);
    std::vector<double> d0(n - 127), d1(n - 127);
    const int64_t want = qk::entropy_search(c.data(), n, 128, d0.data());
    const qk::MseQuantizer q{false, 0, 255, 128};
    const qk::MseHistogram h{c.data(), n, 0.0, 0.0, 1.0 / 64, 32.0, 0.0, 32.0};
    const qk::MseResult mwant = qk::mse_search(h, q);
    g.check(want >= 128 && mwant.ok, "searches without a limit");
    for (size_t limit : {size_t{64}, size_t{1024}, size_t{8192}, size_t{16400}}) {
      AllocLimit cap(limit);  // below the n + 1 float64 prefix sums (16392 bytes) and the bins (16384)
      g.check(qk::entropy_search(c.data(), n, 128, d1.data()) == qk::kSearchOutOfMemory || limit >= 16392,
              strf("entropy_search under a %zu-byte limit must report out of memory", limit));
      const qk::MseResult mr = qk::mse_search(h, q);
      const qk::MseResult me = qk::mse_search_exhaustive(h, q, nullptr);
      g.check((!mr.ok && !me.ok) || limit >= 16392, strf("mse_search under a %zu-byte limit must report out of memory", limit));
      std::vector<double> lb(qk::mse_candidates(h));
      g.check(!qk::mse_lower_bounds(h, q, lb.data()) || limit >= 16392,
              strf("mse_lower_bounds under a %zu-byte limit must report out of memory", limit));
      if (limit >= 16392) {  // the prefix sums fit, the memo table (n + 1) * 18 float64 does not
        const int64_t got = qk::entropy_search(c.data(), n, 128, d1.data());
        g.check(got == want && std::memcmp(d0.data(), d1.data(), d0.size() * 8) == 0,
                strf("entropy_search without its memo table: pick %" PRId64 ", expected %" PRId64, got, want));
        g.check(mr.ok && mr.candidate == mwant.candidate, "mse_search with its arrays allowed");
      }
    }
    g.check(qk::entropy_search(c.data(), n, 128, d1.data()) == want && qk::mse_search(h, q).candidate == mwant.candidate,
            "the searches after the limit is lifted");
  }
  {
    Group g("search", "mse_bound");
    const qk::MseQuantizer quants[] = {{true, -128, 127, 0}, {false, 0, 255, 128}, {false, -128, 127, 0},
                                       {true, -8, 7, 0},     {true, 0, 255, 128}, {false, -64, 63, 0},
                                       {true, 0, 15, 7}};
    size_t exact = 0, searches = 0;
    double tight_sum = 0;
    for (int trial = 0; trial < 240 && !g.failed(); ++trial) {
      const size_t n = trial % 8 == 0 ? 2048 : 128 + r.below(700);
      const std::vector<double> c = random_counts(r, n, trial % 5);
      const qk::MseQuantizer& q = quants[r.below(7)];
      qk::MseHistogram h{c.data(), n, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
      if (q.symmetric || r.chance(30)) {  // an |x| histogram: anchor 0, data in [0, n w] (or [-n w, n w])
        h.width = std::ldexp(1.0 + r.unit(), static_cast<int>(r.below(40)) - 20) / static_cast<double>(n);
        h.max_abs = static_cast<double>(static_cast<float>(h.width * static_cast<double>(n) * (0.999 + 0.001 * r.unit())));
        h.min = r.chance(50) ? -h.max_abs : 0.0;
        h.max = h.max_abs;
      } else {  // an x histogram: anchored at the data's min, possibly far from 0, possibly grown (first != 0)
        const double span = std::ldexp(1.0 + r.unit(), static_cast<int>(r.below(20)) - 10);
        const double lo = (r.unit() * 2.0 - 1.0) * span * (r.chance(20) ? 30.0 : 1.0);
        h.width = span / static_cast<double>(n);
        h.first = r.chance(30) ? -static_cast<double>(r.below(8)) : 0.0;
        h.anchor = lo - h.first * h.width;
        h.min = static_cast<double>(static_cast<float>(lo));
        h.max = static_cast<double>(static_cast<float>(lo + span));
        h.max_abs = std::max(-h.min, h.max);
        if (qk::mse_candidates(h) > 40000) continue;
      }
      const qk::MseResult fast = qk::mse_search(h, q);
      std::vector<double> costs(qk::mse_candidates(h));
      const qk::MseResult all = qk::mse_search_exhaustive(h, q, costs.data());
      exact += fast.exact;
      ++searches;
      const std::string at = strf("trial %d n=%zu anchor=%.9g first=%g width=%.9g min=%.9g max=%.9g q=[%d,%d]%s", trial,
                                  n, h.anchor, h.first, h.width, h.min, h.max, q.qmin, q.qmax, q.symmetric ? " sym" : "");
      g.check(fast.candidate == all.candidate && std::memcmp(&fast.threshold, &all.threshold, 8) == 0,
              strf("%s: fast pick %" PRId64 " (%.9g), exhaustive %" PRId64 " (%.9g)", at.c_str(), fast.candidate,
                   fast.threshold, all.candidate, all.threshold));
      for (size_t k = 0; k < costs.size() && all.candidate >= 0; ++k)
        if (k < static_cast<size_t>(all.candidate) ? !(costs[k] > costs[all.candidate]) : costs[k] < costs[all.candidate]) {
          g.fail(at + strf(": candidate %zu costs %.17g against the pick's %.17g", k, costs[k], costs[all.candidate]));
          break;
        }
      // The bound the search prunes with never exceeds the exact cost, and is tight (within 1e-5) for most
      // candidates (else the search would compute many exact costs).
      std::vector<double> lb(costs.size());
      if (!qk::mse_lower_bounds(h, q, lb.data())) {
        g.fail(at + ": mse_lower_bounds reported out of memory without a limit");
        break;
      }
      size_t tight = 0;
      for (size_t k = 0; k < costs.size(); ++k) {
        if (!(lb[k] <= costs[k])) {
          g.fail(at + strf(": candidate %zu bound %.17g above its exact cost %.17g", k, lb[k], costs[k]));
          break;
        }
        if (lb[k] >= costs[k] * (1 - 1e-5)) ++tight;
      }
      tight_sum += static_cast<double>(tight) / static_cast<double>(costs.size());
    }
    std::printf("# mse search: %.1f exact costs per search on average, bounds within 1e-5 of the cost for %.0f%% of "
                "the candidates (%zu searches)\n",
                searches ? static_cast<double>(exact) / static_cast<double>(searches) : 0.0,
                searches ? 100 * tight_sum / static_cast<double>(searches) : 0.0, searches);
    g.check(searches > 200 && tight_sum > 0.5 * static_cast<double>(searches), "the bounds are mostly tight");
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scalar known answers (hand-computed; these pin the reference itself)

void known_answers(const Kernels& s) {
  {
    Group g("scalar", "known_f32_to_f16");
    const struct {
      uint32_t x;
      uint16_t h;
    } cases[] = {
        {fbits(65520.0f), 0x7c00},  {fbits(65519.99f), 0x7bff}, {fbits(65504.0f), 0x7bff},
        {fbits(1.0f), 0x3c00},      {fbits(-2.0f), 0xc000},     {fbits(0.1f), 0x2e66},
        {fbits(1.0f / 3.0f), 0x3555}, {fbits(0x1p-24f), 0x0001}, {fbits(0x1p-25f), 0x0000},
        {fbits(0x3p-26f), 0x0001},  {fbits(0x1.8p-24f), 0x0002}, {fbits(0x1.4p-23f), 0x0002},
        {fbits(0x1p-14f), 0x0400},  {fbits(0x1.ff8p-15f), 0x03ff}, {fbits(0x1.ffcp-15f), 0x0400},
        {fbits(0x1.ff4p-15f), 0x03fe}, {fbits(0x1.ffep-15f), 0x0400},
        {fbits(-0x1p-25f), 0x8000}, {fbits(1.0f + 0x1p-11f), 0x3c00}, {fbits(1.0f + 0x3p-11f), 0x3c02},
        {fbits(0.0f), 0x0000},      {fbits(-0.0f), 0x8000},     {fbits(kDenormMin), 0x0000},
        {fbits(kInf), 0x7c00},      {fbits(-kInf), 0xfc00},     {fbits(kMax), 0x7c00},
        {0x7fc00000u, 0x7e00},      {0xffc00000u, 0xfe00},      {0x7f800001u, 0x7e00},
        {0xffa00000u, 0xff00},      {0x7fffffffu, 0x7fff},      {0x7f802000u, 0x7e01},
    };
    for (const auto& c : cases) {
      uint16_t h = 0;
      s.f32_to_f16(reinterpret_cast<const float*>(&c.x), &h, 1);
      g.check(h == c.h, strf("x=%s expected 0x%04x got 0x%04x", show(bitsf(c.x)).c_str(), c.h, h));
    }
  }
  {
    Group g("scalar", "known_f16_to_f32");
    const struct {
      uint16_t h;
      uint32_t x;
    } cases[] = {
        {0x3c00, fbits(1.0f)},     {0xc000, fbits(-2.0f)},     {0x0001, fbits(0x1p-24f)},
        {0x03ff, fbits(0x1.ff8p-15f)}, {0x0400, fbits(0x1p-14f)}, {0x7bff, fbits(65504.0f)},
        {0x8000, 0x80000000u},     {0x0000, 0x00000000u},      {0x7c00, 0x7f800000u},
        {0xfc00, 0xff800000u},     {0x7e00, 0x7fc00000u},      {0x7c01, 0x7fc02000u},
        {0xfd00, 0xffe00000u},     {0x7fff, 0x7fffe000u},      {0x8001, fbits(-0x1p-24f)},
    };
    for (const auto& c : cases) {
      float x = 0;
      s.f16_to_f32(&c.h, &x, 1);
      g.check(fbits(x) == c.x, strf("h=0x%04x expected 0x%08" PRIx32 " got 0x%08" PRIx32, c.h, c.x, fbits(x)));
    }
  }
  {
    Group g("scalar", "known_bf16");
    const struct {
      uint32_t x;
      uint16_t h;
    } cases[] = {
        {0x3f808000u, 0x3f80}, {0x3f818000u, 0x3f82}, {0x3f808001u, 0x3f81}, {0x3f807fffu, 0x3f80},
        {0x3f800000u, 0x3f80}, {0x7f7fffffu, 0x7f80}, {0xff7fffffu, 0xff80}, {0x7f800000u, 0x7f80},
        {0x7f800001u, 0x7fc0}, {0xff800001u, 0xffc0}, {0x7fc00000u, 0x7fc0}, {0x7fff0000u, 0x7fff},
        {0x00000001u, 0x0000}, {0x00008000u, 0x0000}, {0x00018000u, 0x0002}, {0x80000000u, 0x8000},
        {0x807fffffu, 0x8080},
    };
    for (const auto& c : cases) {
      uint16_t h = 0;
      s.f32_to_bf16(reinterpret_cast<const float*>(&c.x), &h, 1);
      g.check(h == c.h, strf("x=0x%08" PRIx32 " expected 0x%04x got 0x%04x", c.x, c.h, h));
    }
    const uint16_t hs[] = {0x3f80, 0x7f81, 0xffc1, 0x0001};
    const uint32_t xs[] = {0x3f800000u, 0x7f810000u, 0xffc10000u, 0x00010000u};
    float out[4];
    s.bf16_to_f32(hs, out, 4);
    for (int i = 0; i < 4; ++i)
      g.check(fbits(out[i]) == xs[i],
              strf("bf16_to_f32 h=0x%04x expected 0x%08" PRIx32 " got 0x%08" PRIx32, hs[i], xs[i], fbits(out[i])));
  }
  {
    Group g("scalar", "known_quantize");
    const struct {
      float x, inv;
      int32_t zp, qmin, qmax, q;
    } s8[] = {
        {0.5f, 1, 0, -128, 127, 0},      {1.5f, 1, 0, -128, 127, 2},     {-2.5f, 1, 0, -128, 127, -2},
        {2.5f, 1, 0, -128, 127, 2},      {-0.5f, 1, 0, -128, 127, 0},    {-1.5f, 1, 0, -128, 127, -2},
        {kInf, 1, 0, -128, 127, 127},    {-kInf, 1, 0, -128, 127, -128}, {bitsf(0x7fc00000u), 1, 3, -128, 127, 3},
        {bitsf(0xff800001u), 1, -7, -128, 127, -7}, {kInf, 0, 4, -128, 127, 4}, {1000, 1, 0, -128, 127, 127},
        {127.5f, 1, 0, -128, 127, 127},  {-128.5f, 1, 0, -128, 127, -128}, {0.4f, 1, 10, -128, 127, 10},
        {117.5f, 1, 10, -128, 127, 127}, {7.5f, 1, 0, -8, 7, 7},         {-8.5f, 1, 0, -8, 7, -8},
        {3.0f, 0.5f, -3, -8, 7, -1},     {1e30f, 1e30f, 0, -128, 127, 127}, {2.6f, 1, 0, -128, 127, 3},
        {-2.6f, 1, 0, -128, 127, -3},    {0.75f, 2, 0, -128, 127, 2},    {1.25f, 2, 0, -128, 127, 2},
    };
    for (const auto& c : s8) {
      int8_t q = 0x55;
      s.quantize_s8(&c.x, &q, 1, c.inv, c.zp, c.qmin, c.qmax);
      g.check(q == c.q, strf("s8 x=%s %s expected %d got %d", show(c.x).c_str(),
                             show_params(c.inv, c.zp, c.qmin, c.qmax).c_str(), c.q, q));
    }
    const struct {
      float x, inv;
      int32_t zp, qmin, qmax, q;
    } u8[] = {
        {-1000, 1, 128, 0, 255, 0},  {1.5f, 1, 128, 0, 255, 130}, {bitsf(0x7fc00000u), 1, 128, 0, 255, 128},
        {kInf, 1, 128, 0, 255, 255}, {-kInf, 1, 128, 0, 255, 0},  {0.5f, 1, 0, 0, 255, 0},
        {127.5f, 1, 0, 0, 127, 127}, {63.5f, 1, 64, 0, 127, 127}, {-64.5f, 1, 64, 0, 127, 0},
        {254.5f, 1, 0, 0, 255, 254}, {255.5f, 1, 0, 0, 255, 255}, {-0.5f, 1, 0, 0, 255, 0},
    };
    for (const auto& c : u8) {
      uint8_t q = 0x55;
      s.quantize_u8(&c.x, &q, 1, c.inv, c.zp, c.qmin, c.qmax);
      g.check(q == c.q, strf("u8 x=%s %s expected %d got %d", show(c.x).c_str(),
                             show_params(c.inv, c.zp, c.qmin, c.qmax).c_str(), c.q, q));
    }
    // The vec forms agree with the same answers element by element.
    const float xs[] = {0.5f, 1.5f, -2.5f, bitsf(0x7fc00000u), kInf, -kInf};
    const float inv[] = {1, 1, 1, 1, 1, 1};
    const int32_t zp[] = {0, 0, 0, 5, 0, 1};
    const int8_t want[] = {0, 2, -2, 5, 7, -8};
    int8_t q[6];
    s.quantize_s8_vec(xs, q, 6, inv, zp, -8, 7);
    for (int i = 0; i < 6; ++i) g.check(q[i] == want[i], strf("s8_vec index %d expected %d got %d", i, want[i], q[i]));
  }
  {
    Group g("scalar", "known_minmax");
    const float nan = bitsf(0x7fc00000u), snan = bitsf(0xff800001u);
    const struct {
      std::vector<float> x;
      size_t nans;
      uint32_t mn, mx;
    } cases[] = {
        {{}, 0, fbits(kInf), fbits(-kInf)},
        {{nan}, 1, fbits(kInf), fbits(-kInf)},
        {{1.0f, nan, -2.0f, 0.0f}, 1, fbits(-2.0f), fbits(1.0f)},
        {{-0.0f, 0.0f}, 0, 0u, 0u},
        {{-0.0f}, 0, 0u, 0u},
        {{snan, -kInf, 3.0f, snan}, 2, fbits(-kInf), fbits(3.0f)},
        {{kDenormMin, -kDenormMin}, 0, fbits(-kDenormMin), fbits(kDenormMin)},
    };
    for (const auto& c : cases) {
      float mn = 0, mx = 0;
      const size_t nans = s.minmax(c.x.data(), c.x.size(), &mn, &mx);
      g.check(nans == c.nans && fbits(mn) == c.mn && fbits(mx) == c.mx,
              strf("n=%zu expected nans=%zu min=0x%08" PRIx32 " max=0x%08" PRIx32 " got nans=%zu min=%s max=%s",
                   c.x.size(), c.nans, c.mn, c.mx, nans, show(mn).c_str(), show(mx).c_str()));
    }
  }
  {
    Group g("scalar", "known_dequantize");
    const int8_t qs[] = {-128, 127, -1, 0};
    float y[4];
    s.dequantize_s8(qs, y, 4, 0.5f, 0);
    const uint32_t ws[] = {fbits(-64.0f), fbits(63.5f), fbits(-0.5f), 0x00000000u};
    for (int i = 0; i < 4; ++i)
      g.check(fbits(y[i]) == ws[i], strf("s8 q=%d expected 0x%08" PRIx32 " got %s", qs[i], ws[i], show(y[i]).c_str()));
    s.dequantize_s8(qs + 2, y, 1, -1.0f, -1);  // (-1 - -1) * -1 = -0
    g.check(fbits(y[0]) == 0x80000000u, "s8 q=-1 zp=-1 scale=-1 expected -0 got " + show(y[0]));
    const uint8_t qu[] = {255, 0, 128};
    s.dequantize_u8(qu, y, 3, 0.25f, 128);
    const uint32_t wu[] = {fbits(31.75f), fbits(-32.0f), 0x00000000u};
    for (int i = 0; i < 3; ++i)
      g.check(fbits(y[i]) == wu[i], strf("u8 q=%u expected 0x%08" PRIx32 " got %s", qu[i], wu[i], show(y[i]).c_str()));
    const float sc[] = {0.5f, 2.0f, kInf};
    const int32_t zs[] = {1, -3, 128};
    s.dequantize_u8_vec(qu, y, 3, sc, zs);
    const uint32_t wv[] = {fbits(127.0f), fbits(6.0f), 0};  // inf * 0 -> NaN below
    g.check(fbits(y[0]) == wv[0] && fbits(y[1]) == wv[1] && std::isnan(y[2]),
            strf("u8_vec got %s %s %s", show(y[0]).c_str(), show(y[1]).c_str(), show(y[2]).c_str()));
    // 16777217 is not a float: float(-16777217) rounds to even (-16777216), then * 1.
    const int8_t q0 = 0;
    s.dequantize_s8(&q0, y, 1, 1.0f, 16777217);
    g.check(fbits(y[0]) == fbits(-16777216.0f), "s8 q=0 zp=16777217 expected -16777216 got " + show(y[0]));
  }
}

// ---------------------------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------------------------
// Fake quantization (qk/fakequant.h): forward with mask, straight-through backward, learnable (LSQ) gradients and
// their sums. Outputs bit for bit; a NaN gradient-scale / zero-point term or sum only has to be NaN (its payload
// is unspecified), every other term and sum bit for bit.

struct FqParams {
  float scale;
  int32_t zp, qmin, qmax;
};
const FqParams kFqParams[] = {
    {0.02f, 0, -128, 127},  {1.0f, -128, -128, 127},  {0.5f, 127, -128, 127},       {1.0f / 3.0f, 3, -128, 127},
    {0.1f, 0, -8, 7},       {0.0173f, 7, 0, 255},     {7.5f, 255, 0, 255},          {1e-3f, 64, 0, 127},
    {1e-30f, -1, -2, 1},    {3e38f, 0, -128, 127},    {0x1p-20f, 5, -8388608, 8388608},
    {1.0f, -16777216, -16777216, 0}, {0.37f, 0, 0, 1},
};
const float kGradFactors[] = {1.0f, 0.37f, 0.0028f, -2.0f, 0.0f};

bool same_or_both_nan(float a, float b) { return fbits(a) == fbits(b) || (std::isnan(a) && std::isnan(b)); }
bool same_or_both_nan(double a, double b) {
  uint64_t ua, ub;
  std::memcpy(&ua, &a, 8);
  std::memcpy(&ub, &b, 8);
  return ua == ub || (std::isnan(a) && std::isnan(b));
}
std::string show(double v) {
  uint64_t u;
  std::memcpy(&u, &v, 8);
  return strf("0x%016" PRIx64 " (%.17g)", u, v);
}

// Compares float term arrays allowing NaN == NaN; returns false (after failing g) on a mismatch.
template <typename D>
bool compare_terms(Group& g, const char* tier, const std::string& where, const char* what, const Out<float>& want,
                   const Out<float>& got, D describe) {
  for (const Out<float>* o : {&want, &got}) {
    const std::string s = o->stray_write();
    if (!s.empty()) {
      g.fail(where + ": " + what + (o == &want ? " scalar " : " ") + s);
      return false;
    }
  }
  for (size_t i = 0; i < want.n; ++i)
    if (!same_or_both_nan(want.at(i), got.at(i))) {
      g.fail(strf("%s %s index=%zu: %s scalar=%s %s=%s", where.c_str(), what, i, describe(i).c_str(),
                  show(want.at(i)).c_str(), tier, show(got.at(i)).c_str()));
      return false;
    }
  return true;
}

// Forward input values for one parameter set (and, mode "grad", inputs whose fma(x, inv, zp) lands near ties).
float fq_value(Rng& r, const char* mode, const FqParams& p, const std::vector<float>& specials) {
  const QParams q{1.0f / p.scale, p.zp, p.qmin, p.qmax};
  return quant_value(r, mode, q, specials);
}

float grad_value(Rng& r, const std::vector<float>& specials, bool special) {
  if (special && r.chance(10)) return specials[r.below(static_cast<uint32_t>(specials.size()))];
  return r.uniform(-4.0f, 4.0f);
}

void test_fake_quant(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "fake_quant");
  if (!k.fake_quant) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  for (const FqParams& p : kFqParams) {
    const float inv = 1.0f / p.scale;
    for (const char* mode : kQuantModes) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n);
          for (float& x : xs) x = fq_value(r, mode, p, specials);
          In<float> x(l.in_off, xs);
          Out<float> wy(l.out_off, n), gy(l.out_off, n);
          Out<uint8_t> wm(l.par_off, n), gm(l.par_off, n);
          ref.fake_quant(x.data(), wy.data(), wm.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax);
          k.fake_quant(x.data(), gy.data(), gm.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax);
          auto desc = [&](size_t i) {
            return "x=" + show(xs[i]) + strf(" scale=%s zero_point=%d q=[%d,%d]", show(p.scale).c_str(), p.zp,
                                             p.qmin, p.qmax);
          };
          if (!compare(g, tier, where(n, l, mode) + " y", wy, gy, desc) ||
              !compare(g, tier, where(n, l, mode) + " mask", wm, gm, desc))
            return;
          // In place (y == x) gives the same output.
          if (n > 0 && l.in_off == 1) {
            std::vector<float> inplace(xs);
            std::vector<uint8_t> m(n);
            k.fake_quant(inplace.data(), inplace.data(), m.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax);
            if (std::memcmp(inplace.data(), wy.data(), n * 4) != 0 || std::memcmp(m.data(), wm.data(), n) != 0)
              return g.fail(where(n, l, mode) + ": in-place (y == x) output differs");
          }
        }
      }
    }
  }
}

void test_fake_quant_vec(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "fake_quant_vec");
  if (!k.fake_quant_vec) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  const int32_t ranges[][2] = {{-128, 127}, {0, 255}, {-8, 7}, {-8388608, 8388608}};
  for (const auto& range : ranges) {
    for (const char* mode : kQuantModes) {
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n), sc(n), inv(n);
          std::vector<int32_t> zp(n);
          for (size_t i = 0; i < n; ++i) {
            const FqParams& base = kFqParams[r.below(sizeof kFqParams / sizeof kFqParams[0])];
            sc[i] = base.scale;
            inv[i] = 1.0f / sc[i];
            const uint32_t z = r.below(4);
            zp[i] = z == 0 ? range[0] : z == 1 ? range[1] : r.range(range[0], range[1]);
            xs[i] = fq_value(r, mode, {sc[i], zp[i], range[0], range[1]}, specials);
          }
          In<float> x(l.in_off, xs), s(l.par_off, sc), iv((l.par_off + 1) % 4, inv);
          In<int32_t> z((l.par_off + 2) % 4, zp);
          Out<float> wy(l.out_off, n), gy(l.out_off, n);
          Out<uint8_t> wm(l.par_off, n), gm(l.par_off, n);
          ref.fake_quant_vec(x.data(), wy.data(), wm.data(), n, s.data(), iv.data(), z.data(), range[0], range[1]);
          k.fake_quant_vec(x.data(), gy.data(), gm.data(), n, s.data(), iv.data(), z.data(), range[0], range[1]);
          auto desc = [&](size_t i) {
            return "x=" + show(xs[i]) + strf(" scale=%s zero_point=%d q=[%d,%d]", show(sc[i]).c_str(), zp[i],
                                             range[0], range[1]);
          };
          if (!compare(g, tier, where(n, l, mode) + " y", wy, gy, desc) ||
              !compare(g, tier, where(n, l, mode) + " mask", wm, gm, desc))
            return;
        }
      }
    }
  }
}

void test_fake_quant_backward(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "fake_quant_backward");
  if (!k.fake_quant_backward) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  for (int round = 0; round < 4; ++round) {
    for (size_t n : kSizes) {
      for (const Layout& l : kLayouts) {
        std::vector<float> gs(n);
        std::vector<uint8_t> ms(n);
        for (size_t i = 0; i < n; ++i) {
          gs[i] = round == 3 ? bitsf(r.u32()) : grad_value(r, specials, round > 0);
          const uint32_t m = r.below(8);
          ms[i] = static_cast<uint8_t>(m < 3 ? 0 : m < 6 ? 1 : round == 2 ? r.u32() : 1);
        }
        In<float> gi(l.in_off, gs);
        In<uint8_t> mi(l.par_off, ms);
        Out<float> want(l.out_off, n), got(l.out_off, n);
        ref.fake_quant_backward(gi.data(), mi.data(), want.data(), n);
        k.fake_quant_backward(gi.data(), mi.data(), got.data(), n);
        if (!compare(g, tier, where(n, l, round == 3 ? "bits" : "random"), want, got,
                     [&](size_t i) { return "g=" + show(gs[i]) + " mask=" + show(ms[i]); }))
          return;
      }
    }
  }
}

void test_lsq_grad(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "lsq_grad");
  if (!k.lsq_grad) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  for (const FqParams& p : kFqParams) {
    const float inv = 1.0f / p.scale;
    for (const char* mode : kQuantModes) {
      const float gf = kGradFactors[r.below(sizeof kGradFactors / sizeof kGradFactors[0])];
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n), gs(n);
          for (size_t i = 0; i < n; ++i) {
            xs[i] = fq_value(r, mode, p, specials);
            gs[i] = std::strcmp(mode, "bits") == 0 ? bitsf(r.u32()) : grad_value(r, specials, mode[0] == 's');
          }
          In<float> x(l.in_off, xs), gi(l.par_off, gs);
          Out<float> want(l.out_off, n), got(l.out_off, n);
          double ws[2] = {1.0, 1.0}, gsum[2] = {2.0, 2.0};
          ref.lsq_grad(x.data(), gi.data(), want.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax, gf, ws);
          k.lsq_grad(x.data(), gi.data(), got.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax, gf, gsum);
          const std::string w = where(n, l, mode) + strf(" scale=%s zero_point=%d q=[%d,%d] grad_factor=%g",
                                                         show(p.scale).c_str(), p.zp, p.qmin, p.qmax, gf);
          if (!compare(g, tier, w + " dx", want, got,
                       [&](size_t i) { return "x=" + show(xs[i]) + " dy=" + show(gs[i]); }))
            return;
          for (int s = 0; s < 2; ++s)
            if (!same_or_both_nan(ws[s], gsum[s]))
              return g.fail(strf("%s: %s sum scalar=%s %s=%s", w.c_str(), s ? "zero-point" : "scale",
                                 show(ws[s]).c_str(), tier, show(gsum[s]).c_str()));
          // In place (dx == dy) gives the same gradients.
          if (n > 0 && l.in_off == 2) {
            std::vector<float> io(gs);
            double is[2];
            k.lsq_grad(xs.data(), io.data(), io.data(), n, p.scale, inv, p.zp, p.qmin, p.qmax, gf, is);
            if (std::memcmp(io.data(), want.data(), n * 4) != 0 || !same_or_both_nan(is[0], ws[0]) ||
                !same_or_both_nan(is[1], ws[1]))
              return g.fail(w + ": in-place (dx == dy) result differs");
          }
        }
      }
    }
  }
}

void test_lsq_grad_vec(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "lsq_grad_vec");
  if (!k.lsq_grad_vec) return g.fail("slot is null");
  const std::vector<float> specials = special_floats();
  const int32_t ranges[][2] = {{-128, 127}, {0, 255}, {-8, 7}, {-8388608, 8388608}};
  for (const auto& range : ranges) {
    for (const char* mode : kQuantModes) {
      const float gf = kGradFactors[r.below(sizeof kGradFactors / sizeof kGradFactors[0])];
      for (size_t n : kSizes) {
        for (const Layout& l : kLayouts) {
          std::vector<float> xs(n), gs(n), sc(n), inv(n);
          std::vector<int32_t> zp(n);
          for (size_t i = 0; i < n; ++i) {
            sc[i] = kFqParams[r.below(sizeof kFqParams / sizeof kFqParams[0])].scale;
            inv[i] = 1.0f / sc[i];
            const uint32_t z = r.below(4);
            zp[i] = z == 0 ? range[0] : z == 1 ? range[1] : r.range(range[0], range[1]);
            xs[i] = fq_value(r, mode, {sc[i], zp[i], range[0], range[1]}, specials);
            gs[i] = std::strcmp(mode, "bits") == 0 ? bitsf(r.u32()) : grad_value(r, specials, mode[0] == 's');
          }
          In<float> x(l.in_off, xs), gi((l.in_off + 1) % 4, gs), s(l.par_off, sc), iv((l.par_off + 1) % 4, inv);
          In<int32_t> z((l.par_off + 2) % 4, zp);
          Out<float> wdx(l.out_off, n), gdx(l.out_off, n), wds(l.par_off, n), gds(l.par_off, n), wdz(1, n),
              gdz(1, n);
          ref.lsq_grad_vec(x.data(), gi.data(), wdx.data(), wds.data(), wdz.data(), n, s.data(), iv.data(), z.data(),
                           range[0], range[1], gf);
          k.lsq_grad_vec(x.data(), gi.data(), gdx.data(), gds.data(), gdz.data(), n, s.data(), iv.data(), z.data(),
                         range[0], range[1], gf);
          auto desc = [&](size_t i) {
            return "x=" + show(xs[i]) + " dy=" + show(gs[i]) +
                   strf(" scale=%s zero_point=%d q=[%d,%d] grad_factor=%g", show(sc[i]).c_str(), zp[i], range[0],
                        range[1], gf);
          };
          const std::string w = where(n, l, mode);
          if (!compare(g, tier, w + " dx", wdx, gdx, desc) ||
              !compare_terms(g, tier, w, "dscale", wds, gds, desc) || !compare_terms(g, tier, w, "dzp", wdz, gdz, desc))
            return;
        }
      }
    }
  }
}

void test_fakequant(const Kernels& ref, const Kernels& k, Rng& r) {
  test_fake_quant(ref, k, r);
  test_fake_quant_vec(ref, k, r);
  test_fake_quant_backward(ref, k, r);
  test_lsq_grad(ref, k, r);
  test_lsq_grad_vec(ref, k, r);
}

// Hand-computed answers for the scalar fake-quant kernels (PyTorch's values for finite inputs).
void fakequant_known_answers(const Kernels& s) {
  Group g("scalar", "known_fake_quant");
  {
    const float x[] = {0.3f, 2.5f, 3.5f, -0.0f, 200.0f, -200.0f, bitsf(0x7fa00000u), kInf, -kInf, -0.5f, 127.5f};
    const float y_want[] = {0.0f, 2.0f, 4.0f, 0.0f, 127.0f, -128.0f, bitsf(0x7fe00000u), 127.0f, -128.0f, 0.0f, 127.0f};
    const uint8_t m_want[] = {1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0};
    float y[11];
    uint8_t m[11];
    s.fake_quant(x, y, m, 11, 1.0f, 1.0f, 0, -128, 127);
    for (int i = 0; i < 11; ++i)
      g.check(fbits(y[i]) == fbits(y_want[i]) && m[i] == m_want[i],
              strf("fake_quant x=%s: y=%s mask=%u, want y=%s mask=%u", show(x[i]).c_str(), show(y[i]).c_str(), m[i],
                   show(y_want[i]).c_str(), m_want[i]));
    // zero point 3, scale 0.5: x = 1.25 -> x / 0.5 = 2.5 -> 2 (even) + 3 = 5 -> (5 - 3) * 0.5 = 1
    float y1;
    uint8_t m1;
    const float x1 = 1.25f;
    s.fake_quant(&x1, &y1, &m1, 1, 0.5f, 2.0f, 3, 0, 15);
    g.check(y1 == 1.0f && m1 == 1, strf("fake_quant 1.25 scale 0.5 zp 3: y=%s mask=%u", show(y1).c_str(), m1));
  }
  {
    const float gr[] = {-1.0f, bitsf(0x7fc00000u), kInf, 2.0f, -3.0f};
    const uint8_t m[] = {0, 0, 0, 1, 7};
    float o[5];
    s.fake_quant_backward(gr, m, o, 5);
    g.check(fbits(o[0]) == fbits(-0.0f) && std::isnan(o[1]) && std::isnan(o[2]) && o[3] == 2.0f && o[4] == -3.0f,
            strf("fake_quant_backward got %s %s %s %s %s", show(o[0]).c_str(), show(o[1]).c_str(), show(o[2]).c_str(),
                 show(o[3]).c_str(), show(o[4]).c_str()));
  }
  {
    // PyTorch: torch._fake_quantize_learnable_per_tensor_affine(x, [1.0], [0.0], -128, 127, 1.0), dY = 1.
    const float x[] = {0.3f, -0.0f, 2.5f, 3.5f, 1e30f, -1e30f};
    const float dy[] = {1, 1, 1, 1, 1, 1};
    float dx[6];
    double sums[2];
    s.lsq_grad(x, dy, dx, 6, 1.0f, 1.0f, 0, -128, 127, 1.0f, sums);
    const double want_s = static_cast<double>(-0.3f) - 0.5 + 0.5 + 127.0 - 128.0;
    g.check(dx[0] == 1 && dx[1] == 1 && dx[2] == 1 && dx[3] == 1 && dx[4] == 0 && dx[5] == 0,
            "lsq_grad dx: want 1 1 1 1 0 0");
    g.check(std::fabs(sums[0] - want_s) < 1e-12 && sums[1] == -2.0,
            strf("lsq_grad sums %s %s, want %.17g -2", show(sums[0]).c_str(), show(sums[1]).c_str(), want_s));
    // The fused zp + x * inv_scale: x = -0x1.0cccccp+0, scale 0.1f, zp 3: x * inv rounded first gives
    // nearbyint(3 + -10.5) = -8 (below quantMin -7); fused, -7.4999995 rounds to -7 (inside).
    const float xt = -0x1.0cccccp+0f, sc = 0.1f, iv = 1.0f / 0.1f, one = 1.0f;
    const int32_t z3 = 3;
    float dxt, dst, dzt;
    s.lsq_grad_vec(&xt, &one, &dxt, &dst, &dzt, 1, &sc, &iv, &z3, -7, 127, 1.0f);
    g.check(dxt == 1.0f && dzt == 0.0f, strf("lsq_grad_vec fused rounding: dx=%s dzp=%s, want 1 and 0",
                                             show(dxt).c_str(), show(dzt).c_str()));
  }
}

// ---------------------------------------------------------------------------------------------------------------

std::vector<std::string> split_list(const char* s) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = s;; ++p) {
    if (*p == ',' || *p == '\0') {
      const size_t b = cur.find_first_not_of(' '), e = cur.find_last_not_of(' ');
      if (b != std::string::npos) out.push_back(cur.substr(b, e - b + 1));
      cur.clear();
      if (*p == '\0') break;
    } else {
      cur += *p;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Large outputs (qk/stream.h): the x86 tiers write outputs of 8 MiB and more with streaming stores after a head
// that reaches a 64-byte boundary. One call per kernel at that size, on misaligned buffers, against scalar.

void test_large_outputs(const Kernels& ref, const Kernels& k, Rng& r) {
  const char* tier = qk::isa_name(k.isa);
  Group g(tier, "large_outputs");
  const Layout l = kLayouts[1];
  const size_t n4 = (size_t{8} << 20) / 4 + 37, n2 = (size_t{8} << 20) / 2 + 37;
  std::vector<float> xs(n2);
  for (float& x : xs) x = r.uniform(-4.0f, 4.0f);
  std::vector<uint8_t> bytes(n4);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(r.u32());
  std::vector<uint16_t> halves(n4);
  for (uint16_t& h : halves) h = static_cast<uint16_t>(r.u32() & 0x7bff);  // finite binary16 and bfloat16 values
  auto none = [](size_t) { return std::string(); };
  {
    In<int8_t> q(l.in_off, std::vector<int8_t>(bytes.begin(), bytes.end()));
    Out<float> want(l.out_off, n4), got(l.out_off, n4);
    ref.dequantize_s8(q.data(), want.data(), n4, 0.03f, -3);
    k.dequantize_s8(q.data(), got.data(), n4, 0.03f, -3);
    if (!compare(g, tier, "dequantize_s8 n=" + std::to_string(n4), want, got, none)) return;
  }
  for (auto [name, slot] : {std::pair<const char*, qk::U16ToF32Fn Kernels::*>{"f16_to_f32", &Kernels::f16_to_f32},
                            std::pair<const char*, qk::U16ToF32Fn Kernels::*>{"bf16_to_f32", &Kernels::bf16_to_f32}}) {
    In<uint16_t> h(l.in_off, halves);
    Out<float> want(l.out_off, n4), got(l.out_off, n4);
    (ref.*slot)(h.data(), want.data(), n4);
    (k.*slot)(h.data(), got.data(), n4);
    if (!compare(g, tier, std::string(name) + " n=" + std::to_string(n4), want, got, none)) return;
  }
  for (auto [name, slot] : {std::pair<const char*, qk::F32ToU16Fn Kernels::*>{"f32_to_f16", &Kernels::f32_to_f16},
                            std::pair<const char*, qk::F32ToU16Fn Kernels::*>{"f32_to_bf16", &Kernels::f32_to_bf16}}) {
    In<float> x(l.in_off, xs);
    Out<uint16_t> want(l.out_off, n2), got(l.out_off, n2);
    (ref.*slot)(x.data(), want.data(), n2);
    (k.*slot)(x.data(), got.data(), n2);
    if (!compare(g, tier, std::string(name) + " n=" + std::to_string(n2), want, got, none)) return;
  }
  {
    In<float> x(l.in_off, std::vector<float>(xs.begin(), xs.begin() + n4));
    Out<float> wy(l.out_off, n4), gy(l.out_off, n4), wg(l.out_off, n4), gg(l.out_off, n4);
    Out<uint8_t> wm(l.par_off, n4), gm(l.par_off, n4);
    ref.fake_quant(x.data(), wy.data(), wm.data(), n4, 0.02f, 50.0f, 3, -128, 127);
    k.fake_quant(x.data(), gy.data(), gm.data(), n4, 0.02f, 50.0f, 3, -128, 127);
    if (!compare(g, tier, "fake_quant y n=" + std::to_string(n4), wy, gy, none) ||
        !compare(g, tier, "fake_quant mask n=" + std::to_string(n4), wm, gm, none))
      return;
    ref.fake_quant_backward(x.data(), wm.data(), wg.data(), n4);
    k.fake_quant_backward(x.data(), wm.data(), gg.data(), n4);
    if (!compare(g, tier, "fake_quant_backward n=" + std::to_string(n4), wg, gg, none)) return;
  }
}

void test_tier(const Kernels& ref, const Kernels& k) {
  {
    Group g(qk::isa_name(k.isa), "table");
    g.check(k.quantize_s8 && k.quantize_u8 && k.quantize_s8_vec && k.quantize_u8_vec && k.dequantize_s8 &&
                k.dequantize_u8 && k.dequantize_s8_vec && k.dequantize_u8_vec && k.dequantize_s8_channels &&
                k.dequantize_u8_channels && k.f32_to_f16 && k.f16_to_f32 &&
                k.f32_to_bf16 && k.bf16_to_f32 && k.minmax && k.minmax_channels && k.histogram &&
                k.histogram_channels && k.fake_quant &&
                k.fake_quant_vec && k.fake_quant_backward && k.lsq_grad && k.lsq_grad_vec,
            "a kernel slot is null");
    // Every slot is tested below: the isa tag plus 25 pointer slots (14 element-wise kernels, minmax,
    // minmax_channels, histogram, histogram_channels, 5 fake-quant kernels, gemm, sgemm). A slot added to
    // qk::Kernels changes its size and fails here until it gets a test.
    constexpr size_t kKnown = (sizeof(Isa) + alignof(void*) - 1) / alignof(void*) * alignof(void*) + 25 * sizeof(void*);
    g.check(sizeof(Kernels) == kKnown,
            strf("qk::Kernels is %zu bytes, this test covers %zu: a slot was added or changed; test it in "
                 "native/tests/test_kernels.cc",
                 sizeof(Kernels), kKnown));
  }
  Rng r(g_seed ^ (static_cast<uint64_t>(k.isa) << 40));
  test_quantize<int8_t>(ref, k, "quantize_s8", &Kernels::quantize_s8, kS8Params, sizeof kS8Params / sizeof kS8Params[0],
                        r);
  test_quantize<uint8_t>(ref, k, "quantize_u8", &Kernels::quantize_u8, kU8Params,
                         sizeof kU8Params / sizeof kU8Params[0], r);
  test_quantize_vec<int8_t>(ref, k, "quantize_s8_vec", &Kernels::quantize_s8_vec, r);
  test_quantize_vec<uint8_t>(ref, k, "quantize_u8_vec", &Kernels::quantize_u8_vec, r);
  test_dequantize<int8_t>(ref, k, "dequantize_s8", &Kernels::dequantize_s8, r);
  test_dequantize<uint8_t>(ref, k, "dequantize_u8", &Kernels::dequantize_u8, r);
  test_dequantize_vec<int8_t>(ref, k, "dequantize_s8_vec", &Kernels::dequantize_s8_vec, r);
  test_dequantize_vec<uint8_t>(ref, k, "dequantize_u8_vec", &Kernels::dequantize_u8_vec, r);
  test_dequantize_channels<int8_t>(ref, k, "dequantize_s8_channels", &Kernels::dequantize_s8_channels, r);
  test_dequantize_channels<uint8_t>(ref, k, "dequantize_u8_channels", &Kernels::dequantize_u8_channels, r);
  test_narrow(ref, k, "f32_to_f16", &Kernels::f32_to_f16, false, r);
  test_widen(ref, k, "f16_to_f32", &Kernels::f16_to_f32, r);
  test_large_outputs(ref, k, r);
  test_narrow(ref, k, "f32_to_bf16", &Kernels::f32_to_bf16, true, r);
  test_widen(ref, k, "bf16_to_f32", &Kernels::bf16_to_f32, r);
  test_minmax(ref, k, r);
  test_minmax_channels(ref, k, r);
  test_histogram(ref, k, r);
  test_histogram_channels(ref, k, r);
  test_gemm(k, r);
  test_gemm_long_k(k);
  test_packed_values(ref, k, r);
  if (k.gemm && k.gemm->pack_a == nullptr) {  // again with a staged A copied one k block at a time
    const size_t before = qk::gemm_stage_all_max_bytes();
    qk::set_gemm_stage_all_max_bytes(0);
    test_gemm(k, r);
    qk::set_gemm_stage_all_max_bytes(before);
  }
  if (k.gemm && k.gemm->rows_outer) {  // again with every shape through the row-strip path (int32 output only, where
                                         // the tier has kernel_out)
    const size_t before = qk::gemm_strip_min_bytes();
    qk::set_gemm_strip_min_bytes(0);
    test_gemm(k, r);
    test_oom_gemm(k, r);
    qk::set_gemm_strip_min_bytes(before);
  }
  test_sgemm(k, r);
  test_sgemm_rows(k, r);
  test_oom_gemm(k, r);
  test_oom_sgemm(k, r);
  test_fakequant(ref, k, r);
}

}  // namespace

int main() {
  if (const char* s = std::getenv("QK_TEST_SEED")) g_seed = std::strtoull(s, nullptr, 0);
  // Every multi-threaded call really splits, however small (production waits for about 20 us of work per thread).
  qk::set_min_micros_per_thread(0);
  const qk::CpuInfo& ci = qk::cpu_info();
  std::string avail, feats;
  for (Isa i : qk::available_isas()) avail += std::string(avail.empty() ? "" : ",") + qk::isa_name(i);
  for (const std::string& f : ci.features) feats += (feats.empty() ? "" : " ") + f;
  std::printf("# qkernels native tests: arch %s, tiers %s, seed 0x%" PRIx64 "\n# features: %s\n", ci.arch,
              avail.c_str(), g_seed, feats.c_str());

  const char* sel = std::getenv("QK_TEST_TIERS");
  std::vector<std::string> wanted;
  if (sel && *sel) wanted = split_list(sel);
  auto selected = [&](const char* name) {
    if (wanted.empty()) return true;
    for (const std::string& w : wanted)
      if (w == name) return true;
    return false;
  };
  for (const std::string& w : wanted) {
    Isa isa;
    if (!qk::parse_isa(w.c_str(), &isa)) {
      Group(w, "selected").fail("QK_TEST_TIERS names an unknown tier");
    } else if (!qk::isa_available(isa)) {
      Group(w, "selected").fail("tier listed in QK_TEST_TIERS is not available in this process (tiers: " + avail +
                                ")");
    }
  }
  if (const char* exp = std::getenv("QK_EXPECT_TIERS"); exp && *exp) {
    std::string want;
    for (const std::string& w : split_list(exp)) want += (want.empty() ? "" : ",") + w;
    Group g("detect", "expected_tiers");
    g.check(want == avail, "available tiers are " + avail + ", expected " + want);
  }

  const Kernels* ref = qk::kernels_for(Isa::Scalar);
  if (!ref) {
    Group("scalar", "table").fail("no scalar table");
  } else {
    if (selected("scalar")) {
      known_answers(*ref);
      known_answers_reduce(*ref);
      fakequant_known_answers(*ref);
      search_tests();
      test_oom_helpers();
      Rng r(g_seed ^ 0x00e1);
      test_oom_gemm(*ref, r);  // the reference loops split by rows
      test_oom_sgemm(*ref, r);
    }
    for (Isa isa : qk::available_isas()) {
      if (isa == Isa::Scalar || !selected(qk::isa_name(isa))) continue;
      const Kernels* k = qk::kernels_for(isa);
      if (!k) {
        Group(qk::isa_name(isa), "table").fail("kernels_for returned null");
        continue;
      }
      test_tier(*ref, *k);
    }
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
