// Copyright embrt authors.

#include "tools/training/synthetic_clicks.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace embrt {
namespace training {
namespace {

// Distinct values per categorical field of the Criteo Kaggle training set (C1..C26).
constexpr int64_t kCriteoCardinalities[26] = {
    1460,  583,   10131227, 2202608, 305, 24,    12517,   633,    3,      93145,
    5683,  8351593, 3194,   27,      14992, 5461306, 10,  5652,   2173,   4,
    7046547, 18,  15,       286181,  105, 142572};

class SyntheticClickSource : public ExampleSource {
 public:
  SyntheticClickSource(std::shared_ptr<const SyntheticClicks> clicks, int stream, int64_t count,
                       std::vector<int64_t> vocabulary)
      : clicks_(std::move(clicks)),
        seed_(SyntheticStreamSeed(*clicks_, stream)),
        count_(count),
        vocabulary_(std::move(vocabulary)),
        random_(seed_) {}

  const std::vector<std::string>& fields() const override { return clicks_->fields(); }

  absl::StatusOr<bool> Next(Example& example) override {
    if (count_ > 0 && produced_ >= count_) return false;
    clicks_->Sample(random_, example);
    for (size_t f = 0; f < example.ids.size(); ++f) {
      if (vocabulary_[f] > 0) {
        // Ids are >= 0; the division only when needed (tables sized from the generator hold
        // every id, and 26 divisions per example are a good part of generating it).
        if (example.ids[f] >= vocabulary_[f]) example.ids[f] %= vocabulary_[f];
      } else {
        example.ids[f] = 0;
      }
    }
    ++produced_;
    return true;
  }

  absl::Status Rewind() override {
    random_ = Random(seed_);
    produced_ = 0;
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<const SyntheticClicks> clicks_;
  uint64_t seed_;
  int64_t count_;
  std::vector<int64_t> vocabulary_;
  Random random_;
  int64_t produced_ = 0;
};

}  // namespace

SyntheticClicks::SyntheticClicks(const SyntheticClicksOptions& options) : options_(options) {
  const int num_fields = std::clamp(options.num_fields, 1, 26);
  const int dim = std::clamp(options.teacher_dim, 1, 64);
  Random random(MixSeed(options.seed, 0x7eac4e7));
  for (int f = 0; f < num_fields; ++f) {
    fields_.push_back(absl::StrCat("C", f + 1));
    const int64_t cardinality =
        std::max<int64_t>(1, std::min(kCriteoCardinalities[f], options.max_cardinality));
    cardinalities_.push_back(cardinality);

    // Vose's alias method, built deterministically (stable work lists).
    std::vector<double> scaled(cardinality);
    double total = 0;
    for (int64_t r = 0; r < cardinality; ++r) {
      scaled[r] = std::pow(static_cast<double>(r + 1), -options.zipf_exponent);
      total += scaled[r];
    }
    for (double& p : scaled) p *= static_cast<double>(cardinality) / total;
    std::vector<double> keep(cardinality, 1.0);
    std::vector<int32_t> alias(cardinality);
    std::vector<int32_t> small, large;
    for (int64_t r = 0; r < cardinality; ++r) {
      alias[r] = static_cast<int32_t>(r);
      (scaled[r] < 1.0 ? small : large).push_back(static_cast<int32_t>(r));
    }
    while (!small.empty() && !large.empty()) {
      const int32_t s = small.back(), l = large.back();
      small.pop_back();
      keep[s] = scaled[s];
      alias[s] = l;
      scaled[l] -= 1.0 - scaled[s];
      if (scaled[l] < 1.0) {
        large.pop_back();
        small.push_back(l);
      }
    }
    // Whatever is left holds probability 1 up to rounding.
    keep_.push_back(std::move(keep));
    alias_.push_back(std::move(alias));

    std::vector<float> linear(cardinality);
    for (float& w : linear) w = static_cast<float>(options.linear_stddev * random.Normal());
    linear_.push_back(std::move(linear));
    std::vector<float> interaction(cardinality * dim);
    for (float& v : interaction) v = static_cast<float>(options.interaction_stddev * random.Normal());
    interaction_.push_back(std::move(interaction));
  }
  options_.num_fields = num_fields;
  options_.teacher_dim = dim;
}

void SyntheticClicks::Sample(Random& random, Example& example) const {
  example.ids.resize(fields_.size());
  for (size_t f = 0; f < fields_.size(); ++f) {
    const double r = random.Uniform() * static_cast<double>(keep_[f].size());
    const int64_t i = std::min<int64_t>(static_cast<int64_t>(r), keep_[f].size() - 1);
    // Both candidates are loaded before the choice, so that it compiles to a conditional move:
    // as a branch on a random draw it was mispredicted about half the time, and every miss
    // flushed the loads of the next fields' table entries (`perf annotate` of the default job
    // put a quarter of Sample's samples on that compare).
    const int64_t alias = alias_[f][i];
    example.ids[f] = r - static_cast<double>(i) < keep_[f][i] ? i : alias;
  }
  const double probability = 1.0 / (1.0 + std::exp(-TeacherLogit(example.ids)));
  example.label = random.Uniform() < probability ? 1.0f : 0.0f;
}

double SyntheticClicks::TeacherLogit(absl::Span<const int64_t> ids) const {
  const int dim = options_.teacher_dim;
  // Every field's rows are asked for first: each is a random row of a table that does not stay
  // in L2, and the sums below are serial chains that would otherwise wait for one miss at a time.
  for (size_t f = 0; f < fields_.size(); ++f) {
    __builtin_prefetch(&linear_[f][ids[f]]);
    __builtin_prefetch(&interaction_[f][ids[f] * dim]);
  }
  double logit = options_.bias;
  double sum[64] = {0};
  double sum_of_squares = 0;
  for (size_t f = 0; f < fields_.size(); ++f) {
    logit += linear_[f][ids[f]];
    const float* v = &interaction_[f][ids[f] * dim];
    for (int d = 0; d < dim && d < 64; ++d) {
      sum[d] += v[d];
      sum_of_squares += static_cast<double>(v[d]) * v[d];
    }
  }
  double pairwise = -sum_of_squares;
  for (int d = 0; d < dim && d < 64; ++d) pairwise += sum[d] * sum[d];
  return logit + 0.5 * pairwise;
}

uint64_t SyntheticStreamSeed(const SyntheticClicks& clicks, int stream) {
  return MixSeed(clicks.options().seed, 1000 + stream);
}

std::unique_ptr<ExampleSource> OpenSyntheticClicks(std::shared_ptr<const SyntheticClicks> clicks,
                                                   int stream, int64_t count,
                                                   std::vector<int64_t> vocabulary) {
  return std::make_unique<SyntheticClickSource>(std::move(clicks), stream, count,
                                                std::move(vocabulary));
}

void TeacherPredictions(const SyntheticClicks& clicks, int stream, int64_t count,
                        std::vector<float>& probabilities, std::vector<float>& labels) {
  Random random(SyntheticStreamSeed(clicks, stream));
  Example example;
  probabilities.clear();
  labels.clear();
  for (int64_t i = 0; i < count; ++i) {
    clicks.Sample(random, example);
    probabilities.push_back(
        static_cast<float>(1.0 / (1.0 + std::exp(-clicks.TeacherLogit(example.ids)))));
    labels.push_back(example.label);
  }
}

}  // namespace training
}  // namespace embrt
