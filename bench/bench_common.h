// Copyright embrt authors.
//
// File: bench/bench_common.h
// --------------------------
// What the interleaved benchmarks (cpu_anchor_benchmark, serving_benchmark) share: flag lists,
// timing and medians, the table values both sides start from, and batches of ragged ids
// (uniform or Zipf(1.05)).

#ifndef EMBRT_BENCH_BENCH_COMMON_H_
#define EMBRT_BENCH_BENCH_COMMON_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "zipf_ids.h"

namespace embrt {
namespace bench {

using Clock = std::chrono::steady_clock;

// The text after `name` (e.g. "--dims=") when `arg` starts with it, else null.
inline const char* FlagValue(const char* arg, const char* name) {
  const size_t n = std::strlen(name);
  return std::strncmp(arg, name, n) == 0 ? arg + n : nullptr;
}

// "16,64" -> {16, 64}; "" -> {} (e.g. --dims= for no dims).
inline std::vector<int> ParseInts(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p != '\0';) {
    out.push_back(std::atoi(p));
    p = std::strchr(p, ',');
    if (p == nullptr) break;
    ++p;
  }
  return out;
}

// "uniform,zipf" -> {"uniform", "zipf"}.
inline std::vector<std::string> ParseWords(const std::string& text) {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

// Exits with status 2 and the error when `status` is not OK.
inline void Check(const absl::Status& status, const char* what) {
  if (status.ok()) return;
  std::fprintf(stderr, "%s failed: %s\n", what, std::string(status.message()).c_str());
  std::exit(2);
}

inline double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// The parameter value both sides start from, so their activations can be compared.
inline float InitialValue(int64_t row, int d) {
  return static_cast<float>((row * 31 + d * 7) % 1001) * 1e-3f - 0.5f;
}

// One step's ragged ids: `splits` [bags + 1], `ids` [bags * bag size].
struct Batch {
  std::vector<int64_t> splits;
  std::vector<int64_t> ids;
};

// `count` distinct batches (statistically alike, each drawn afresh) of `bags` bags of
// `bag_size` ids in [0, rows): "uniform" or "zipf" (Zipf(1.05), zipf_ids.h).
inline std::vector<Batch> MakeBatches(int count, int bags, int bag_size,
                                      const std::string& distribution, int64_t rows,
                                      uint64_t seed) {
  static const ZipfIds kZipf(1.05);
  std::mt19937_64 random(seed);
  std::vector<Batch> batches(count);
  const bool zipf = distribution == "zipf";
  for (Batch& batch : batches) {
    for (int b = 0; b <= bags; ++b) batch.splits.push_back(int64_t{b} * bag_size);
    for (int64_t k = 0; k < int64_t{bags} * bag_size; ++k) {
      batch.ids.push_back(zipf ? kZipf.Draw(random, rows)
                               : std::uniform_int_distribution<int64_t>(0, rows - 1)(random));
    }
  }
  return batches;
}

}  // namespace bench
}  // namespace embrt

#endif  // EMBRT_BENCH_BENCH_COMMON_H_
