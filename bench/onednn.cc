// The oneDNN peer for `npm run bench` (bench/contenders/onednn.mjs builds and runs it): oneDNN's int8 matmul,
// u8 activations x s8 weights -> s32 with both zero points (primitive attributes), the weights reordered once
// into the layout the primitive asks for (format_tag::any: prepacked, like packB). It reads A and B from files
// written by the bench (the same data qkernels gets), times the primitive, writes C for the bench's exact check
// and prints one JSON line: {"version", "impl", "seconds": [per-call seconds of each sample]}.
//
//   bench-onednn --version
//   bench-onednn M N K A_FILE B_FILE ZA ZB MIN_SAMPLES MIN_TIME MAX_TIME C_FILE
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
  if (argc != 12) {
    std::fprintf(stderr, "usage: bench-onednn M N K A_FILE B_FILE ZA ZB MIN_SAMPLES MIN_TIME MAX_TIME C_FILE\n");
    return 2;
  }
  using dnnl::memory;
  const memory::dim m = std::atol(argv[1]), n = std::atol(argv[2]), k = std::atol(argv[3]);
  const int za = std::atoi(argv[6]), zb = std::atoi(argv[7]);
  const int min_samples = std::atoi(argv[8]);
  const double min_time = std::atof(argv[9]), max_time = std::atof(argv[10]);

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream s(eng);
  const memory::desc ad({m, k}, memory::data_type::u8, memory::format_tag::ab);
  const memory::desc bd({k, n}, memory::data_type::s8, memory::format_tag::ab);
  const memory::desc bd_any({k, n}, memory::data_type::s8, memory::format_tag::any);
  const memory::desc cd({m, n}, memory::data_type::s32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  attr.set_zero_points(DNNL_ARG_SRC, 0, {za});
  attr.set_zero_points(DNNL_ARG_WEIGHTS, 0, {zb});
  const dnnl::matmul::desc md(ad, bd_any, cd);
  const dnnl::matmul::primitive_desc pd(md, attr, eng);

  memory a(ad, eng), b(bd, eng), bp(pd.weights_desc(), eng), c(cd, eng);
  if (!read_file(argv[4], a.get_data_handle(), static_cast<size_t>(m * k)) ||
      !read_file(argv[5], b.get_data_handle(), static_cast<size_t>(k * n))) {
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

  std::ofstream out(argv[11], std::ios::binary);
  out.write(static_cast<const char*>(c.get_data_handle()), static_cast<std::streamsize>(m * n * 4));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", argv[11]);
    return 1;
  }
  std::printf("{\"version\":\"%d.%d.%d\",\"impl\":\"%s\",\"seconds\":[", v->major, v->minor, v->patch,
              pd.impl_info_str());
  for (size_t i = 0; i < samples.size(); ++i) std::printf("%s%.9g", i ? "," : "", samples[i]);
  std::printf("]}\n");
  return 0;
}
