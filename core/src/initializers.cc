// Copyright embrt authors.
//
// Initial table values from a counter-based generator.
//
// Every random value is a pure function of (key, global row, column, attempt), where the key
// mixes EmbeddingConfig.seed, the initializer's own seed and a hash of the table name. Nothing
// depends on which rows are filled together, so chunking, threads, host count and sharding
// cannot change a single bit.

#include "initializers.h"

#include <cassert>
#include <cmath>
#include <cstdint>
#include <string>

#include "embrt/sharding.h"

namespace embrt {
namespace internal {
namespace {

// A 64-bit finalizer with full avalanche (every input bit flips each output bit with
// probability about 1/2); the multipliers are the well-known odd constants of Stafford's
// "Mix13" variant.
uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// FNV-1a over the bytes of `text`: stable across platforms and releases, unlike std::hash.
uint64_t StableHash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

uint64_t TableKey(uint64_t global_seed, uint64_t initializer_seed, const std::string& name) {
  uint64_t key = Mix64(global_seed ^ 0x6a09e667f3bcc908ULL);
  key = Mix64(key ^ initializer_seed);
  key = Mix64(key ^ StableHash(name));
  return key;
}

// A double in [0, 1) from the top 53 bits.
double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Box-Muller with both uniforms from one 64-bit draw (32 bits each): enough resolution for
// float output, and one draw per attempt keeps the counter simple.
double StandardNormal(uint64_t bits) {
  const double u1 = (static_cast<double>(bits >> 32) + 1.0) * 0x1.0p-32;    // (0, 1]
  const double u2 = static_cast<double>(bits & 0xffffffffULL) * 0x1.0p-32;  // [0, 1)
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

// Redraws beyond this many attempts are astronomically unlikely (each attempt is outside
// ±2σ with probability 0.0455); the fallback keeps the function total and deterministic.
constexpr uint64_t kMaxTruncatedNormalAttempts = 64;

float TruncatedNormal(uint64_t key, int64_t row, int64_t column, float mean, float stddev) {
  const double lower = static_cast<double>(mean) - 2.0 * stddev;
  const double upper = static_cast<double>(mean) + 2.0 * stddev;
  for (uint64_t attempt = 0; attempt < kMaxTruncatedNormalAttempts; ++attempt) {
    const double z = StandardNormal(CounterRandomBits(key, row, column, attempt));
    if (z < -2.0 || z > 2.0) continue;
    const double value = static_cast<double>(mean) + static_cast<double>(stddev) * z;
    // Rounding to float must not step outside the truncation interval.
    float result = static_cast<float>(value);
    if (result < lower) result = std::nextafter(static_cast<float>(lower), INFINITY);
    if (result > upper) result = std::nextafter(static_cast<float>(upper), -INFINITY);
    return result;
  }
  return mean;
}

float Uniform(uint64_t key, int64_t row, int64_t column, float minval, float maxval) {
  const double u = UnitInterval(CounterRandomBits(key, row, column, 0));
  const double value =
      static_cast<double>(minval) + (static_cast<double>(maxval) - static_cast<double>(minval)) * u;
  float result = static_cast<float>(value);
  // [minval, maxval): rounding must not reach maxval.
  if (result >= maxval) result = std::nextafter(maxval, minval);
  if (result < minval) result = minval;
  return result;
}

}  // namespace

uint64_t CounterRandomBits(uint64_t key, int64_t row, int64_t column, uint64_t attempt) {
  // Each coordinate is absorbed through a full mix, so nearby counters give unrelated bits.
  uint64_t x = Mix64(key ^ 0x243f6a8885a308d3ULL);
  x = Mix64(x ^ static_cast<uint64_t>(row));
  x = Mix64(x ^ (static_cast<uint64_t>(column) * 0x9e3779b97f4a7c15ULL));
  x = Mix64(x ^ (attempt * 0xd1b54a32d192ed03ULL));
  return x;
}

void FillInitialParameters(const ResolvedConfig& config, int table_index, int host_id,
                           int64_t local_row_begin, int64_t row_count, absl::Span<float> out) {
  const ResolvedTable& table = config.tables[table_index];
  const int64_t dim = table.dim;
  assert(static_cast<int64_t>(out.size()) == row_count * dim);
  const int num_hosts = config.config.num_hosts();
  const Sharding sharding = config.config.sharding();
  const InitializerConfig& initializer = table.initializer;

  uint64_t initializer_seed = 0;
  if (initializer.has_random_uniform()) initializer_seed = initializer.random_uniform().seed();
  if (initializer.has_truncated_normal()) {
    initializer_seed = initializer.truncated_normal().seed();
  }
  const uint64_t key = TableKey(config.config.seed(), initializer_seed, table.name);

  for (int64_t i = 0; i < row_count; ++i) {
    const int64_t row =
        GlobalRow(local_row_begin + i, table.vocabulary_size, num_hosts, host_id, sharding);
    float* values = out.data() + i * dim;
    switch (initializer.kind_case()) {
      case InitializerConfig::kConstant:
        for (int64_t c = 0; c < dim; ++c) values[c] = initializer.constant().value();
        break;
      case InitializerConfig::kRowId: {
        const float value = static_cast<float>(static_cast<double>(initializer.row_id().offset()) +
                                               static_cast<double>(row));
        for (int64_t c = 0; c < dim; ++c) values[c] = value;
        break;
      }
      case InitializerConfig::kRandomUniform: {
        const float minval = initializer.random_uniform().minval();
        const float maxval = initializer.random_uniform().maxval();
        for (int64_t c = 0; c < dim; ++c) values[c] = Uniform(key, row, c, minval, maxval);
        break;
      }
      case InitializerConfig::kTruncatedNormal:
      case InitializerConfig::KIND_NOT_SET: {
        // ResolveConfig always sets the kind and the stddev; the fallback mirrors its default.
        const float mean = initializer.truncated_normal().mean();
        const float stddev = initializer.truncated_normal().has_stddev()
                                 ? initializer.truncated_normal().stddev()
                                 : static_cast<float>(1.0 / std::sqrt(static_cast<double>(dim)));
        for (int64_t c = 0; c < dim; ++c) values[c] = TruncatedNormal(key, row, c, mean, stddev);
        break;
      }
    }
  }
}

}  // namespace internal
}  // namespace embrt
