// Copyright embrt authors.
//
// Tests of the initializers (core/src/initializers.cc): exact constant and row-id values,
// truncated-normal bounds and moments, and bit-identical tables whatever the chunking, host count
// and sharding.

#include "initializers.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "embrt/config.h"
#include "embrt/sharding.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace embrt {
namespace internal {
namespace {

ResolvedConfig Resolve(const std::string& text) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(*config);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return *resolved;
}

std::string OneTable(int64_t vocabulary_size, int dim, const std::string& initializer,
                     const std::string& extra = "") {
  return absl::StrCat("tables { name: 'emb' vocabulary_size: ", vocabulary_size, " dim: ", dim, " ",
                      initializer, " } features { table: 'emb' } ", extra);
}

std::vector<float> FillLocal(const ResolvedConfig& config, int table, int host, int64_t begin,
                             int64_t count) {
  std::vector<float> out(count * config.tables[table].dim, -12345.0f);
  FillInitialParameters(config, table, host, begin, count, absl::MakeSpan(out));
  return out;
}

std::vector<float> FillWholeTable(const ResolvedConfig& config, int table) {
  return FillLocal(config, table, 0, 0, config.tables[table].vocabulary_size);
}

// Assembles the whole table from every host's shard, each filled in chunks of `chunk` rows.
std::vector<float> FillFromShards(const std::string& text, int num_hosts, const char* sharding,
                                  int64_t chunk) {
  const int64_t dim = Resolve(text).tables[0].dim;
  const int64_t vocab = Resolve(text).tables[0].vocabulary_size;
  std::vector<float> table(vocab * dim, -1.0f);
  for (int host = 0; host < num_hosts; ++host) {
    ResolvedConfig config = Resolve(
        absl::StrCat(text, " num_hosts: ", num_hosts, " host_id: ", host, " sharding: ", sharding));
    const int64_t rows = ShardRows(vocab, num_hosts, host);
    for (int64_t begin = 0; begin < rows; begin += chunk) {
      const int64_t count = std::min(chunk, rows - begin);
      std::vector<float> part = FillLocal(config, 0, host, begin, count);
      for (int64_t i = 0; i < count; ++i) {
        const int64_t row = GlobalRow(begin + i, vocab, num_hosts, host, config.config.sharding());
        std::memcpy(&table[row * dim], &part[i * dim], dim * sizeof(float));
      }
    }
  }
  return table;
}

bool BitEqual(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(InitializersTest, ConstantIsExact) {
  ResolvedConfig config = Resolve(OneTable(5, 3, "initializer { constant { value: 0.375 } }"));
  EXPECT_THAT(FillWholeTable(config, 0), ::testing::Each(0.375f));
}

TEST(InitializersTest, RowIdIsOffsetPlusGlobalRow) {
  ResolvedConfig config = Resolve(OneTable(13, 2, "initializer { row_id { offset: 100 } }",
                                           "num_hosts: 5 host_id: 3 sharding: MOD"));
  // Host 3 of 5 with MOD holds rows 3 and 8.
  EXPECT_THAT(FillLocal(config, 0, 3, 0, 2), ::testing::ElementsAre(103, 103, 108, 108));
  config = Resolve(OneTable(13, 1, "initializer { row_id {} }", "num_hosts: 5 host_id: 1"));
  // Host 1 of 5 with DIV holds rows 3, 4, 5; start at local row 1.
  EXPECT_THAT(FillLocal(config, 0, 1, 1, 2), ::testing::ElementsAre(4, 5));
}

TEST(InitializersTest, SameValuesWhateverChunkingHostsAndSharding) {
  for (const std::string& initializer :
       {std::string(""), std::string("initializer { random_uniform { minval: -2 maxval: 3 } }"),
        std::string("initializer { truncated_normal { mean: 1 stddev: 0.5 seed: 9 } }"),
        std::string("initializer { row_id { offset: 0.5 } }")}) {
    const std::string text = OneTable(13, 3, initializer, "seed: 77");
    const std::vector<float> reference = FillWholeTable(Resolve(text), 0);
    for (int hosts : {1, 2, 3}) {
      for (const char* sharding : {"DIV", "MOD"}) {
        for (int64_t chunk : {1, 4, 13}) {
          EXPECT_TRUE(BitEqual(FillFromShards(text, hosts, sharding, chunk), reference))
              << initializer << " hosts " << hosts << " " << sharding << " chunk " << chunk;
        }
      }
    }
  }
}

TEST(InitializersTest, SeedsAndTableNamesChangeTheValues) {
  const std::vector<float> base = FillWholeTable(Resolve(OneTable(8, 4, "", "seed: 1")), 0);
  EXPECT_FALSE(BitEqual(base, FillWholeTable(Resolve(OneTable(8, 4, "", "seed: 2")), 0)));
  EXPECT_FALSE(BitEqual(
      base,
      FillWholeTable(
          Resolve(OneTable(8, 4, "initializer { truncated_normal { seed: 3 } }", "seed: 1")), 0)));
  ResolvedConfig two = Resolve(
      "tables { name: 'a' vocabulary_size: 8 dim: 4 } tables { name: 'b' vocabulary_size: 8 "
      "dim: 4 } features { table: 'a' } features { table: 'b' } seed: 1");
  EXPECT_FALSE(BitEqual(FillWholeTable(two, 0), FillWholeTable(two, 1)));
  // Same config, same bits.
  EXPECT_TRUE(BitEqual(base, FillWholeTable(Resolve(OneTable(8, 4, "", "seed: 1")), 0)));
}

TEST(InitializersTest, DefaultIsTruncatedNormalWithStddevOneOverSqrtDim) {
  constexpr int kDim = 16;
  ResolvedConfig config = Resolve(OneTable(4000, kDim, ""));
  const double stddev = 1.0 / std::sqrt(static_cast<double>(kDim));
  const std::vector<float> values = FillWholeTable(config, 0);
  double sum = 0, sum_squares = 0;
  for (float v : values) {
    ASSERT_LE(std::abs(v), 2.0 * stddev * (1 + 1e-6));
    sum += v;
    sum_squares += static_cast<double>(v) * v;
  }
  const double n = static_cast<double>(values.size());
  const double mean = sum / n;
  const double sample_stddev = std::sqrt(sum_squares / n - mean * mean);
  // A normal truncated at ±2σ has stddev 0.8796σ. With n = 64000 the standard errors are about
  // 0.004σ (mean) and 0.003σ (stddev); the bounds are over 5 standard errors wide.
  EXPECT_NEAR(mean, 0.0, 0.02 * stddev);
  EXPECT_NEAR(sample_stddev, 0.8796 * stddev, 0.015 * stddev);
}

TEST(InitializersTest, TruncatedNormalStaysWithinTwoStddevOfItsMean) {
  ResolvedConfig config =
      Resolve(OneTable(2000, 8, "initializer { truncated_normal { mean: -3 stddev: 2 } }"));
  const std::vector<float> values = FillWholeTable(config, 0);
  double sum = 0;
  float low = 100, high = -100;
  for (float v : values) {
    EXPECT_GE(v, -7.0f);
    EXPECT_LE(v, 1.0f);
    low = std::min(low, v);
    high = std::max(high, v);
    sum += v;
  }
  EXPECT_NEAR(sum / values.size(), -3.0, 0.05);
  // The tails are reached: values come close to both truncation points.
  EXPECT_LT(low, -6.8f);
  EXPECT_GT(high, 0.8f);
}

TEST(InitializersTest, UniformCoversItsRange) {
  ResolvedConfig config =
      Resolve(OneTable(1000, 10, "initializer { random_uniform { minval: 2 maxval: 6 } }"));
  const std::vector<float> values = FillWholeTable(config, 0);
  double sum = 0;
  int below_three = 0;
  for (float v : values) {
    ASSERT_GE(v, 2.0f);
    ASSERT_LT(v, 6.0f);
    sum += v;
    below_three += v < 3.0f;
  }
  EXPECT_NEAR(sum / values.size(), 4.0, 0.05);
  EXPECT_NEAR(below_three / static_cast<double>(values.size()), 0.25, 0.02);
}

TEST(InitializersTest, CounterRandomBitsDependsOnEveryCoordinate) {
  const uint64_t base = CounterRandomBits(1, 2, 3, 4);
  EXPECT_EQ(base, CounterRandomBits(1, 2, 3, 4));
  EXPECT_NE(base, CounterRandomBits(5, 2, 3, 4));
  EXPECT_NE(base, CounterRandomBits(1, 5, 3, 4));
  EXPECT_NE(base, CounterRandomBits(1, 2, 5, 4));
  EXPECT_NE(base, CounterRandomBits(1, 2, 3, 5));
  // Swapping row and column must not collide.
  EXPECT_NE(CounterRandomBits(1, 2, 3, 0), CounterRandomBits(1, 3, 2, 0));
  // Bits are balanced: over many counters each bit is set about half the time.
  int set_bits = 0;
  constexpr int kDraws = 4096;
  for (int i = 0; i < kDraws; ++i) set_bits += __builtin_popcountll(CounterRandomBits(7, i, 0, 0));
  EXPECT_NEAR(set_bits / (64.0 * kDraws), 0.5, 0.01);
}

}  // namespace
}  // namespace internal
}  // namespace embrt
