// Copyright embrt authors.
//
// Helpers shared by the checkpoint tests: configs, synthetic table contents, temporary
// directories and status expectations.

#ifndef EMBRT_TESTS_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_
#define EMBRT_TESTS_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "posix_file.h"

namespace embrt {
namespace testing_util {

inline ResolvedConfig ResolveOrDie(const std::string& text) {
  absl::StatusOr<EmbeddingConfig> config = ParseConfigText(text);
  EXPECT_TRUE(config.ok()) << config.status();
  absl::StatusOr<ResolvedConfig> resolved = ResolveConfig(config.ok() ? *config : EmbeddingConfig());
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  return resolved.ok() ? *resolved : ResolvedConfig();
}

// A fresh directory under $TEST_TMPDIR or /tmp, removed on destruction.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TEST_TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/embrt_ckpt_XXXXXX");
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() { internal::RemoveTree(path_).IgnoreError(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

// Synthetic contents of every slot of every table: value(key, table, slot, row, column).
struct SyntheticTables {
  std::vector<std::vector<std::vector<float>>> values;  // [table][slot][row * dim + column]

  static float Value(int64_t key, int table, int slot, int64_t row, int64_t column) {
    return static_cast<float>(key) * 1000.0f + table * 100.0f + slot * 10.0f +
           static_cast<float>(row) + static_cast<float>(column) / 64.0f;
  }

  static SyntheticTables Make(const ResolvedConfig& config, int64_t key) {
    SyntheticTables tables;
    for (size_t t = 0; t < config.tables.size(); ++t) {
      const ResolvedTable& table = config.tables[t];
      auto& slots = tables.values.emplace_back();
      for (size_t s = 0; s < SlotNames(table.optimizer.kind).size(); ++s) {
        auto& data = slots.emplace_back(table.vocabulary_size * table.dim);
        for (int64_t r = 0; r < table.vocabulary_size; ++r) {
          for (int c = 0; c < table.dim; ++c) {
            data[r * table.dim + c] = Value(key, static_cast<int>(t), static_cast<int>(s), r, c);
          }
        }
      }
    }
    return tables;
  }

  // Hands every table to `sink` in chunks of `chunk_rows`, in order or reversed.
  absl::Status Retrieve(const ResolvedConfig& config, const Embedding::RowSink& sink,
                        int64_t chunk_rows = 3, bool reversed = false) const {
    for (size_t t = 0; t < values.size(); ++t) {
      const int64_t rows = config.tables[t].vocabulary_size;
      const int dim = config.tables[t].dim;
      std::vector<int64_t> begins;
      for (int64_t begin = 0; begin < rows; begin += chunk_rows) begins.push_back(begin);
      if (reversed) std::reverse(begins.begin(), begins.end());
      for (int64_t begin : begins) {
        const int64_t count = std::min(chunk_rows, rows - begin);
        std::vector<absl::Span<const float>> spans;
        for (const auto& slot : values[t]) {
          spans.emplace_back(slot.data() + begin * dim, count * dim);
        }
        absl::Status status = sink(static_cast<int>(t), begin, count, spans);
        if (!status.ok()) return status;
      }
    }
    return absl::OkStatus();
  }

  RetrieveTablesFunction AsRetrieve(const ResolvedConfig& config, bool reversed = false) const {
    return [this, &config, reversed](const Embedding::RowSink& sink) {
      return Retrieve(config, sink, 3, reversed);
    };
  }
};

MATCHER_P2(StatusIs, code, substring, "") {
  if (arg.code() == code && std::string(arg.message()).find(substring) != std::string::npos) {
    return true;
  }
  *result_listener << "status is " << arg;
  return false;
}

}  // namespace testing_util
}  // namespace embrt

#endif  // EMBRT_TESTS_CHECKPOINT_CHECKPOINT_TEST_UTIL_H_
