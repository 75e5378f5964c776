// qkernels binding: the op families' export registration functions.
#pragma once
#include <napi.h>

namespace qkb {

void init_convert(Napi::Env env, Napi::Object exports);

}  // namespace qkb
