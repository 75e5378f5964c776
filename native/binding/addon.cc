// qkernels binding: module init, CPU information and tier switching. Each op family registers its exports from
// its own file (convert.cc, ...); the exports are private and positional: lib/native.ts describes them and the
// public TypeScript API validates every argument before calling them.
#include <napi.h>

#include <chrono>
#include <string>
#include <vector>

#include "binding/args.h"
#include "binding/bindings.h"
#include "qk/dispatch.h"
#include "qk/peak.h"

namespace qkb {
namespace {

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const qk::CpuInfo& ci = qk::cpu_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("arch", ci.arch);
  o.Set("model", ci.model);
  Napi::Array features = Napi::Array::New(env, ci.features.size());
  for (size_t i = 0; i < ci.features.size(); ++i) features.Set(static_cast<uint32_t>(i), ci.features[i]);
  o.Set("features", features);
  const auto& isas = qk::available_isas();
  Napi::Array list = Napi::Array::New(env, isas.size());
  for (size_t i = 0; i < isas.size(); ++i) list.Set(static_cast<uint32_t>(i), qk::isa_name(isas[i]));
  o.Set("isas", list);
  o.Set("isa", qk::isa_name(qk::active().isa));
  return o;
}

std::string available_list() {
  std::string s;
  for (qk::Isa i : qk::available_isas()) s += (s.empty() ? "" : ", ") + std::string(qk::isa_name(i));
  return s;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw_type(env, "isa must be a string");
    return env.Undefined();
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  qk::Isa isa;
  if (!qk::parse_isa(name.c_str(), &isa)) {
    throw_range(env, "unknown ISA tier '" + name +
                         "'; tiers are scalar, avx2, avx512, amx, neon, neon-dotprod; available here: " + available_list());
    return env.Undefined();
  }
  if (!qk::isa_available(isa)) {
    throw_range(env, "ISA tier '" + name + "' is not available on this CPU; available: " + available_list());
    return env.Undefined();
  }
  qk::set_active(isa);
  return Napi::String::New(env, name);
}

}  // namespace

// The register-only peak sequences of every available tier.
std::vector<const qk::PeakBench*> peak_list() {
  std::vector<const qk::PeakBench*> out;
  auto add = [&out](const qk::PeakBench* (*list)(size_t*)) {
    size_t n = 0;
    const qk::PeakBench* p = list(&n);
    for (size_t i = 0; i < n; ++i) out.push_back(p + i);
  };
#if defined(__x86_64__) || defined(_M_X64)
  if (qk::isa_available(qk::Isa::Avx2)) add(qk::peaks_avx2);
  if (qk::isa_available(qk::Isa::Avx512)) add(qk::peaks_avx512);
  if (qk::isa_available(qk::Isa::Amx)) add(qk::peaks_amx);
#elif defined(__aarch64__) || defined(_M_ARM64)
  add(qk::peaks_neon);
  if (qk::isa_available(qk::Isa::NeonDot)) add(qk::peaks_neondot);
#endif
  return out;
}

// peakBenchmarks() -> [{ name, what, opsPerIter }]
Napi::Value PeakBenchmarks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto list = peak_list();
  Napi::Array arr = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", list[i]->name);
    o.Set("what", list[i]->what);
    o.Set("opsPerIter", static_cast<double>(list[i]->ops_per_iter));
    arr.Set(static_cast<uint32_t>(i), o);
  }
  return arr;
}

// runPeak(name, iters) -> seconds spent running the sequence `iters` times on the calling thread.
Napi::Value RunPeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString()) {
    throw_type(env, "name must be a string");
    return env.Undefined();
  }
  int64_t iters;
  if (!integer(info, 1, "iters", 1, static_cast<int64_t>(1) << 40, &iters)) return env.Undefined();
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  for (const qk::PeakBench* p : peak_list())
    if (name == p->name) {
      const auto t0 = std::chrono::steady_clock::now();
      p->run(static_cast<uint64_t>(iters));
      const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
      return Napi::Number::New(env, dt.count());
    }
  throw_range(env, "unknown peak sequence '" + name + "'");
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("peakBenchmarks", Napi::Function::New(env, PeakBenchmarks, "peakBenchmarks"));
  exports.Set("runPeak", Napi::Function::New(env, RunPeak, "runPeak"));
  init_convert(env, exports);
  init_gemm(env, exports);
  init_sgemm(env, exports);
  init_calibrate(env, exports);
  init_fakequant(env, exports);
  return exports;
}

}  // namespace qkb

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return qkb::Init(env, exports); }

NODE_API_MODULE(qkernels, InitAddon)
