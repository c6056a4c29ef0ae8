// Copyright embrt authors.
//
// Shared by the cpu kernel tests: inputs that stress floating point, and a bitwise comparison.

#ifndef EMBRT_TESTS_CPU_KERNEL_TEST_VALUES_H_
#define EMBRT_TESTS_CPU_KERNEL_TEST_VALUES_H_

#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace embrt {
namespace cpu {

// A value the kernels must not round differently from their scalar twins: -0, denormals, values
// near float's range (whose sums overflow to Inf), or an ordinary one.
inline float AwkwardValue(std::mt19937& random) {
  switch (random() % 8) {
    case 0:
      return -0.0f;
    case 1:
      return std::numeric_limits<float>::denorm_min() * static_cast<float>(random() % 100);
    case 2:
      return 3.0e38f * ((random() % 2) ? 1.0f : -1.0f);
    default:
      return std::uniform_real_distribution<float>(-2.0f, 2.0f)(random);
  }
}

// Bit for bit equal (so -0 != 0, and NaNs compare by payload); empty vectors are equal.
inline bool SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace cpu
}  // namespace embrt

#endif  // EMBRT_TESTS_CPU_KERNEL_TEST_VALUES_H_
