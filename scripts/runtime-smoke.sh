#!/usr/bin/env bash
# qkernels under Bun and Deno (and Node, as the control), from the built tree (npm install first):
#   1. the V8 symbols the addon imports are exactly the ones native/binding/keepalive.cc looks up before it uses
#      them (so a runtime without V8's API never reaches an unbound import, which ends the process);
#   2. scripts/runtime-smoke.mjs under Node, Bun and Deno (both taken from the npm registry, pinned versions), from a
#      scratch project that has this package in node_modules/qkernels.
# Ends with `runtimes: N passed, N failed`; exits non-zero if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN_VERSION=1.4.5
DENO_VERSION=2.9.6
addon=build/Release/qkernels.node
passed=0
failed=0
result() { # result <rc> <what>
  if [ "$1" -eq 0 ]; then passed=$((passed + 1)); echo "ok: $2"; else failed=$((failed + 1)); echo "FAILED: $2"; fi
}

want=$(grep -oE '"_Z[A-Za-z0-9_]+"' native/binding/keepalive.cc | tr -d '"' | sort -u)
have=$(nm -D --undefined-only "$addon" 2>/dev/null | awk '{print $NF}' | grep -E '^_Z.*v8' | sed 's/@.*//' | sort -u)
if [ -n "$have" ] && [ "$want" = "$have" ]; then
  result 0 "the addon's V8 imports are the ones keepalive.cc looks up"
else
  printf 'looked up:\n%s\nimported:\n%s\n' "$want" "$have"
  result 1 "the addon's V8 imports are the ones keepalive.cc looks up"
fi

work=$(mktemp -d) || exit 1
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/app/node_modules/qkernels/build/Release"
cp -r dist package.json "$work/app/node_modules/qkernels/" && cp "$addon" "$work/app/node_modules/qkernels/build/Release/" &&
  cp scripts/runtime-smoke.mjs "$work/app/" && echo '{ "private": true, "type": "module" }' >"$work/app/package.json" || {
  result 1 "scratch project"
  echo "runtimes: $passed passed, $failed failed"
  exit 1
}

case "$(node -p process.arch)" in
  x64) bun_pkg=@oven/bun-linux-x64-baseline deno_pkg=@deno/linux-x64-glibc ;;
  arm64) bun_pkg=@oven/bun-linux-aarch64 deno_pkg=@deno/linux-arm64-glibc ;;
  *) bun_pkg="" deno_pkg="" ;;
esac
fetch() { # fetch <package@version> <dir>: the npm package's files under <dir>/package
  mkdir -p "$2" && (cd "$2" && npm pack --silent "$1" >/dev/null && tar xzf ./*.tgz) >"$2.log" 2>&1 || {
    tail -n 5 "$2.log"
    return 1
  }
}

(cd "$work/app" && node --expose-gc runtime-smoke.mjs) | tail -n 1
result "${PIPESTATUS[0]}" "Node $(node --version)"

if [ -z "$bun_pkg" ]; then
  echo "no Bun or Deno build for $(node -p process.arch): skipped"
else
  if fetch "$bun_pkg@$BUN_VERSION" "$work/bun"; then
    bun=$(find "$work/bun/package" -type f -name bun | head -n 1)
    chmod +x "$bun"
    (cd "$work/app" && "$bun" runtime-smoke.mjs) >"$work/bun.out" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then tail -n 1 "$work/bun.out"; else tail -n 20 "$work/bun.out"; fi
    result "$rc" "Bun $BUN_VERSION"
  else
    result 1 "fetch $bun_pkg@$BUN_VERSION"
  fi
  if fetch "$deno_pkg@$DENO_VERSION" "$work/deno"; then
    deno=$(find "$work/deno/package" -type f -name deno | head -n 1)
    chmod +x "$deno"
    (cd "$work/app" && DENO_NO_UPDATE_CHECK=1 "$deno" run -A --v8-flags=--expose-gc runtime-smoke.mjs) >"$work/deno.out" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then tail -n 1 "$work/deno.out"; else tail -n 20 "$work/deno.out"; fi
    result "$rc" "Deno $DENO_VERSION"
  else
    result 1 "fetch $deno_pkg@$DENO_VERSION"
  fi
fi

echo "runtimes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
