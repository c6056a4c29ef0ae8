// Copyright embrt authors.
//
// core/src/checkpoint_hash.h: HashUncachedBytes (4 KiB steps with prefetching) gives the same
// XXH3-64 as hashing all bytes at once, for any length, so checksums never depend on it.

#include "checkpoint_hash.h"

#include <cstdint>
#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

TEST(HashUncachedBytesTest, SameHashAsOneShotForEveryLength) {
  std::vector<unsigned char> bytes(3 * 4096 + 777);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(i * 29 + 3);
  XXH3_state_t* state = XXH3_createState();
  ASSERT_NE(state, nullptr);
  for (size_t size : {size_t{0}, size_t{1}, size_t{240}, size_t{2047}, size_t{2048},
                      size_t{4095}, size_t{4096}, size_t{4097}, size_t{6144 + 1},
                      size_t{3 * 4096}, bytes.size()}) {
    XXH3_64bits_reset(state);
    HashUncachedBytes(state, bytes.data(), size);
    EXPECT_EQ(XXH3_64bits_digest(state), XXH3_64bits(bytes.data(), size)) << "size " << size;
  }
  XXH3_freeState(state);
}

}  // namespace
}  // namespace internal
}  // namespace embrt
