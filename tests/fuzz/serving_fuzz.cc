// Copyright embrt authors.
//
// Fuzz target: ServingLookup's inputs (dense, sparse and ragged ids with random shapes,
// indices, splits and weights) on a small checkpoint written once per process. Its tables cover
// the three combiners, a dim with a kernel of its own (16) and one without (3); its features
// include a sequence feature and an output_shape. A lookup either fails with INVALID_ARGUMENT
// or returns a tensor whose last dim is the table's, whose size is its shape's product and
// within ServingOptions::max_output_floats; the same lookup again, by LookupFeatureInto into a
// larger tensor of NaN, gives the same shape and bits (it writes every float it returns).

#include <stdlib.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/inputs.h"
#include "embrt/serving.h"
#include "fuzz_feature_input.h"
#include "fuzz_input.h"

namespace {

constexpr int64_t kOutputBound = int64_t{1} << 22;

constexpr char kConfig[] = R"pb(
  tables { name: "sum16" vocabulary_size: 40 dim: 16 combiner: SUM }
  tables { name: "mean3" vocabulary_size: 40 dim: 3 combiner: MEAN }
  tables { name: "sqrtn16" vocabulary_size: 40 dim: 16 combiner: SQRTN }
  features { name: "a" table: "sum16" }
  features { name: "b" table: "mean3" }
  features { name: "c" table: "sqrtn16" }
  features { name: "sequence" table: "sum16" max_sequence_length: 3 }
  features {
    name: "shaped"
    table: "mean3"
    output_shape: [ 2, 3 ]
  }
  per_replica_batch_size: 4
)pb";

// The checkpoint's directory, removed when the process exits.
class CheckpointRoot {
 public:
  CheckpointRoot() {
    const char* dir = std::getenv("TMPDIR");
    std::string pattern =
        std::string(dir != nullptr && *dir ? dir : "/tmp") + "/embrt_serving_fuzz_XXXXXX";
    FUZZ_CHECK(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~CheckpointRoot() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Rows hold distinct finite values: row r of table t, element d = t + r / 64 + d / 4096.
// Function-local statics, destroyed at exit in reverse order: the lookup, then the directory.
const embrt::ServingLookup& Serving() {
  static const CheckpointRoot root;
  static const std::unique_ptr<embrt::ServingLookup> serving = [] {
    absl::StatusOr<embrt::EmbeddingConfig> parsed = embrt::ParseConfigText(kConfig);
    FUZZ_CHECK(parsed.ok());
    absl::StatusOr<embrt::ResolvedConfig> config = embrt::ResolveConfig(*parsed);
    FUZZ_CHECK(config.ok());
    auto rows = [&](const embrt::Embedding::RowSink& sink) -> absl::Status {
      for (size_t t = 0; t < config->tables.size(); ++t) {
        const embrt::ResolvedTable& table = config->tables[t];
        std::vector<float> values(static_cast<size_t>(table.vocabulary_size) * table.dim);
        for (size_t i = 0; i < values.size(); ++i) {
          values[i] = static_cast<float>(t) + static_cast<float>(i / table.dim) / 64.0f +
                      static_cast<float>(i % table.dim) / 4096.0f;
        }
        std::vector<absl::Span<const float>> slots = {values};
        absl::Status status = sink(static_cast<int>(t), 0, table.vocabulary_size, slots);
        if (!status.ok()) return status;
      }
      return absl::OkStatus();
    };
    FUZZ_CHECK(embrt::WriteCheckpoint(*config, 1, rows, root.path()).ok());
    // A request's dense_shape or sizes may ask for any output: bounded well under libFuzzer's
    // memory limit (larger is INVALID_ARGUMENT, as the default 2^30 is for a server).
    embrt::ServingOptions options;
    options.max_output_floats = kOutputBound;
    absl::StatusOr<std::unique_ptr<embrt::ServingLookup>> opened =
        embrt::ServingLookup::Open(root.path(), options);
    FUZZ_CHECK(opened.ok());
    return *std::move(opened);
  }();
  return *serving;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const embrt::ServingLookup& serving = Serving();
  embrt::fuzz::FuzzInput in(data, size);
  const int feature = static_cast<int>(in.TakeInRange(0, 4));
  embrt::fuzz::FuzzFeatureInput taken;
  embrt::fuzz::TakeFeatureInput(in, /*max_values=*/48, &taken);
  const embrt::FeatureInput& input = taken.input;
  const std::optional<embrt::FeatureWeights>& weights = taken.weights;

  absl::StatusOr<embrt::Tensor> out = serving.LookupFeature(feature, input, weights);
  if (!out.ok()) {
    FUZZ_CHECK(out.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  const embrt::ResolvedConfig& config = serving.config();
  const int32_t dim = config.tables[config.features[feature].table_index].dim;
  FUZZ_CHECK(!out->shape.empty() && out->shape.back() == dim);
  int64_t floats = 1;
  for (int64_t d : out->shape) floats *= d;
  FUZZ_CHECK(static_cast<size_t>(floats) == out->values.size());
  FUZZ_CHECK(floats <= kOutputBound);
  embrt::Tensor again;
  again.values.assign(out->values.size() + 5, std::nanf(""));
  FUZZ_CHECK(serving.LookupFeatureInto(feature, input, weights, &again).ok());
  FUZZ_CHECK(again.shape == out->shape && again.values.size() == out->values.size());
  if (!out->values.empty()) {  // an empty vector's data() may be null, which memcmp may not get
    FUZZ_CHECK(std::memcmp(again.values.data(), out->values.data(),
                           out->values.size() * sizeof(float)) == 0);
  }
  return 0;
}
