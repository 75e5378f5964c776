// qkernels binding: the op families' export registration functions.
#pragma once
#include <napi.h>

namespace qkb {

void init_convert(Napi::Env env, Napi::Object exports);
void init_gemm(Napi::Env env, Napi::Object exports);
void init_sgemm(Napi::Env env, Napi::Object exports);
void init_calibrate(Napi::Env env, Napi::Object exports);
void init_fakequant(Napi::Env env, Napi::Object exports);

}  // namespace qkb
