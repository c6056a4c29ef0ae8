// Copyright embrt authors.
//
// XXH3-64 for checkpoints (internal to the core). Where Debian's libxxhash offers them, its
// run-time dispatch entry points are used: they pick AVX2 or AVX-512 on the running CPU, about
// 3x faster than the library's default SSE2 code for the same hashes. Include this instead of
// <xxhash.h>.

#ifndef EMBRT_CORE_SRC_CHECKPOINT_HASH_H_
#define EMBRT_CORE_SRC_CHECKPOINT_HASH_H_

#include <xxhash.h>

#ifdef EMBRT_HAVE_XXH3_DISPATCH
// Redefines XXH3_64bits and XXH3_64bits_update as the dispatching versions.
#include <xxh_x86dispatch.h>
#endif

#endif  // EMBRT_CORE_SRC_CHECKPOINT_HASH_H_
