// The oneDNN peer for `npm run bench` (bench/contenders/onednn.mjs builds and runs it): oneDNN's int8 matmul,
// u8 activations x s8 weights -> s32 with both zero points (primitive attributes), the weights reordered once
// into the layout the primitive asks for (format_tag::any: prepacked, like packB). It reads A and B from files
// written by the bench (the same data qkernels gets), times the primitive, writes C for the bench's exact check
// and prints one JSON line: {"version", "impl", "seconds": [per-call seconds of each sample]}.
// With --f32, the float32 matmul instead (f32 A and B files, f32 C, weights prepacked the same way): the float
// reference next to qkernels' sgemm rows.
//
//   bench-onednn --version
//   bench-onednn M N K A_FILE B_FILE ZA ZB MIN_SAMPLES MIN_TIME MAX_TIME C_FILE
//   bench-onednn --f32 M N K A_FILE B_FILE MIN_SAMPLES MIN_TIME MAX_TIME C_FILE
//
// The ISA is capped with ONEDNN_MAX_CPU_ISA and the threads set with OMP_NUM_THREADS by the caller (Debian's
// libdnnl uses OpenMP). Build: g++ -O2 -std=c++17 bench/onednn.cc -ldnnl
#include <dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool read_file(const char* path, void* dst, size_t bytes) {
  std::ifstream f(path, std::ios::binary);
  f.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
  return static_cast<size_t>(f.gcount()) == bytes;
}

}  // namespace

int main(int argc, char** argv) {
  const dnnl_version_t* v = dnnl_version();
  if (argc == 2 && std::string(argv[1]) == "--version") {
    std::printf("%d.%d.%d\n", v->major, v->minor, v->patch);
    return 0;
  }
  const bool f32 = argc > 1 && std::string(argv[1]) == "--f32";
  if (f32) --argc, ++argv;  // the rest as in the int8 form, without ZA and ZB
  if (argc != (f32 ? 10 : 12)) {
    std::fprintf(stderr,
                 "usage: bench-onednn M N K A_FILE B_FILE ZA ZB MIN_SAMPLES MIN_TIME MAX_TIME C_FILE\n"
                 "       bench-onednn --f32 M N K A_FILE B_FILE MIN_SAMPLES MIN_TIME MAX_TIME C_FILE\n");
    return 2;
  }
  using dnnl::memory;
  using dt = memory::data_type;
  const memory::dim m = std::atol(argv[1]), n = std::atol(argv[2]), k = std::atol(argv[3]);
  const int za = f32 ? 0 : std::atoi(argv[6]), zb = f32 ? 0 : std::atoi(argv[7]);
  char** rest = argv + (f32 ? 6 : 8);
  const int min_samples = std::atoi(rest[0]);
  const double min_time = std::atof(rest[1]), max_time = std::atof(rest[2]);
  const char* c_file = rest[3];

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const memory::desc ad({m, k}, f32 ? dt::f32 : dt::u8, memory::format_tag::ab);
  const memory::desc bd({k, n}, f32 ? dt::f32 : dt::s8, memory::format_tag::ab);
  const memory::desc bd_any({k, n}, f32 ? dt::f32 : dt::s8, memory::format_tag::any);
  const memory::desc cd({m, n}, f32 ? dt::f32 : dt::s32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  if (!f32) {
    attr.set_zero_points(DNNL_ARG_SRC, 0, {za});
    attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {zb});
  }
  const dnnl::matmul::desc md(ad, bd_any, cd);
  const dnnl::matmul::primitive_desc pd(md, attr, eng);

  const size_t esize = f32 ? 4 : 1;  // bytes per element of A and B
  memory a(ad, eng), b(bd, eng), bp(pd.weights_desc(), eng), c(cd, eng);
  if (!read_file(argv[4], a.get_data_handle(), static_cast<size_t>(m * k) * esize) ||
      !read_file(argv[5], b.get_data_handle(), static_cast<size_t>(k * n) * esize)) {
    std::fprintf(stderr, "cannot read %s or %s\n", argv[4], argv[5]);
    return 1;
  }
  dnnl::reorder(b, bp).execute(s, b, bp);  // prepacking, outside the timed calls
  s.wait();
  const dnnl::matmul mm(pd);
  auto call = [&] {
    mm.execute(s, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, bp}, {DNNL_ARG_DST, c}});
    s.wait();
  };

  // Like benchmark.js: calls per sample so that a sample lasts at least min_time, samples until max_time (at
  // least min_samples).
  call();
  int reps = 1;
  for (;;) {
    const double t0 = now();
    for (int r = 0; r < reps; ++r) call();
    if (now() - t0 >= min_time || reps >= (1 << 24)) break;
    reps *= 2;
  }
  std::vector<double> samples;
  const double start = now();
  while (static_cast<int>(samples.size()) < min_samples || now() - start < max_time) {
    const double t0 = now();
    for (int r = 0; r < reps; ++r) call();
    samples.push_back((now() - t0) / reps);
  }

  std::ofstream out(c_file, std::ios::binary);
  out.write(static_cast<const char*>(c.get_data_handle()), static_cast<std::streamsize>(m * n * 4));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", c_file);
    return 1;
  }
  std::printf("{\"version\":\"%d.%d.%d\",\"impl\":\"%s\",\"seconds\":[", v->major, v->minor, v->patch,
              pd.impl_info_str());
  for (size_t i = 0; i < samples.size(); ++i) std::printf("%s%.9g", i ? "," : "", samples[i]);
  std::printf("]}\n");
  return 0;
}
