#!/usr/bin/env bash
# Native kernel tests (no Node), five steps, each built with plain cmake (QK_TESTS_ONLY) under build-native/:
#   a) native      Release -O2 build + ctest: every tier of this CPU against scalar (test_kernels), and the
#                  AVX-512 tier compiled against SIMDe plus the AMX tier against qk/amx.h's tile emulation
#                  (test_kernels_emu), so both are tested on machines without them; then a check that no tier
#                  object defines a weak symbol (one copy would serve every tier)
#   b) sanitizers  the same under AddressSanitizer + UndefinedBehaviorSanitizer (-O1 -g, no recovery)
#   c) tsan        the thread pool's test (test_threads) under ThreadSanitizer
#   d) aarch64     cross build with aarch64-linux-gnu-g++ (cmake/aarch64-linux-gnu.cmake) run under qemu-user:
#                  -cpu max must detect neon-dotprod, neon and scalar; -cpu cortex-a53 (no dot product) only
#                  neon and scalar
#   e) windows     cross build with MinGW-w64 (cmake/x86_64-w64-mingw32.cmake): compiled and linked, not run
# Each step ends with its "N passed, N failed" line (check groups of the test programs; a build failure or a
# crash counts as a failure), and the script ends with "native: N passed, N failed"; exit status 1 on any failure.
# Needs cmake >= 3.25, g++, libsimde-dev, g++-aarch64-linux-gnu, qemu-user and g++-mingw-w64-x86-64-posix.
# QK_JOBS sets the build parallelism (default 2).
set -uo pipefail

cd "$(dirname "$0")/.."
JOBS=${QK_JOBS:-2}
OUT=build-native
mkdir -p "$OUT"

total_passed=0
total_failed=0
step_passed=0
step_failed=0

# count_summaries <log> <expected programs>: adds the "N passed, N failed" lines found in a log (ctest -V prefixes
# them with "<test number>: ") to the step; a program that printed no summary line (crashed, aborted by a
# sanitizer, not built) counts as one failure.
count_summaries() {
  local log=$1 expected=$2 found=0 p f
  while read -r p f; do
    step_passed=$((step_passed + p))
    step_failed=$((step_failed + f))
    found=$((found + 1))
  done < <(sed -nE 's/^([0-9]+: )?([0-9]+) passed, ([0-9]+) failed$/\2 \3/p' "$log")
  if ((found < expected)); then
    echo "FAIL: $((expected - found)) test program(s) ended without a summary line (crash or sanitizer abort)"
    step_failed=$((step_failed + expected - found))
  fi
}

