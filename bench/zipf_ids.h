// Copyright embrt authors.
//
// File: bench/zipf_ids.h
// ----------------------
// Skewed row ids for the benchmarks: Zipf(s) over the first 2^16 ranks by inverse transform on
// a precomputed CDF, each rank scattered over the table by a fixed multiplier (so hot rows are
// not neighbours). Deterministic for a given generator state.
//
// Thread safety: Draw is const and safe to call concurrently with distinct generators.

#ifndef EMBRT_BENCH_ZIPF_IDS_H_
#define EMBRT_BENCH_ZIPF_IDS_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace embrt {
namespace bench {

class ZipfIds {
 public:
  // P(rank k) proportional to 1 / (k + 1)^exponent, for k < 2^16.
  explicit ZipfIds(double exponent) : cdf_(size_t{1} << 16) {
    double total = 0;
    for (size_t k = 0; k < cdf_.size(); ++k) {
      cdf_[k] = (total += 1.0 / std::pow(k + 1.0, exponent));
    }
    for (double& x : cdf_) x /= total;
  }

  // One id in [0, rows).
  int64_t Draw(std::mt19937_64& random, int64_t rows) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(random);
    const int64_t rank = std::lower_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin();
    return (rank * 2654435761LL) % rows;
  }

 private:
  std::vector<double> cdf_;
};

}  // namespace bench
}  // namespace embrt

#endif  // EMBRT_BENCH_ZIPF_IDS_H_
