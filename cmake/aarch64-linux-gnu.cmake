# Cross build for Linux arm64 with Debian's g++-aarch64-linux-gnu; the tests run under qemu-user (ctest uses
# CMAKE_CROSSCOMPILING_EMULATOR). Used by scripts/native-tests.sh:
#   cmake -S . -B build-native/aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DQK_TESTS_ONLY=ON
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(QK_CROSS_PREFIX aarch64-linux-gnu)
set(QK_CROSS_SYSROOT /usr/${QK_CROSS_PREFIX})
set(CMAKE_C_COMPILER ${QK_CROSS_PREFIX}-gcc)
set(CMAKE_CXX_COMPILER ${QK_CROSS_PREFIX}-g++)

set(CMAKE_FIND_ROOT_PATH ${QK_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# -cpu max has Advanced SIMD and the dot product (both arm64 tiers); -L finds the target's loader and libraries.
find_program(QK_QEMU_AARCH64 qemu-aarch64)
if(QK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${QK_QEMU_AARCH64} -cpu max -L ${QK_CROSS_SYSROOT})
endif()
