// Copyright embrt authors.
//
// File: tools/training/random.h
// -----------------------------
// A small seeded generator (SplitMix64) with uniform and normal draws written out here, so
// that synthetic data is the same bits on every platform and standard library (std::
// distributions are not).

#ifndef EMBRT_TOOLS_TRAINING_RANDOM_H_
#define EMBRT_TOOLS_TRAINING_RANDOM_H_

#include <cmath>
#include <cstdint>

namespace embrt {
namespace training {

class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}

  uint64_t NextU64() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller; one draw per call, the second is dropped for simplicity).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

// Mixes two values into a seed for an independent stream.
inline uint64_t MixSeed(uint64_t a, uint64_t b) {
  Random random(a * 0x9e3779b97f4a7c15ULL + b);
  random.NextU64();
  return random.NextU64();
}

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_RANDOM_H_
