// Copyright embrt authors.
//
// Random cases for differential tests (see the header).

#include "random_model.h"

#include <algorithm>
#include <limits>
#include <sstream>

namespace embrt {
namespace reference {

uint64_t RandomSource::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int64_t RandomSource::Int(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
}

float RandomSource::Float(float lo, float hi) {
  const float unit = static_cast<float>(Next() >> 40) / 16777216.0f;  // 24 bits: [0, 1)
  return lo + (hi - lo) * unit;
}

bool RandomSource::Chance(double probability) {
  return static_cast<double>(Next() >> 11) / 9007199254740992.0 < probability;
}

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

template <typename T>
T Pick(RandomSource& random, std::initializer_list<T> values) {
  return *(values.begin() + random.Int(0, static_cast<int64_t>(values.size()) - 1));
}

OptimizerSpec RandomOptimizer(RandomSource& random, Optimizer kind, int* num_tags) {
  OptimizerSpec o;
  o.kind = kind;
  o.learning_rate = random.Float(0.01f, 0.5f);
  if (random.Chance(0.2)) o.learning_rate_tag = (*num_tags)++;
  o.use_gradient_accumulation = !random.Chance(0.15);
  if (o.use_gradient_accumulation && random.Chance(0.25)) {
    o.clip_gradient_min = random.Chance(0.2) ? -kInf : random.Float(-1.0f, -0.05f);
    o.clip_gradient_max = random.Chance(0.2) ? kInf : random.Float(0.05f, 1.0f);
  }
  if (random.Chance(0.2)) {
    o.clip_weight_min = random.Chance(0.2) ? -kInf : random.Float(-2.0f, -0.5f);
    o.clip_weight_max = random.Chance(0.2) ? kInf : random.Float(0.5f, 2.0f);
  }
  if (random.Chance(0.25)) {
    o.weight_decay_factor = random.Float(0.001f, 0.1f);
    o.multiply_weight_decay_factor_by_learning_rate = random.Chance(0.5);
  }
  switch (kind) {
    case Optimizer::kSgd:
      break;
    case Optimizer::kAdagrad:
      o.adagrad.initial_accumulator_value = random.Float(0.05f, 1.0f);
      break;
    case Optimizer::kAdagradMomentum:
      o.adagrad_momentum.momentum = random.Chance(0.2) ? 0.0f : random.Float(0.0f, 0.95f);
      o.adagrad_momentum.use_nesterov = random.Chance(0.5);
      o.adagrad_momentum.exponent = Pick(random, {2.0f, 3.0f, 1.5f, 4.0f});
      o.adagrad_momentum.beta2 = random.Chance(0.4) ? 1.0f : random.Float(0.5f, 0.999f);
      o.adagrad_momentum.epsilon = Pick(random, {1e-10f, 1e-3f, 0.1f});
      break;
    case Optimizer::kAdam:
      o.adam.beta_1 = random.Float(0.0f, 0.95f);
      o.adam.beta_2 = random.Float(0.9f, 0.9999f);
      o.adam.epsilon = Pick(random, {1e-7f, 1e-3f, 0.5f});
      o.adam.lazy_adam = !o.use_gradient_accumulation || random.Chance(0.6);
      o.adam.sum_inside_sqrt = random.Chance(0.5);
      break;
    case Optimizer::kFtrl:
      o.ftrl.learning_rate_power = Pick(random, {-0.5f, -0.25f, -1.0f, -0.75f});
      o.ftrl.l1_regularization_strength = random.Chance(0.5) ? 0.0f : random.Float(0.0f, 0.5f);
      o.ftrl.l2_regularization_strength = random.Chance(0.5) ? 0.0f : random.Float(0.0f, 0.5f);
      o.ftrl.beta = random.Chance(0.5) ? 0.0f : random.Float(0.0f, 1.0f);
      o.ftrl.initial_accumulator_value = random.Float(0.05f, 1.0f);
      o.ftrl.multiply_linear_by_learning_rate = random.Chance(0.5);
      break;
  }
  return o;
}

}  // namespace

ModelSpec RandomModel(RandomSource& random, const RandomModelLimits& limits) {
  std::vector<Optimizer> kinds = limits.optimizers;
  if (kinds.empty()) {
    kinds = {Optimizer::kSgd, Optimizer::kAdagrad, Optimizer::kAdagradMomentum,
             Optimizer::kAdam, Optimizer::kFtrl};
  }
  ModelSpec model;
  model.num_replicas = limits.num_replicas;
  const int num_tables = static_cast<int>(random.Int(1, limits.max_tables));
  int num_tags = 0;
  for (int t = 0; t < num_tables; ++t) {
    TableSpec table;
    table.name = "table_" + std::to_string(t);
    table.vocabulary_size = random.Chance(0.1) ? 1 : random.Int(1, limits.max_vocabulary);
    if (limits.min_dim > 1) {
      table.dim = static_cast<int32_t>(random.Int(limits.min_dim, limits.max_dim));
    } else {  // the draws of every seed before min_dim existed
      table.dim = random.Chance(0.1) ? 1 : static_cast<int32_t>(random.Int(1, limits.max_dim));
    }
    table.combiner =
        limits.combiners.empty()
            ? Pick(random, {Combiner::kSum, Combiner::kMean, Combiner::kSqrtn})
            : limits.combiners[random.Int(0, static_cast<int64_t>(limits.combiners.size()) - 1)];
    const Optimizer kind = kinds[random.Int(0, static_cast<int64_t>(kinds.size()) - 1)];
    table.optimizer = RandomOptimizer(random, kind, &num_tags);
    model.tables.push_back(table);
  }
  model.num_learning_rate_tags = num_tags;
  const int64_t batch = random.Int(1, limits.max_batch);
  for (int t = 0; t < num_tables; ++t) {
    const int count = static_cast<int>(random.Int(1, limits.max_features_per_table));
    for (int k = 0; k < count; ++k) {
      FeatureSpec feature;
      feature.table = t;
      feature.input_rows = batch;
      if (random.Chance(0.2)) feature.max_sequence_length = static_cast<int32_t>(random.Int(1, 4));
      model.features.push_back(feature);
    }
  }
  // Features of one table need not be adjacent: shuffle (Fisher-Yates on our own stream).
  for (size_t i = model.features.size(); i > 1; --i) {
    std::swap(model.features[i - 1], model.features[random.Int(0, static_cast<int64_t>(i) - 1)]);
  }
  for (size_t f = 0; f < model.features.size(); ++f) {
    model.features[f].name = "feature_" + std::to_string(f);
  }
  return model;
}

ReplicaBatch RandomBatch(RandomSource& random, const ModelSpec& model, bool sequence_positions) {
  ReplicaBatch batch;
  for (const FeatureSpec& feature : model.features) {
    const int64_t vocab = model.tables[feature.table].vocabulary_size;
    FeatureBatch input;
    const bool sequence = feature.max_sequence_length > 0;
    const bool dense = !sequence && random.Chance(0.15);
    const bool weighted = !sequence && !dense && random.Chance(0.5);  // as the core allows
    // A few hot ids so that duplicates (in a bag, across bags and features) are common.
    std::vector<int64_t> hot;
    for (int i = 0; i < 3; ++i) hot.push_back(random.Int(0, vocab - 1));
    if (!dense) input.row_splits.push_back(0);
    for (int64_t b = 0; b < feature.input_rows; ++b) {
      int64_t length;
      if (dense) {
        length = 1;
      } else if (sequence) {
        length = random.Int(0, feature.max_sequence_length);
      } else {
        length = random.Chance(0.15) ? 0 : random.Int(1, 6);
      }
      for (int64_t k = 0; k < length; ++k) {
        input.ids.push_back(random.Chance(0.4) ? hot[random.Int(0, 2)]
                                               : random.Int(0, vocab - 1));
        if (weighted) {
          input.weights.push_back(random.Chance(0.1)    ? 0.0f
                                  : random.Chance(0.05) ? random.Float(-1.0f, 0.0f)
                                                        : random.Float(0.1f, 2.0f));
        }
      }
      if (!dense) input.row_splits.push_back(static_cast<int32_t>(input.ids.size()));
      if (sequence && sequence_positions) {
        // `length` of the L positions, each kept with the chance still needed, in order.
        int64_t left = length;
        for (int32_t p = 0; p < feature.max_sequence_length && left > 0; ++p) {
          if (random.Int(1, feature.max_sequence_length - p) <= left) {
            input.positions.push_back(p);
            --left;
          }
        }
      }
    }
    batch.push_back(std::move(input));
  }
  return batch;
}

Gradients RandomGradients(RandomSource& random, const ModelSpec& model,
                          double none_probability) {
  Gradients gradients;
  for (size_t f = 0; f < model.features.size(); ++f) {
    std::vector<float> g;
    if (!random.Chance(none_probability)) {
      g.resize(ActivationSize(model, static_cast<int>(f)));
      for (float& x : g) x = random.Float(-1.0f, 1.0f);
    }
    gradients.push_back(std::move(g));
  }
  return gradients;
}

std::vector<float> RandomLearningRates(RandomSource& random, const ModelSpec& model) {
  std::vector<float> rates;
  for (int i = 0; i < model.num_learning_rate_tags; ++i) rates.push_back(random.Float(0.01f, 0.5f));
  return rates;
}

void RandomizeState(RandomSource& random, ScalarReference& reference) {
  const ModelSpec& model = reference.model();
  for (size_t t = 0; t < model.tables.size(); ++t) {
    const int table = static_cast<int>(t);
    for (float& x : reference.slot(table, 0)) x = random.Float(-1.0f, 1.0f);
    switch (model.tables[t].optimizer.kind) {
      case Optimizer::kSgd:
        break;
      case Optimizer::kAdagrad:
        for (float& x : reference.slot(table, 1)) x = random.Float(0.05f, 2.0f);
        break;
      case Optimizer::kAdagradMomentum:
        for (float& x : reference.slot(table, 1)) x = random.Float(0.0f, 2.0f);
        for (float& x : reference.slot(table, 2)) x = random.Float(-1.0f, 1.0f);
        break;
      case Optimizer::kAdam:
        for (float& x : reference.slot(table, 1)) x = random.Float(-1.0f, 1.0f);
        for (float& x : reference.slot(table, 2)) x = random.Float(0.0f, 1.0f);
        break;
      case Optimizer::kFtrl:
        for (float& x : reference.slot(table, 1)) x = random.Float(0.05f, 2.0f);
        for (float& x : reference.slot(table, 2)) x = random.Float(-1.0f, 1.0f);
        break;
    }
  }
}

std::string Describe(const ModelSpec& model) {
  static const char* const kCombiners[] = {"?", "sum", "mean", "sqrtn"};
  std::ostringstream out;
  out << "replicas " << model.num_replicas << ", tags " << model.num_learning_rate_tags << "\n";
  for (size_t t = 0; t < model.tables.size(); ++t) {
    const TableSpec& table = model.tables[t];
    const OptimizerSpec& o = table.optimizer;
    out << "table " << t << ": vocab " << table.vocabulary_size << " dim " << table.dim << " "
        << kCombiners[static_cast<int>(table.combiner)] << " " << SlotNames(o.kind).size()
        << "-slot optimizer kind " << static_cast<int>(o.kind) << " lr " << o.learning_rate
        << " tag " << o.learning_rate_tag << " accumulation " << o.use_gradient_accumulation
        << " gclip [" << o.clip_gradient_min << ", " << o.clip_gradient_max << "] wclip ["
        << o.clip_weight_min << ", " << o.clip_weight_max << "] decay " << o.weight_decay_factor
        << (o.multiply_weight_decay_factor_by_learning_rate ? "*lr" : "");
    if (o.kind == Optimizer::kAdam) {
      out << " adam b1 " << o.adam.beta_1 << " b2 " << o.adam.beta_2 << " eps " << o.adam.epsilon
          << " lazy " << o.adam.lazy_adam << " inside " << o.adam.sum_inside_sqrt;
    } else if (o.kind == Optimizer::kFtrl) {
      out << " ftrl power " << o.ftrl.learning_rate_power << " l1 "
          << o.ftrl.l1_regularization_strength << " l2 " << o.ftrl.l2_regularization_strength
          << " beta " << o.ftrl.beta << " mult " << o.ftrl.multiply_linear_by_learning_rate;
    } else if (o.kind == Optimizer::kAdagradMomentum) {
      out << " momentum " << o.adagrad_momentum.momentum << " nesterov "
          << o.adagrad_momentum.use_nesterov << " exponent " << o.adagrad_momentum.exponent
          << " beta2 " << o.adagrad_momentum.beta2 << " eps " << o.adagrad_momentum.epsilon;
    }
    out << "\n";
  }
  for (size_t f = 0; f < model.features.size(); ++f) {
    const FeatureSpec& feature = model.features[f];
    out << "feature " << f << ": table " << feature.table << " rows " << feature.input_rows
        << " L " << feature.max_sequence_length << "\n";
  }
  return out.str();
}

}  // namespace reference
}  // namespace embrt
