# Builds the qkernels addon with node-gyp. The source lists come from native/sources.json, the one list that
# CMakeLists.txt reads too. Each ISA tier is its own static library compiled with that tier's flags only: no
# -march=native anywhere, so one binary runs on any x86-64 or arm64 CPU and picks its kernels at run time.
{
  'target_defaults': {
    'include_dirs': [
      '<!(node -p "require(\'node-addon-api\').include_dir")',
      'native/include',
      'native',
    ],
    'defines': [
      'NAPI_VERSION=8',
      'NAPI_DISABLE_CPP_EXCEPTIONS',
      'NODE_ADDON_API_DISABLE_DEPRECATED',
      'NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED',
      # Code that runs during a terminated worker thread's teardown (when no JavaScript can run) must not abort
      # the process: node-addon-api then skips a throw it cannot make. (Async calls settle through the C API,
      # native/binding/worker.h, which ignores those failures itself.)
      'NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS',
    ],
    'cflags_cc': ['-std=c++17', '-O3', '-ffp-contract=off', '-fvisibility=hidden'],
    'cflags_cc!': ['-std=gnu++17', '-std=gnu++1y', '-std=gnu++20'],
    'xcode_settings': {
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
      'GCC_SYMBOLS_PRIVATE_EXTERN': 'YES',
      'OTHER_CPLUSPLUSFLAGS': ['-O3', '-ffp-contract=off'],
    },
    'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/std:c++17', '/fp:precise']}},
  },
  'targets': [
    {
      'target_name': 'qk_scalar',
      'type': 'static_library',
      'sources': ['<!@(node -p "require(\'./native/sources.json\').scalar.join(\' \')")'],
      'cflags_cc': ['-fno-tree-vectorize'],
      'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-fno-tree-vectorize']},
    },
    {
      # The binding's one use of the V8 API (native/binding/keepalive.h): Node 23 and later's V8 headers need
      # C++20, the rest of the addon is C++17.
      'target_name': 'qk_keepalive',
      'type': 'static_library',
      'sources': ['<!@(node -p "require(\'./native/sources.json\').binding_cxx20.join(\' \')")'],
      'cflags_cc!': ['-std=c++17'],
      'cflags_cc': ['-std=c++2a'],
      'xcode_settings': {'CLANG_CXX_LANGUAGE_STANDARD': 'c++20'},
      'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions!': ['/std:c++17'], 'AdditionalOptions': ['/std:c++20']}},
    },
    {
      'target_name': 'qkernels',
      'sources': [
        '<!@(node -p "require(\'./native/sources.json\').common.join(\' \')")',
        '<!@(node -p "require(\'./native/sources.json\').binding.join(\' \')")',
      ],
      'dependencies': ['qk_scalar', 'qk_keepalive'],
      'conditions': [
        # dlsym (keepalive.cc looks up V8's API at run time); part of libc from glibc 2.34 on.
        ['OS=="linux"', {'libraries': ['-ldl']}],
        ['target_arch=="x64"', {'dependencies': ['qk_avx2', 'qk_avx512', 'qk_amx']}],
        ['target_arch=="arm64"', {'dependencies': ['qk_neon', 'qk_neondot']}],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'qk_avx2',
          'type': 'static_library',
          'sources': ['<!@(node -p "require(\'./native/sources.json\').avx2.join(\' \')")'],
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma', '-mf16c']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/arch:AVX2']}},
        },
        {
          'target_name': 'qk_avx512',
          'type': 'static_library',
          'sources': ['<!@(node -p "require(\'./native/sources.json\').avx512.join(\' \')")'],
          # GCC 12's AVX-512 headers build masked intrinsics on _mm512_undefined_*, which -Wall reports as
          # (maybe-)uninitialized at every use (GCC bug 105593, fixed in GCC 13): hundreds of false warnings.
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq',
                        '-mavx512vnni', '-Wno-uninitialized', '-Wno-maybe-uninitialized'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw',
                                                      '-mavx512vl', '-mavx512dq', '-mavx512vnni']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/arch:AVX512']}},
        },
        {
          # AMX tiles through inline assembly (qk/amx.h); the rest of the tier is compiled like avx512.
          'target_name': 'qk_amx',
          'type': 'static_library',
          'sources': ['<!@(node -p "require(\'./native/sources.json\').amx.join(\' \')")'],
          # GCC 12's AVX-512 headers build masked intrinsics on _mm512_undefined_*, which -Wall reports as
          # (maybe-)uninitialized at every use (GCC bug 105593, fixed in GCC 13): hundreds of false warnings.
          'cflags_cc': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw', '-mavx512vl', '-mavx512dq',
                        '-mavx512vnni', '-Wno-uninitialized', '-Wno-maybe-uninitialized'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-mavx2', '-mfma', '-mf16c', '-mavx512f', '-mavx512bw',
                                                      '-mavx512vl', '-mavx512dq', '-mavx512vnni']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['/arch:AVX512']}},
        },
      ],
    }],
    ['target_arch=="arm64"', {
      'targets': [
        {
          'target_name': 'qk_neon',
          'type': 'static_library',
          'sources': ['<!@(node -p "require(\'./native/sources.json\').neon.join(\' \')")'],
        },
        {
          'target_name': 'qk_neondot',
          'type': 'static_library',
          'sources': ['<!@(node -p "require(\'./native/sources.json\').neondot.join(\' \')")'],
          'cflags_cc': ['-march=armv8.2-a+dotprod'],
          'xcode_settings': {'OTHER_CPLUSPLUSFLAGS': ['-march=armv8.2-a+dotprod']},
        },
      ],
    }],
  ],
}
