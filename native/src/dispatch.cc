// qkernels: CPU detection (cpuid + xgetbv on x86-64, getauxval on Linux arm64, sysctl on macOS) and the
// per-tier kernel tables.
#include "qk/dispatch.h"

#include <atomic>
#include <cstring>
#include <mutex>

#if defined(__x86_64__) || defined(_M_X64)
#define QK_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#define QK_ARM64 1
#if defined(__linux__)
#include <sys/auxv.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#endif

namespace qk {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Amx: return "amx";
    case Isa::Neon: return "neon";
    case Isa::NeonDot: return "neon-dotprod";
    default: return "unknown";
  }
}

bool parse_isa(const char* name, Isa* out) {
  for (int i = 0; i < static_cast<int>(Isa::Count); ++i) {
    if (std::strcmp(name, isa_name(static_cast<Isa>(i))) == 0) {
      *out = static_cast<Isa>(i);
      return true;
    }
  }
  return false;
}

namespace {

struct Detected {
  CpuInfo info;
  bool tier[static_cast<int>(Isa::Count)] = {};
};

#if QK_X86
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(sub));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(regs[i]);
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

unsigned long long xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
#endif
}

// Linux enables the AMX tile data state per process on request (arch_prctl ARCH_REQ_XCOMP_PERM, kernel 5.16+);
// without the permission the first tile instruction raises SIGILL. The amx tier is offered only once granted.
bool amx_permitted() {
#if defined(__linux__) && defined(SYS_arch_prctl)
  constexpr int kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
  unsigned long long perm = 0;
  return syscall(SYS_arch_prctl, kArchGetXcompPerm, &perm) == 0 && ((perm >> kXfeatureXtiledata) & 1);
#else
  return false;  // other systems: not offered (Windows and macOS would need their own enabling)
#endif
}

void detect(Detected& d) {
  d.info.arch = "x64";
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(0x80000000u, 0, r);
  if (r[0] >= 0x80000004u) {
    char brand[49] = {};
    for (unsigned i = 0; i < 3; ++i) {
      cpuid(0x80000002u + i, 0, r);
      std::memcpy(brand + 16 * i, r, 16);
    }
    std::string s(brand);
    const size_t b = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
    d.info.model = b == std::string::npos ? "" : s.substr(b, e - b + 1);
  }
  cpuid(1, 0, r);
  const unsigned ecx1 = r[2], edx1 = r[3];
  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax71 = 0;
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    ebx7 = r[1];
    ecx7 = r[2];
    edx7 = r[3];
    cpuid(7, 1, r);
    eax71 = r[0];
  }
  // The OS must save the vector registers: XCR0 bits 1,2 (XMM, YMM) for AVX; 5,6,7 (opmask, ZMM) for AVX-512.
  const bool osxsave = (ecx1 >> 27) & 1;
  const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;
  const bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0;
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;
  auto& f = d.info.features;
  auto add = [&f](bool have, const char* name) {
    if (have) f.emplace_back(name);
    return have;
  };
  add((edx1 >> 26) & 1, "sse2");
  add((ecx1 >> 19) & 1, "sse4.1");
  add((ecx1 >> 20) & 1, "sse4.2");
  const bool avx = add(os_avx && ((ecx1 >> 28) & 1), "avx");
  const bool fma = add(avx && ((ecx1 >> 12) & 1), "fma");
  const bool f16c = add(avx && ((ecx1 >> 29) & 1), "f16c");
  const bool avx2 = add(avx && ((ebx7 >> 5) & 1), "avx2");
  add(avx && ((eax71 >> 4) & 1), "avxvnni");
  const bool a512f = add(os_avx512 && ((ebx7 >> 16) & 1), "avx512f");
  const bool a512dq = add(a512f && ((ebx7 >> 17) & 1), "avx512dq");
  const bool a512bw = add(a512f && ((ebx7 >> 30) & 1), "avx512bw");
  const bool a512vl = add(a512f && ((ebx7 >> 31) & 1), "avx512vl");
  const bool vnni = add(a512f && ((ecx7 >> 11) & 1), "avx512vnni");
  add(a512f && ((eax71 >> 5) & 1), "avx512bf16");
  add(a512f && ((edx7 >> 23) & 1), "avx512fp16");
  const bool amx = add(os_amx && ((edx7 >> 24) & 1) && ((edx7 >> 25) & 1), "amx-int8");
  const bool t_avx2 = avx2 && fma && f16c;
  d.tier[static_cast<int>(Isa::Avx2)] = t_avx2;
  d.tier[static_cast<int>(Isa::Avx512)] = t_avx2 && a512f && a512bw && a512vl && a512dq && vnni;
  d.tier[static_cast<int>(Isa::Amx)] = d.tier[static_cast<int>(Isa::Avx512)] && amx && amx_permitted();
}
#elif QK_ARM64
void detect(Detected& d) {
  d.info.arch = "arm64";
  bool dot = false;
#if defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  const unsigned long hw2 = getauxval(AT_HWCAP2);
  // Bit numbers from the kernel's uapi asm/hwcap.h (spelled out so old headers build).
  const bool asimd = (hw >> 1) & 1;
  if (asimd) d.info.features.emplace_back("asimd");
  if ((hw >> 9) & 1) d.info.features.emplace_back("fphp");
  if ((hw >> 10) & 1) d.info.features.emplace_back("asimdhp");
  dot = asimd && ((hw >> 20) & 1);
  if (dot) d.info.features.emplace_back("asimddp");
  if ((hw2 >> 13) & 1) d.info.features.emplace_back("i8mm");
  if ((hw2 >> 14) & 1) d.info.features.emplace_back("bf16");
#elif defined(__APPLE__)
  d.info.features.emplace_back("asimd");
  int v = 0;
  size_t len = sizeof(v);
  if (sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, nullptr, 0) == 0 && v) dot = true;
  if (dot) d.info.features.emplace_back("asimddp");
  char brand[128] = {};
  len = sizeof(brand) - 1;
  if (sysctlbyname("machdep.cpu.brand_string", brand, &len, nullptr, 0) == 0) d.info.model = brand;
