// qkernels: a native INT8 GEMM benchmark (no Node): qk::gemm through the shared driver for one tier, packed B,
// int32 output, u8 x s8 with zero points, like `npm run bench`'s gemm-s32 rows; `--mode sgemm`: qk::sgemm on
// float32 operands instead (% of the FMA peak). For kernel tuning, and for machines without Node.js.
//   bench_gemm [--isa NAME] [--threads N] [--mode int32|float32|int8|sgemm] [--unpacked] [--transb] [--aligned]
//              [--aligned-c] [--zb0] [--row-zp] [--col-zp] [--strip-min BYTES] [MxNxK ...]
// --aligned puts A and C on a 64-byte boundary (JavaScript arrays usually are not), --aligned-c only C (what npm run
// bench gives: an alignedArray out, plain inputs); --zb0 makes the weights' zero point 0 (symmetric weights: no row
// sums needed); --row-zp gives each row of A its own zero point and scale (what linearDynamic passes), --col-zp each
// column of B its own zero point; --transb stores B as n x k (the PyTorch Linear weight layout); --strip-min sets the
// output size from which rows_outer tiers write C through row strips (qk::set_gemm_strip_min_bytes).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "qk/dispatch.h"
#include "qk/gemm_driver.h"
#include "qk/peak.h"
#include "qk/sgemm.h"
#include "qk/threads.h"

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median seconds per call over `samples` samples of at least 0.05 s each.
template <typename F>
double time_call(F f, int samples = 7) {
  f();
  double t0 = now();
  int reps = 0;
  do {
    f();
    ++reps;
  } while (now() - t0 < 0.05);
  std::vector<double> s;
  for (int i = 0; i < samples; ++i) {
    t0 = now();
    for (int r = 0; r < reps; ++r) f();
    s.push_back((now() - t0) / reps);
  }
  std::sort(s.begin(), s.end());
  return s[s.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  qk::Isa isa = qk::available_isas().front();
  int threads = 1;
  int mode = 0;
  bool unpacked = false, transb = false, aligned = false, aligned_c = false, zb0 = false, row_zp = false, col_zp = false;
  std::vector<std::string> shapes;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--isa" && i + 1 < argc) {
      if (!qk::parse_isa(argv[++i], &isa) || !qk::isa_available(isa)) {
        std::fprintf(stderr, "tier %s not available\n", argv[i]);
        return 2;
      }
    } else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--mode" && i + 1 < argc) {
      std::string m = argv[++i];
      mode = m == "float32" ? 1 : m == "int8" ? 2 : m == "sgemm" ? 3 : 0;
    } else if (a == "--unpacked") unpacked = true;
    else if (a == "--transb") transb = true;
    else if (a == "--aligned") aligned = aligned_c = true;
    else if (a == "--aligned-c") aligned_c = true;
    else if (a == "--zb0") zb0 = true;
    else if (a == "--row-zp") row_zp = true;
    else if (a == "--col-zp") col_zp = true;
    else if (a == "--strip-min" && i + 1 < argc) qk::set_gemm_strip_min_bytes(std::strtoull(argv[++i], nullptr, 10));
    else shapes.push_back(a);
  }
  if (shapes.empty())
    shapes = {"256x256x256", "512x512x512", "1024x1024x1024", "2048x2048x2048", "1x4096x4096", "16x4096x4096",
              "128x4096x4096", "3136x64x576"};
  const qk::Kernels& k = *qk::kernels_for(isa);
  size_t np = 0;
  std::printf("tier %s, %d thread(s)\n", qk::isa_name(isa), threads);
  const qk::PeakBench* peaks = nullptr;
#if defined(__x86_64__)
  if (isa == qk::Isa::Avx512) peaks = qk::peaks_avx512(&np);
  if (isa == qk::Isa::Amx) peaks = mode == 3 ? qk::peaks_avx512(&np) : qk::peaks_amx(&np);  // amx's sgemm is avx512's
  if (isa == qk::Isa::Avx2) peaks = qk::peaks_avx2(&np);
