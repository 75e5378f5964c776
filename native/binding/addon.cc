// qkernels binding: module init, CPU information and tier switching. Each op family registers its exports from
// its own file (convert.cc, ...); the exports are private and positional: lib/native.ts describes them and the
// public TypeScript API validates every argument before calling them.
#include <napi.h>

#include <string>

#include "binding/args.h"
#include "binding/bindings.h"
#include "qk/dispatch.h"

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
                         "'; tiers are scalar, avx2, avx512, neon, neon-dotprod; available here: " + available_list());
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo, "cpuInfo"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  init_convert(env, exports);
  init_gemm(env, exports);
  init_sgemm(env, exports);
  init_calibrate(env, exports);
  return exports;
}

}  // namespace qkb

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return qkb::Init(env, exports); }

NODE_API_MODULE(qkernels, InitAddon)