# build_and_ctest <build dir> <cmake args...>: configures, builds and runs ctest -V; returns 1 if the build failed.
build_and_ctest() {
  local dir=$1
  shift
  local log="$dir.log"
  echo "configure: cmake -S . -B $dir $*"
  if ! cmake -S . -B "$dir" -DQK_TESTS_ONLY=ON "$@" >"$log" 2>&1; then
    cat "$log"
    echo "FAIL: cmake configure failed"
    step_failed=$((step_failed + 1))
    return 1
  fi
  grep -E '^-- qkernels' "$log"
  echo "build: cmake --build $dir -j $JOBS"
  if ! cmake --build "$dir" -j "$JOBS" >>"$log" 2>&1; then
    grep -E -B2 -A12 'error|Error' "$log" | head -80
    echo "FAIL: build failed (full log: $log)"
    step_failed=$((step_failed + 1))
    return 1
  fi
  local tests
  tests=$(cd "$dir" && ctest -N | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
  echo "ctest: $tests test program(s)"
  (cd "$dir" && ctest -V) >"$dir.ctest.log" 2>&1
  local rc=$? before=$step_failed
  # The test programs' output (without ctest's "N: " prefix), then ctest's verdicts.
  sed -nE -e '/^[0-9]+: (Test command|Working Directory|Test timeout)/d' -e 's/^[0-9]+: //p' "$dir.ctest.log"
  grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|tests failed out of' "$dir.ctest.log"
  count_summaries "$dir.ctest.log" "${tests:-0}"
  if ((rc != 0 && step_failed == before)); then
    echo "FAIL: ctest exit status $rc"
    step_failed=$((step_failed + 1))
  fi
  return 0
}

# run_program <label> <command...>: runs one test program directly and counts its summary line.
run_program() {
  local label=$1
  shift
  local log
  log=$(mktemp)
  echo "run ($label): $*"
  "$@" >"$log" 2>&1
  local rc=$?
  cat "$log"
  local before=$step_failed
  count_summaries "$log" 1
  if ((rc != 0 && step_failed == before)); then
    echo "FAIL: exit status $rc"
    step_failed=$((step_failed + 1))
  fi
  rm -f "$log"
}

# check_tier_symbols <build dir> <nm>: a tier's object files may define no weak symbols. An inline function or
# template instantiated in two tiers' translation units is one weak symbol to the linker, which keeps one copy for
# every caller: the AVX-512 copy could then run in the avx2 or scalar tier (SIGILL on CPUs without it). Headers that
# tiers compile give such code internal linkage instead (an unnamed namespace, see qk/gemm_epilogue.h).
check_tier_symbols() {
  local dir=$1 nm=$2 bad
  bad=$(find "$dir/CMakeFiles" -path '*CMakeFiles/qk_*.dir/native/kernels/*' -name '*.o' -print0 |
    xargs -0 -r "$nm" -C --defined-only -A 2>/dev/null | grep -E ' [WVu] ' || true)
  if [[ -n $bad ]]; then
    echo "FAIL: weak symbols in tier objects (give them internal linkage):"
    echo "$bad" | head -20
    step_failed=$((step_failed + 1))
  else
    echo "ok: no weak symbols in the tier objects of $dir"
    step_passed=$((step_passed + 1))
  fi
}

begin_step() {
  step_passed=0
  step_failed=0
  step_start=$SECONDS
  echo
  echo "=== $1"
}

end_step() {
  echo "(step took $((SECONDS - step_start)) s)"
  echo "$step_passed passed, $step_failed failed"
  total_passed=$((total_passed + step_passed))
  total_failed=$((total_failed + step_failed))
}

# ---- a) native ---------------------------------------------------------------------------------------------------
begin_step "a) native: Release -O2, ctest (test_kernels, test_kernels_emu: avx512 under SIMDe and amx emulated, test_threads)"
build_and_ctest "$OUT/release" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" &&
  check_tier_symbols "$OUT/release" nm
end_step

# ---- b) sanitizers -----------------------------------------------------------------------------------------------
begin_step "b) sanitizers: AddressSanitizer + UndefinedBehaviorSanitizer, -O1 -g"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
build_and_ctest "$OUT/asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g" \
  "-DCMAKE_CXX_FLAGS=$SAN" "-DCMAKE_EXE_LINKER_FLAGS=$SAN"
end_step

# ---- c) the thread pool under ThreadSanitizer ---------------------------------------------------------------------
begin_step "c) ThreadSanitizer: the thread pool (test_threads)"
mkdir -p "$OUT/tsan"
if g++ -std=c++17 -O1 -g -fsanitize=thread -Inative/include native/tests/test_threads.cc native/src/threads.cc \
  -pthread -o "$OUT/tsan/test_threads" >"$OUT/tsan.log" 2>&1; then
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1} run_program "tsan" "$OUT/tsan/test_threads"
else
  cat "$OUT/tsan.log"
  echo "FAIL: ThreadSanitizer build failed"
  step_failed=$((step_failed + 1))
fi
end_step

