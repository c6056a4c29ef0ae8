// Copyright embrt authors.
//
// The conformance driver: descriptions from a ModelSpec and engine calls in the reference's
// value types (see the header).

#include "plugin_driver.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <utility>

namespace embrt {
namespace conformance {
namespace {

using abi_driver::BoolValue;
using abi_driver::FloatValue;

std::vector<EMBRT_NamedValue> Hyperparameters(const reference::OptimizerSpec& opt) {
  switch (opt.kind) {
    case reference::Optimizer::kSgd:
      return {};
    case reference::Optimizer::kAdagrad:
      return {FloatValue("initial_accumulator_value", opt.adagrad.initial_accumulator_value)};
    case reference::Optimizer::kAdagradMomentum:
      return {FloatValue("momentum", opt.adagrad_momentum.momentum),
              BoolValue("use_nesterov", opt.adagrad_momentum.use_nesterov),
              FloatValue("exponent", opt.adagrad_momentum.exponent),
              FloatValue("beta2", opt.adagrad_momentum.beta2),
              FloatValue("epsilon", opt.adagrad_momentum.epsilon)};
    case reference::Optimizer::kAdam:
      return {FloatValue("beta_1", opt.adam.beta_1), FloatValue("beta_2", opt.adam.beta_2),
              FloatValue("epsilon", opt.adam.epsilon), BoolValue("lazy_adam", opt.adam.lazy_adam),
              BoolValue("sum_inside_sqrt", opt.adam.sum_inside_sqrt)};
    case reference::Optimizer::kFtrl:
      return {FloatValue("learning_rate_power", opt.ftrl.learning_rate_power),
              FloatValue("l1_regularization_strength", opt.ftrl.l1_regularization_strength),
              FloatValue("l2_regularization_strength", opt.ftrl.l2_regularization_strength),
              FloatValue("beta", opt.ftrl.beta),
              FloatValue("initial_accumulator_value", opt.ftrl.initial_accumulator_value),
              BoolValue("multiply_linear_by_learning_rate",
                        opt.ftrl.multiply_linear_by_learning_rate)};
  }
  return {};
}

// Maps a float to an integer whose order is the float order, so that ULP distances subtract.
int64_t OrderedBits(float x) {
  int32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits < 0 ? -static_cast<int64_t>(bits & 0x7fffffff) : static_cast<int64_t>(bits);
}

}  // namespace

Description::Description(const reference::ModelSpec& model,
                         const std::map<std::string, std::string>& options,
                         const EngineSettings& settings) {
  for (size_t t = 0; t < model.tables.size(); ++t) {
    const reference::TableSpec& spec = model.tables[t];
    const reference::OptimizerSpec& opt = spec.optimizer;
    EMBRT_OptimizerDescription o = abi_driver::Optimizer(
        static_cast<EMBRT_OptimizerKind>(opt.kind), opt.learning_rate, opt.learning_rate_tag);
    o.use_gradient_accumulation = opt.use_gradient_accumulation ? 1 : 0;
    o.clip_weight_min = opt.clip_weight_min;
    o.clip_weight_max = opt.clip_weight_max;
    o.clip_gradient_min = opt.clip_gradient_min;
    o.clip_gradient_max = opt.clip_gradient_max;
    o.weight_decay_factor = opt.weight_decay_factor;
    o.multiply_weight_decay_factor_by_learning_rate =
        opt.multiply_weight_decay_factor_by_learning_rate ? 1 : 0;
    AddTable(spec.name.empty() ? "table_" + std::to_string(t) : spec.name, spec.vocabulary_size,
             spec.dim, static_cast<EMBRT_Combiner>(spec.combiner), o, Hyperparameters(opt),
             spec.vocabulary_size);
    const reference::QuantizationSpec quantization = model.QuantizationOf(t);
    tables.back().quantization_num_buckets = quantization.num_buckets;
    tables.back().quantization_lower = quantization.lower;
    tables.back().quantization_upper = quantization.upper;
  }
  for (size_t f = 0; f < model.features.size(); ++f) {
    const reference::FeatureSpec& spec = model.features[f];
    AddFeature(spec.name.empty() ? "feature_" + std::to_string(f) : spec.name, spec.table,
               spec.max_sequence_length, spec.input_rows);
  }
  for (const auto& [key, value] : options) AddOption(key, value);
  description.num_replicas = model.num_replicas;
  description.num_hosts = settings.num_hosts;
  description.host_id = settings.host_id;
  description.sharding = EMBRT_SHARDING_DIV;
  description.pipeline_execution = settings.pipeline_execution;
  description.num_learning_rate_tags = model.num_learning_rate_tags;
  description.allow_nonfinite_gradients = settings.allow_nonfinite_gradients;
  Finish(/*empty_batch_size=*/1);
}

std::unique_ptr<Engine> Engine::Create(const Plugin& plugin, const reference::ModelSpec& model,
                                       CallResult* result,
                                       std::map<std::string, std::string> options,
                                       const EngineSettings& settings) {
  Description description(model, options, settings);
  auto engine = std::unique_ptr<Engine>(new Engine(plugin, model));
  *result = engine->engine_.Create(description.get());
  if (!result->ok()) return nullptr;
  return engine;
}

CallResult Engine::Enqueue(int replica, EMBRT_Mode mode, const reference::ReplicaBatch& batch,
                           bool struct_size_1_0) {
  std::vector<EMBRT_FeatureInput> inputs(batch.size());
  std::vector<const EMBRT_FeatureInput*> pointers;
  for (size_t f = 0; f < batch.size(); ++f) {
    const reference::FeatureBatch& in = batch[f];
    EMBRT_FeatureInput& out = inputs[f];
    out = {};
    out.struct_size =
        struct_size_1_0 ? EMBRT_FeatureInput_STRUCT_SIZE_1_0 : EMBRT_FeatureInput_STRUCT_SIZE;
    out.ids = in.ids.data();
    out.num_ids = in.ids.size();
    out.row_splits = in.row_splits.empty() ? nullptr : in.row_splits.data();
    out.num_row_splits = in.row_splits.size();
    out.weights = in.weights.empty() ? nullptr : in.weights.data();
    if (!struct_size_1_0 && !in.positions.empty()) {
      out.positions = in.positions.data();
      out.num_positions = in.positions.size();
    }
    pointers.push_back(&out);
  }
  EMBRT_Engine_Enqueue_Args args{};
  args.struct_size = struct_size_1_0 ? EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0
                                     : EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
  args.engine = engine_.raw();
  args.replica = replica;
  args.mode = mode;
  args.inputs = pointers.data();
  args.num_inputs = pointers.size();
  return engine_.plugin().Consume(engine_.plugin().api()->Engine_Enqueue(&args));
}

CallResult Engine::Recv(int replica, reference::Activations* activations) {
  activations->assign(model_.features.size(), {});
  std::vector<float*> buffers;
  std::vector<size_t> sizes;
  for (size_t f = 0; f < model_.features.size(); ++f) {
    // NaN-filled so that a value the plugin forgets to write cannot pass as zero.
    (*activations)[f].assign(reference::ActivationSize(model_, static_cast<int>(f)), NAN);
    buffers.push_back((*activations)[f].data());
    sizes.push_back((*activations)[f].size());
  }
  return engine_.RecvInto(replica, buffers, sizes);
}

CallResult Engine::Send(int replica, const reference::Gradients& gradients,
                        const std::vector<float>& learning_rates) {
  return engine_.Send(replica, gradients, learning_rates);
}

CallResult Engine::Load(int table, const std::vector<std::vector<float>>& slots,
                        int64_t row_begin, int64_t row_count) {
  const int64_t dim = model_.tables[table].dim;
  if (row_count < 0) row_count = model_.tables[table].vocabulary_size - row_begin;
  std::vector<const float*> pointers;
  for (const std::vector<float>& slot : slots) pointers.push_back(slot.data() + row_begin * dim);
  return engine_.LoadRaw(table, /*shard=*/0, row_begin, row_count, pointers);
}

CallResult Engine::Retrieve(int table, std::vector<std::vector<float>>* slots) {
  const reference::TableSpec& spec = model_.tables[table];
  const size_t count = reference::SlotNames(spec.optimizer.kind).size();
  slots->assign(count, std::vector<float>(spec.vocabulary_size * spec.dim, NAN));
  std::vector<float*> pointers;
  for (std::vector<float>& slot : *slots) pointers.push_back(slot.data());
  return engine_.RetrieveRaw(table, /*shard=*/0, /*row_begin=*/0, spec.vocabulary_size, pointers);
}

CallResult Engine::Synchronize() {
  return engine_.Synchronize();
}

CallResult Engine::LoadState(const reference::ScalarReference& reference) {
  for (size_t t = 0; t < model_.tables.size(); ++t) {
    std::vector<std::vector<float>> slots;
    for (int s = 0; s < reference.num_slots(static_cast<int>(t)); ++s) {
      slots.push_back(reference.slot(static_cast<int>(t), s));
    }
    CallResult result = Load(static_cast<int>(t), slots);
    if (!result.ok()) return result;
  }
  return {};
}

int64_t CountMismatches(const std::vector<float>& actual, const std::vector<float>& expected,
                        int max_ulps, const std::string& what, std::string* report) {
  std::ostringstream out;
  out.precision(9);
  int64_t mismatches = 0;
  if (actual.size() != expected.size()) {
    out << what << ": " << actual.size() << " values, expected " << expected.size() << "\n";
    *report += out.str();
    return static_cast<int64_t>(std::max(actual.size(), expected.size()));
  }
  for (size_t i = 0; i < actual.size(); ++i) {
    const float a = actual[i];
    const float e = expected[i];
    bool same;
    if (std::isnan(a) || std::isnan(e)) {
      same = std::isnan(a) && std::isnan(e);
    } else {
      const int64_t distance = OrderedBits(a) - OrderedBits(e);
      same = (distance < 0 ? -distance : distance) <= max_ulps;
    }
    if (!same && ++mismatches <= 5) {
      out << what << "[" << i << "]: " << a << " expected " << e << "\n";
    }
  }
  if (mismatches > 5) out << what << ": " << mismatches << " values differ in all\n";
  *report += out.str();
  return mismatches;
}

}  // namespace conformance
}  // namespace embrt
