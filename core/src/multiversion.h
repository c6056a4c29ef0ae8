// Copyright embrt authors.
//
// EMBRT_CORE_MULTIVERSION compiles a core function for AVX-512, AVX2 and baseline x86-64 and
// picks one at load time (GCC function multi-versioning), as the cpu backend's kernels do
// (plugins/cpu/vector_ops.h). Files that use it on floating-point code are built with
// -ffp-contract=off (core/CMakeLists.txt), so no version fuses a multiply and an add and the
// choice never changes a result. Not under TSan, whose runtime is not up when the ifunc
// resolvers run: CMake defines EMBRT_NO_MULTIVERSION there (cmake/EmbrtCompileOptions.cmake).

#ifndef EMBRT_CORE_SRC_MULTIVERSION_H_
#define EMBRT_CORE_SRC_MULTIVERSION_H_

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(EMBRT_NO_MULTIVERSION) && !defined(__SANITIZE_THREAD__)
#define EMBRT_CORE_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define EMBRT_CORE_MULTIVERSION
#endif

#endif  // EMBRT_CORE_SRC_MULTIVERSION_H_