# ---- d) aarch64 under qemu ---------------------------------------------------------------------------------------
begin_step "d) aarch64: cross build (aarch64-linux-gnu-g++), qemu-aarch64 -cpu max and -cpu cortex-a53"
missing=""
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [[ -n $missing ]]; then
  echo "FAIL: missing$missing (apt install g++-aarch64-linux-gnu qemu-user)"
  step_failed=$((step_failed + 1))
elif build_and_ctest "$OUT/aarch64" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
  -DQK_TEST_EXPECT_TIERS=neon-dotprod,neon,scalar; then
  check_tier_symbols "$OUT/aarch64" aarch64-linux-gnu-nm
  # A core without the dot product: detection must leave exactly neon and scalar (and neon must still match).
  QK_EXPECT_TIERS=neon,scalar run_program "cortex-a53, no dotprod" \
    qemu-aarch64 -cpu cortex-a53 -L /usr/aarch64-linux-gnu "$OUT/aarch64/test_kernels"
fi
end_step

# ---- e) Windows: cross build with MinGW-w64 (compile and link only) --------------------------------------------
# Nothing runs it (no Windows machine, no wine): this catches code that does not build for Windows (POSIX-only
# calls, 32-bit long). The test programs are linked; the binding is compiled against Node's headers.
begin_step "e) windows: cross build (x86_64-w64-mingw32-g++-posix), compile and link only"
if ! command -v x86_64-w64-mingw32-g++-posix >/dev/null 2>&1; then
  echo "FAIL: missing x86_64-w64-mingw32-g++-posix (apt install g++-mingw-w64-x86-64-posix)"
  step_failed=$((step_failed + 1))
else
  log="$OUT/mingw.log"
  if cmake -S . -B "$OUT/mingw" -DQK_TESTS_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE=cmake/x86_64-w64-mingw32.cmake >"$log" 2>&1 &&
    cmake --build "$OUT/mingw" -j "$JOBS" >>"$log" 2>&1; then
    echo "ok: the kernels, the thread pool and the test programs build for Windows"
    step_passed=$((step_passed + 1))
  else
    grep -E -B2 -A12 'error|Error' "$log" | head -60
    echo "FAIL: Windows cross build failed (full log: $log)"
    step_failed=$((step_failed + 1))
  fi
  # Node's headers next to the node binary (where npm install found them too).
  node_inc=$(node -p "require('path').resolve(process.execPath, '../../include/node')" 2>/dev/null)
  napi_inc=$(node -p "require('node-addon-api').include_dir" 2>/dev/null)
  files=$(node -p "require('./native/sources.json').binding.map((f) => f + ' c++17').join(' ') + ' ' +
    require('./native/sources.json').binding_cxx20.map((f) => f + ' c++20').join(' ')" 2>/dev/null)
  if [[ ! -f $node_inc/node_api.h || -z $napi_inc || -z $files ]]; then
    echo "FAIL: Node's headers ($node_inc), node-addon-api or the binding's source list not found"
    step_failed=$((step_failed + 1))
  else
    bad=0
    set -- $files
    while (($# >= 2)); do
      if ! x86_64-w64-mingw32-g++-posix -std="$2" -fsyntax-only -fno-exceptions -fno-rtti -Inative/include -Inative \
        -I"$napi_inc" -I"$node_inc" -DNAPI_VERSION=8 -DNAPI_DISABLE_CPP_EXCEPTIONS -DNODE_ADDON_API_DISABLE_DEPRECATED \
        -DNODE_API_NO_EXTERNAL_BUFFERS_ALLOWED -DNODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS "$1" >>"$log" 2>&1; then
        echo "FAIL: $1 does not compile for Windows (full log: $log)"
        bad=1
      fi
      shift 2
    done
    if ((bad)); then step_failed=$((step_failed + 1)); else
      echo "ok: the binding compiles for Windows against $node_inc"
      step_passed=$((step_passed + 1))
    fi
  fi
fi
end_step

echo
echo "(total $SECONDS s)"
echo "native: $total_passed passed, $total_failed failed"
((total_failed == 0))