#endif
  // Advanced SIMD is mandatory on AArch64.
  d.tier[static_cast<int>(Isa::Neon)] = true;
  d.tier[static_cast<int>(Isa::NeonDot)] = dot;
}
#else
void detect(Detected& d) { d.info.arch = "unknown"; }
#endif

#if defined(QK_EMULATE_TIERS)
// TEST BINARIES ONLY (the addon never defines this): -DQK_EMULATE_TIERS=avx512 (a comma list of tier names)
// marks those tiers available whatever cpuid says, for a test program whose tier translation units are compiled
// against an emulation of the instructions (SIMDe, see qk/simd_x86.h) instead of the real ones. Each table is
// still built on the tier below it, so the tiers below must be present (avx512 needs avx2, natively or listed).
#define QK_STR_(...) #__VA_ARGS__
#define QK_STR(...) QK_STR_(__VA_ARGS__)
void emulate_tiers(Detected& d) {
  const std::string list = QK_STR(QK_EMULATE_TIERS);
  size_t b = 0;
  while (b <= list.size()) {
    size_t e = list.find(',', b);
    if (e == std::string::npos) e = list.size();
    const size_t s = list.find_first_not_of(' ', b), t = list.find_last_not_of(' ', e - 1);
    Isa isa;
    if (s < e && parse_isa(list.substr(s, t - s + 1).c_str(), &isa)) {
      d.tier[static_cast<int>(isa)] = true;
      d.info.features.push_back(std::string("emulated-") + isa_name(isa));
    }
    b = e + 1;
  }
  if (!d.tier[static_cast<int>(Isa::Avx2)]) d.tier[static_cast<int>(Isa::Avx512)] = false;  // built on avx2
  if (!d.tier[static_cast<int>(Isa::Avx512)]) d.tier[static_cast<int>(Isa::Amx)] = false;   // built on avx512
}
#endif

struct Tables {
  Detected det;
  std::vector<Isa> available;
  Kernels tables[static_cast<int>(Isa::Count)] = {};
  std::atomic<const Kernels*> active{nullptr};

  Tables() {
    det.tier[static_cast<int>(Isa::Scalar)] = true;
    detect(det);
#if defined(QK_EMULATE_TIERS)
    emulate_tiers(det);  // test binaries only
#endif
    // A tier's fill function lives in that tier's translation unit and may itself use the tier's instructions,
    // so it is only called when the CPU has them. Each table starts from the one below (scalar is the floor).
    Kernels k{};
    fill_scalar(k);
    set(Isa::Scalar, k);
#if QK_X86
    if (det.tier[static_cast<int>(Isa::Avx2)]) {
      fill_avx2(k);
      set(Isa::Avx2, k);
      if (det.tier[static_cast<int>(Isa::Avx512)]) {
        fill_avx512(k);
        set(Isa::Avx512, k);
        if (det.tier[static_cast<int>(Isa::Amx)]) {
          fill_amx(k);
          set(Isa::Amx, k);
        }
      }
    }
#elif QK_ARM64
    fill_neon(k);
    set(Isa::Neon, k);
    if (det.tier[static_cast<int>(Isa::NeonDot)]) {
      fill_neondot(k);
      set(Isa::NeonDot, k);
    }
#endif
    for (int i = static_cast<int>(Isa::Count) - 1; i >= 0; --i)
      if (det.tier[i]) available.push_back(static_cast<Isa>(i));
    active.store(&tables[static_cast<int>(available.front())]);
  }

  void set(Isa isa, Kernels k) {
    k.isa = isa;
    tables[static_cast<int>(isa)] = k;
  }
};

Tables& tables() {
  static Tables t;
  return t;
}

}  // namespace

const CpuInfo& cpu_info() { return tables().det.info; }
const std::vector<Isa>& available_isas() { return tables().available; }

bool isa_available(Isa isa) {
  const int i = static_cast<int>(isa);
  return i >= 0 && i < static_cast<int>(Isa::Count) && tables().det.tier[i];
}

const Kernels* kernels_for(Isa isa) {
  return isa_available(isa) ? &tables().tables[static_cast<int>(isa)] : nullptr;
}

const Kernels& active() { return *tables().active.load(std::memory_order_acquire); }

void set_active(Isa isa) {
  if (const Kernels* k = kernels_for(isa)) tables().active.store(k, std::memory_order_release);
}

}  // namespace qk