#endif
  double peak = 0;  // of the sequence the measured kernel runs: vpdpbusd / vpmaddwd+vpaddd, or (sgemm) the FMA
  for (size_t i = 0; i < np; ++i) {
    const uint64_t iters = 20000000;
    const double t = time_call([&] { peaks[i].run(iters); }, 3);
    const double g = peaks[i].ops_per_iter * iters / t / 1e9;
    if (mode == 3 ? std::strstr(peaks[i].name, "vfmadd231ps") != nullptr : i == 0) peak = g;
    std::printf("peak %-28s %8.1f G %s/s per core\n", peaks[i].name, g, peaks[i].what);
  }
  for (const std::string& s : shapes) {
    size_t m, n, kk;
    if (std::sscanf(s.c_str(), "%zux%zux%zu", &m, &n, &kk) != 3) continue;
    if (mode == 3) {
      std::vector<float> fa(m * kk + 16), fb(kk * n), fc(m * n + 16);
      uint32_t st = 12345;
      for (auto& v : fa) v = static_cast<float>((st = st * 1664525u + 1013904223u) >> 8) * 0x1p-24f - 0.5f;
      for (auto& v : fb) v = static_cast<float>((st = st * 1664525u + 1013904223u) >> 8) * 0x1p-24f - 0.5f;
      const auto at64 = [](float* p, bool on) { return on ? p + (16 - reinterpret_cast<uintptr_t>(p) / 4 % 16) % 16 : p; };
      qk::SgemmArgs g;
      g.m = m, g.n = n, g.k = kk, g.a = at64(fa.data(), aligned), g.lda = kk, g.b = fb.data();
      g.rs = transb ? 1 : n, g.cs = transb ? kk : 1, g.c = at64(fc.data(), aligned_c), g.ldc = n;
      const double t = time_call([&] {
        if (!qk::sgemm(k, g, threads)) {
          std::fprintf(stderr, "%s: out of memory\n", s.c_str());
          std::exit(1);
        }
      });
      const double gf = 2.0 * m * n * kk / t / 1e9;
      std::printf("%16s %10.1f us %9.1f GFLOPS %6.1f%% of peak\n", s.c_str(), t * 1e6, gf,
                  peak > 0 ? 100 * gf / (peak * threads) : 0.0);
      continue;
    }
    std::vector<uint8_t> abuf(m * kk + 64), b(kk * n);
    uint8_t* a = abuf.data() + (aligned ? (64 - reinterpret_cast<uintptr_t>(abuf.data()) % 64) % 64 : 0);
    uint32_t st = 12345;
    for (size_t i = 0; i < m * kk; ++i) a[i] = static_cast<uint8_t>((st = st * 1664525u + 1013904223u) >> 24);
    for (auto& v : b) v = static_cast<uint8_t>((st = st * 1664525u + 1013904223u) >> 24);
    std::vector<int32_t> za(row_zp ? m : 1, 123), zb(col_zp ? n : 1, zb0 ? 0 : 2);
    std::vector<float> as(row_zp ? m : 1, 0.02f), bs(n, 0.01f), bias(n, 0.5f);
    for (size_t i = 0; i < za.size(); ++i) za[i] = static_cast<int32_t>(100 + i % 50), as[i] = 0.02f + 1e-4f * (i % 7);
    std::vector<unsigned char> cbuf(m * n * 4 + 64);
    unsigned char* c = cbuf.data() + (aligned_c ? (64 - reinterpret_cast<uintptr_t>(cbuf.data()) % 64) % 64 : 0);
    qk::GemmArgs g;
    g.m = m, g.n = n, g.k = kk, g.a = a, g.lda = kk, g.a_signed = false, g.za = za.data(), g.zb = zb.data();
    g.za_step = row_zp ? 1 : 0, g.a_scale_step = row_zp ? 1 : 0, g.zb_step = col_zp ? 1 : 0;
    if (col_zp)
      for (size_t j = 0; j < n; ++j) zb[j] = static_cast<int32_t>(j % 5) - 2;
    g.mode = static_cast<qk::GemmOut>(mode), g.c = c, g.ldc = n;
    g.a_scale = as.data(), g.b_scale = bs.data(), g.b_scale_step = 1, g.bias = bias.data();
    g.inv_out_scale = 10.f, g.out_zp = 0, g.qmin = -128, g.qmax = 127;
    const size_t rs = transb ? 1 : n, cs = transb ? kk : 1;
    qk::PackedB pb(b.data(), rs, cs, true, kk, n, k.gemm, threads);
    const double t = time_call([&] {
      if (!qk::gemm(k, g, b.data(), rs, cs, true, unpacked ? nullptr : &pb, threads)) {
        std::fprintf(stderr, "%s: out of memory\n", s.c_str());
        std::exit(1);
      }
    });
    const double gops = 2.0 * m * n * kk / t / 1e9;
    std::printf("%16s %10.1f us %9.1f GOPS %6.1f%% of peak", s.c_str(), t * 1e6, gops,
                peak > 0 ? 100 * gops / (peak * threads) : 0.0);
    if (m == 1) std::printf("  weights %.1f GB/s", kk * n / t / 1e9);
    std::printf("\n");
  }
  return 0;
}
