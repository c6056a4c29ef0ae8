// Copyright embrt authors.

#include "tools/training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/status_macros.h"
#include "tools/training/batch_reader.h"
#include "tools/training/best_checkpoints.h"
#include "tools/training/checkpoint_config.h"
#include "tools/training/default_config.h"
#include "tools/training/host_state.h"
#include "tools/training/memory_budget.h"
#include "tools/training/resume_checkpoint.h"
#include "tools/training/metrics.h"
#include "tools/training/parameter_snapshot.h"
#include "tools/training/progress.h"
#include "tools/training/report.h"

namespace embrt {
namespace training {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const char* LossName(Loss loss) { return loss == Loss::kLogistic ? "logistic" : "squared"; }

absl::StatusOr<Loss> ParseLossName(const std::string& name) {
  if (name == "logistic") return Loss::kLogistic;
  if (name == "squared") return Loss::kSquared;
  return absl::DataLossError(absl::StrCat("unknown loss '", name, "' in host state"));
}

// The embedding engine with the host model's buffers.
// Several hosts (mpirun -np N): every host reads the same global batch, looks up and trains
// the embeddings of its slice [host_id * local_batch, + local_batch), and gathers every host's
// activations, so the host model (factorization machine, bias) runs on the whole global batch
// the same way on every host. The embedding work is split; the small host model is replicated.
struct Model {
  std::unique_ptr<Embedding> embedding;
  std::unique_ptr<FactorizationMachine> fm;
  int dim = 0;
  int batch_size = 0;   // global batch
  int num_hosts = 1;
  int host_id = 0;
  int local_batch = 0;  // batch_size / num_hosts: this host's replica
  std::vector<std::vector<float>> local_activations;  // per feature [local_batch, dim]
  std::vector<std::vector<float>> activations;  // per feature [batch, dim]
  std::vector<std::vector<float>> gradients;
  std::vector<float> scores, score_gradients;
  double embedding_seconds = 0;
  double host_seconds = 0;

  std::vector<absl::Span<const float>> ActivationViews() const {
    return {activations.begin(), activations.end()};
  }

  // Enqueue + Dequeue + Forward: scores for every row of the batch.
  absl::Status Lookup(const Batch& batch, bool training, float bias) {
    std::vector<FeatureInput> inputs;
    for (const std::vector<int64_t>& ids : batch.ids) {
      inputs.push_back(FeatureInput::Dense(
          absl::MakeConstSpan(ids).subspan(size_t{1} * host_id * local_batch, local_batch),
          {local_batch}));
    }
    Clock::time_point start = Clock::now();
    EMBRT_RETURN_IF_ERROR(embedding->Enqueue(inputs, {}, training));
    std::vector<absl::Span<float>> outputs(num_hosts == 1 ? activations.begin()
                                                          : local_activations.begin(),
                                           num_hosts == 1 ? activations.end()
                                                          : local_activations.end());
    EMBRT_RETURN_IF_ERROR(embedding->DequeueInto(outputs));
    if (num_hosts > 1) EMBRT_RETURN_IF_ERROR(GatherActivations());
    embedding_seconds += SecondsSince(start);
    start = Clock::now();
    fm->Forward(ActivationViews(), batch_size, bias, absl::MakeSpan(scores));
    host_seconds += SecondsSince(start);
    return absl::OkStatus();
  }

  // Every host's local activations, in host order, into `activations`.
  absl::Status GatherActivations() {
    std::string local;
    for (const std::vector<float>& a : local_activations) {
      local.append(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(float));
    }
    EMBRT_ASSIGN_OR_RETURN(std::vector<std::string> all, embedding->AllGatherFromHosts(local));
    const size_t slice = size_t{1} * local_batch * dim;
    for (int h = 0; h < num_hosts; ++h) {
      if (all[h].size() != local.size()) {
        return absl::InternalError(absl::StrCat("host ", h, " sent ", all[h].size(),
                                                " bytes of activations, expected ", local.size()));
      }
      for (size_t f = 0; f < activations.size(); ++f) {
        std::memcpy(activations[f].data() + h * slice, all[h].data() + f * slice * sizeof(float),
                    slice * sizeof(float));
      }
    }
    return absl::OkStatus();
  }

  // This host's slice of the gradients, shaped like its activations.
  void LocalGradientViews(std::vector<std::optional<TensorView>>& views) const {
    const size_t slice = size_t{1} * local_batch * dim;
    for (size_t f = 0; f < views.size(); ++f) {
      views[f] = TensorView{absl::MakeConstSpan(gradients[f]).subspan(host_id * slice, slice),
                            {local_batch, dim}};
    }
  }
};

absl::StatusOr<Model> BuildModel(const EmbeddingConfig& config, int batch_size) {
  EMBRT_ASSIGN_OR_RETURN(ResolvedConfig resolved, ResolveConfig(config));
  if (resolved.features.empty()) {
    return absl::InvalidArgumentError("the config has no features");
  }
  Model model;
  model.batch_size = batch_size;
  model.dim = resolved.tables[resolved.features[0].table_index].dim;
  for (size_t f = 0; f < resolved.features.size(); ++f) {
    const ResolvedTable& table = resolved.tables[resolved.features[f].table_index];
    if (table.dim != model.dim) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", resolved.features[f].name, "' looks up table '", table.name,
          "' of dim ", table.dim, ", but the factorization machine needs every feature's dim to "
          "be the same (", model.dim, " for feature '", resolved.features[0].name, "')"));
    }
    if (!resolved.features[f].output_shape.empty() &&
        resolved.features[f].output_shape != std::vector<int64_t>{batch_size}) {
      return absl::InvalidArgumentError(absl::StrCat(
          "feature '", resolved.features[f].name, "': output_shape must be empty or [",
          batch_size, "] (one id per example)"));
    }
  }
  EMBRT_RETURN_IF_ERROR(CheckFitsInMemory(
      absl::StrCat("batch size ", batch_size, " (--batch_size or per_replica_batch_size)"),
      "per-step buffers", StepBufferBytes(batch_size, resolved.features.size(), model.dim)));
  EMBRT_ASSIGN_OR_RETURN(model.embedding, Embedding::Create(config));
  model.num_hosts = model.embedding->config().config.num_hosts();
  model.host_id = model.embedding->config().config.host_id();
  if (batch_size % model.num_hosts != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--batch_size ", batch_size, " is the global batch; it must split evenly between the ",
        model.num_hosts, " hosts of this mpirun job"));
  }
  model.local_batch = batch_size / model.num_hosts;
  EMBRT_RETURN_IF_ERROR(model.embedding->Build(model.local_batch));
  const size_t features = resolved.features.size();
  model.fm = std::make_unique<FactorizationMachine>(static_cast<int>(features), model.dim);
  model.activations.assign(features, std::vector<float>(size_t{1} * batch_size * model.dim));
  model.gradients = model.activations;
  if (model.num_hosts > 1) {
    model.local_activations.assign(features,
                                   std::vector<float>(size_t{1} * model.local_batch * model.dim));
  }
  model.scores.assign(batch_size, 0.0f);
  model.score_gradients.assign(batch_size, 0.0f);
  return model;
}

// Evaluates on every example of `source` (rewound first).
absl::StatusOr<EvalResult> RunEvaluation(Model& model, ExampleSource& source,
                                         const std::vector<int>& feature_fields, Loss loss,
                                         float bias) {
  EMBRT_RETURN_IF_ERROR(source.Rewind());
  Batch batch(model.batch_size, static_cast<int>(feature_fields.size()));
  Example scratch;
  std::vector<float> predictions, labels;
  double total_loss = 0;
  int64_t epochs = 0;
  bool finished = false;
  while (!finished) {
    absl::Status filled = FillBatch(
        source, feature_fields, [](int64_t) { return false; }, epochs, batch, scratch, finished);
    EMBRT_RETURN_IF_ERROR(filled);
    if (batch.count == 0) break;
    EMBRT_RETURN_IF_ERROR(model.Lookup(batch, /*training=*/false, bias));
    for (int i = 0; i < batch.count; ++i) {
      predictions.push_back(static_cast<float>(Predict(loss, model.scores[i])));
      labels.push_back(batch.labels[i]);
      total_loss += ComputeLoss(loss, model.scores[i], batch.labels[i]).loss;
    }
  }
  if (predictions.empty()) {
    return absl::InvalidArgumentError("the evaluation data holds no example");
  }
  EvalResult result;
  result.examples = static_cast<int64_t>(predictions.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result.loss = result.examples ? total_loss / result.examples : nan;
  if (loss == Loss::kLogistic) {
    result.auc = Auc(predictions, labels);
    result.log_loss = LogLoss(predictions, labels);
    result.rmse = result.mae = nan;
  } else {
    result.rmse = Rmse(predictions, labels);
    result.mae = Mae(predictions, labels);
    result.auc = result.log_loss = nan;
  }
  return result;
}

EvalResult TeacherResult(const SyntheticClicks& clicks, int64_t count) {
  std::vector<float> probabilities, labels;
  TeacherPredictions(clicks, 1, count, probabilities, labels);
  EvalResult result;
  result.examples = count;
  result.auc = Auc(probabilities, labels);
  result.log_loss = LogLoss(probabilities, labels);
  result.loss = result.log_loss;
  result.rmse = result.mae = std::numeric_limits<double>::quiet_NaN();
  return result;
}

StoredMetrics ToStored(const EvalResult& r) {
  return StoredMetrics{r.examples, r.loss, r.auc, r.log_loss, r.rmse, r.mae};
}

EvalResult FromStored(const StoredMetrics& m) {
  EvalResult r;
  r.examples = m.examples;
  r.loss = m.loss;
  r.auc = m.auc;
  r.log_loss = m.log_loss;
  r.rmse = m.rmse;
  r.mae = m.mae;
  return r;
}

// Skips `count` training examples (resuming), cycling through the data like training does;
// returns the passes completed on the way. Reads at most one pass plus `count` modulo the pass
// length: whole passes are skipped by arithmetic (and a rewind each, which reads nothing but
// keeps a shuffled source's per-pass order), so a huge count never means a huge read.
absl::StatusOr<int64_t> SkipExamples(ExampleSource& source, int64_t count) {
  Example scratch;
  int64_t read_this_pass = 0, passes = 0;
  for (int64_t i = 0; i < count;) {
    EMBRT_ASSIGN_OR_RETURN(bool got, source.Next(scratch));
    if (got) {
      ++i;
      ++read_this_pass;
      continue;
    }
    if (read_this_pass == 0) return absl::InvalidArgumentError("the data holds no example");
    int64_t skipped_passes = 0;
    if (read_this_pass == i) {  // after the first pass
      skipped_passes = (count - i) / read_this_pass;
      count = i + (count - i) % read_this_pass;
    }
    read_this_pass = 0;
    ++passes;
    EMBRT_RETURN_IF_ERROR(source.Rewind());
    for (int64_t p = 0; p < skipped_passes; ++p) {
      EMBRT_RETURN_IF_ERROR(source.Rewind());
      ++passes;
    }
  }
  return passes;
}

// The validation metric of early stopping.
struct Metric {
  enum class Kind { kRmse, kMae, kLogLoss, kAuc, kLoss } kind;
  double Value(const EvalResult& result) const {
    switch (kind) {
      case Kind::kRmse: return result.rmse;
      case Kind::kMae: return result.mae;
      case Kind::kLogLoss: return result.log_loss;
      case Kind::kAuc: return result.auc;
      case Kind::kLoss: return result.loss;
    }
    return result.loss;
  }
  // Whether `value` improves on `best` by more than `min_delta`.
  bool Better(double value, double best, double min_delta) const {
    return kind == Kind::kAuc ? value > best + min_delta : value < best - min_delta;
  }
};

absl::StatusOr<Metric> ParseMetric(const std::string& name, Loss loss) {
  const bool clicks = loss == Loss::kLogistic;
  if (name == "loss") return Metric{Metric::Kind::kLoss};
  if (name == "rmse" && !clicks) return Metric{Metric::Kind::kRmse};
  if (name == "mae" && !clicks) return Metric{Metric::Kind::kMae};
  if (name == "log_loss" && clicks) return Metric{Metric::Kind::kLogLoss};
  if (name == "auc" && clicks) return Metric{Metric::Kind::kAuc};
  return absl::InvalidArgumentError(absl::StrCat(
      "--validation_metric=", name, " does not fit the ", clicks ? "logistic" : "squared",
      " loss (", clicks ? "log_loss, auc" : "rmse, mae", " or loss)"));
}

// Host state and curve files whose checkpoint was pruned (keep_last) go too.
void RemoveOrphanHostStates(const std::string& root) {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    for (const std::string prefix : {"host-", "curve-"}) {
      if (name.rfind(prefix, 0) != 0 || name.size() < prefix.size() + 5 ||
          name.compare(name.size() - 4, 4, ".txt") != 0) {
        continue;
      }
      const std::string step = name.substr(prefix.size(), name.size() - prefix.size() - 4);
      if (!std::filesystem::exists(std::filesystem::path(root) / ("ckpt-" + step), error)) {
        std::filesystem::remove(entry.path(), error);
      }
    }
  }
}

absl::Status OverrideOptimizer(const std::string& algorithm, float learning_rate,
                               EmbeddingConfig& config) {
  OptimizerConfig* global = config.mutable_optimizer();
  if (!algorithm.empty()) {
    if (algorithm == "sgd") {
      global->mutable_sgd();
    } else if (algorithm == "adagrad") {
      global->mutable_adagrad();
    } else if (algorithm == "adagrad_momentum") {
      global->mutable_adagrad_momentum();
    } else if (algorithm == "adam") {
      global->mutable_adam();
    } else if (algorithm == "ftrl") {
      global->mutable_ftrl();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--optimizer=", algorithm, ": expected sgd, adagrad, adagrad_momentum, adam or ftrl"));
    }
    for (TableConfig& table : *config.mutable_tables()) table.clear_optimizer();
  }
  if (learning_rate > 0) {
    global->mutable_learning_rate()->set_constant(learning_rate);
    for (TableConfig& table : *config.mutable_tables()) {
      if (table.has_optimizer()) {
        table.mutable_optimizer()->mutable_learning_rate()->set_constant(learning_rate);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TrainReport> Train(const TrainOptions& options) {
  const Clock::time_point run_start = Clock::now();
  TrainReport report;
  const DataFormat format = options.format;

  // -- Everything is checked before anything is written. ---------------------------------
  if (options.steps < 0 || options.epochs < 0 || options.batch_size < 0 ||
      options.checkpoint_every < 0 || options.eval_every < 0) {
    return absl::InvalidArgumentError(
        "--steps, --epochs, --batch_size, --checkpoint_every and --eval_every must be >= 0");
  }
  if (options.steps > 0 && options.epochs > 0) {
    return absl::InvalidArgumentError("give --steps or --epochs, not both");
  }
  if (format == DataFormat::kSynthetic && options.epochs > 0) {
    return absl::InvalidArgumentError(
        "the synthetic data is an endless stream: use --steps instead of --epochs");
  }
  if ((options.resume || options.checkpoint_every > 0) && options.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--resume and --checkpoint_every need --checkpoint_dir");
  }
  if (!(options.data.validation_fraction >= 0 && options.data.validation_fraction < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--validation_fraction must be in [0, 1), got ", options.data.validation_fraction));
  }
  const bool validate = options.data.validation_fraction > 0;
  if (!validate && (options.patience > 0 || !options.validation_metric.empty())) {
    return absl::InvalidArgumentError(
        "--patience and --validation_metric need --validation_fraction > 0");
  }
  if (options.patience < 0 || !(options.min_delta >= 0) || !std::isfinite(options.min_delta)) {
    return absl::InvalidArgumentError("--patience and --min_delta must be >= 0");
  }
  if (options.shuffle_buffer < -1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--shuffle_buffer must be >= 0, got ", options.shuffle_buffer));
  }
  if (!(options.bias_learning_rate > 0) || !std::isfinite(options.bias_learning_rate)) {
    return absl::InvalidArgumentError("the bias learning rate must be finite and > 0");
  }

  DataOptions data = options.data;
  data.format = format;
  data.seed = options.seed;
  data.shuffle_buffer = options.shuffle_buffer >= 0 ? options.shuffle_buffer
                                                    : kDefaultShuffleBuffer;
  data.label_range = options.label_range.value_or(DefaultLabelRange(format));
  std::shared_ptr<SyntheticClicks> clicks;
  if (format == DataFormat::kSynthetic) {
    clicks = std::make_shared<SyntheticClicks>(options.synthetic_options_given
                                                   ? options.synthetic
                                                   : DefaultSyntheticOptions(options.seed));
    data.synthetic = clicks;
    data.eval_examples = options.synthetic_eval_examples > 0 ? options.synthetic_eval_examples
                                                             : kDefaultSyntheticEvalExamples;
    data.shuffle_buffer = 0;  // generated in random order already
  }

  EmbeddingConfig config;
  if (!options.config_path.empty()) {
    EMBRT_ASSIGN_OR_RETURN(config, ReadConfigFile(options.config_path));
  } else if (format == DataFormat::kSynthetic) {
    config = DefaultSyntheticConfig(*clicks, options.seed);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--format=", DataFormatName(format), " needs --config (see examples/configs/",
        DataFormatName(format), ".textproto)"));
  }
  if (!options.backend.empty()) config.mutable_backend()->set_name(options.backend);
  if (!(options.learning_rate >= 0) || !std::isfinite(options.learning_rate)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--learning_rate must be a finite number > 0, got ", options.learning_rate));
  }
  EMBRT_RETURN_IF_ERROR(OverrideOptimizer(options.optimizer, options.learning_rate, config));
  config.set_seed(options.seed);
  if (config.per_replica_batch_size() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "config ", options.config_path, ": per_replica_batch_size must be >= 0 (0: --batch_size "
        "or the default), got ", config.per_replica_batch_size()));
  }
  const int batch_size = options.batch_size > 0                   ? options.batch_size
                         : config.per_replica_batch_size() > 0 ? config.per_replica_batch_size()
                                                                  : kDefaultBatchSize;
  config.set_per_replica_batch_size(batch_size);
  if (config.num_replicas() != 1 || config.num_hosts() > 1) {
    return absl::UnimplementedError(
        "embrt train drives one replica per host and takes the hosts from mpirun: leave "
        "num_replicas at 1 and num_hosts at 0 or 1 (run `mpirun -np N embrt train ...`)");
  }
  // Hosts come from the backend: one without mpirun, N under `mpirun -np N`.
  config.set_num_hosts(0);
  config.clear_host_id();

  EMBRT_ASSIGN_OR_RETURN(ResolvedConfig resolved, ResolveConfig(config));
  EMBRT_ASSIGN_OR_RETURN(DataSources sources, OpenDataSources(resolved, data, true));
  EMBRT_ASSIGN_OR_RETURN(Model model, BuildModel(config, batch_size));
  const Loss loss = options.loss.value_or(DefaultLoss(format));
  std::string metric_name = options.validation_metric;
  if (metric_name.empty()) metric_name = loss == Loss::kLogistic ? "log_loss" : "rmse";
  EMBRT_ASSIGN_OR_RETURN(Metric metric, ParseMetric(metric_name, loss));

  int64_t total_steps = options.steps;
  int64_t target_epochs = options.epochs;
  if (total_steps == 0 && target_epochs == 0) {
    if (format == DataFormat::kSynthetic) {
      total_steps = kDefaultSyntheticSteps;
    } else {
      target_epochs = 1;
    }
  }

  // Early stopping: the best validation value so far and the parameters that reached it
  // (restored from the checkpoint's host state and root/best/ckpt-<best step> on --resume).
  EarlyStoppingReport stopping;
  stopping.metric = metric_name;
  stopping.patience = options.patience;
  stopping.min_delta = options.min_delta;
  stopping.validation_fraction = data.validation_fraction;
  double best_value = std::numeric_limits<double>::quiet_NaN();
  int64_t evaluations_without_improvement = 0;
  ParameterSnapshot best_parameters;
  float best_bias = 0, best_accumulator = 0;
  EvalResult best_test;
  int64_t last_eval_step = -1;
  // > 0: resumed from the final checkpoint of a run that kept its best; nothing to train.
  int64_t finished_at_step = 0;
  double interval_loss = 0;
  int64_t interval_examples = 0;
  double resumed_train_loss = std::numeric_limits<double>::quiet_NaN();

  // -- Resume. ----------------------------------------------------------------------------
  float bias = 0.0f;
  bool bias_initialized = false;
  HostOptimizer bias_optimizer(HostOptimizer::Kind::kAdagrad, options.bias_learning_rate);
  int64_t examples_seen = 0;
  int64_t epochs = 0;
  // Never overwrites a checkpoint, never silently starts over (resume_checkpoint.h).
  EMBRT_ASSIGN_OR_RETURN(const std::string start,
                         ChooseStartCheckpoint(options.checkpoint_dir, options.resume));
  if (!start.empty()) {
    EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> stored,
                           CheckpointReader::Open(start, CheckpointReader::Options{false}));
    HostStateLimits limits;
    limits.step = stored->step();
    limits.max_batch_size =
        std::max<int64_t>(batch_size, stored->manifest().config().per_replica_batch_size());
    stored.reset();
    EMBRT_ASSIGN_OR_RETURN(HostState state,
                           LoadHostState(HostStatePathForCheckpoint(start, limits.step), limits));
    if (validate && state.early_stopping.has_value()) {
      const EarlyStoppingState& es = *state.early_stopping;
      if (es.metric != metric_name || es.validation_fraction != data.validation_fraction) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--resume: ", start, " was trained with --validation_metric=", es.metric,
            " --validation_fraction=", es.validation_fraction, "; resume with the same (this "
            "run: ", metric_name, ", ", data.validation_fraction, ")"));
      }
      stopping.evaluations = es.evaluations;
      stopping.stopped_early = es.stopped_early;
      evaluations_without_improvement = es.without_improvement;
      last_eval_step = es.last_evaluation_step;
      finished_at_step = es.finished_at_step;
      if (finished_at_step > 0) epochs = es.finished_epochs;
      if (es.evaluations > 0) {
        best_value = es.best_value;
        stopping.best_step = es.best_step;
        stopping.best_epoch = es.best_epoch;
        stopping.best_examples = es.best_examples;
        stopping.best_validation = FromStored(es.best_validation);
        best_test = FromStored(es.best_test);
        best_bias = es.best_bias;
        best_accumulator = es.best_bias_accumulator;
        // The kept parameters: through the engine into the snapshot, before the start's.
        const std::string best_path = BestCheckpointPath(options.checkpoint_dir, es.best_step);
        absl::Status restored = RestoreCheckpoint(*model.embedding, best_path);
        if (restored.ok() && model.embedding->step() != es.best_step) {
          restored = absl::DataLossError(
              absl::StrCat("it holds step ", model.embedding->step()));
        }
        if (!restored.ok()) {
          return absl::DataLossError(absl::StrCat(
              "--resume: the early-stopping state of ", start, " keeps its best parameters (step ",
              es.best_step, ") in ", best_path, ", which cannot be restored: ",
              restored.message()));
        }
        EMBRT_RETURN_IF_ERROR(best_parameters.Capture(*model.embedding));
      }
    }
    EMBRT_RETURN_IF_ERROR(RestoreCheckpoint(*model.embedding, start));
    const int64_t step = model.embedding->step();
    // Best checkpoints after the start belong to the interrupted run's future.
    if (model.host_id == 0) RemoveBestCheckpointsAfter(options.checkpoint_dir, step);
    bias = state.bias;
    bias_initialized = true;
    bias_optimizer.set_accumulator(state.bias_accumulator);
    examples_seen = state.examples_seen;
    interval_loss = state.interval_loss;
    interval_examples = state.interval_examples;
    resumed_train_loss = state.last_train_loss;
    if (finished_at_step == 0 && (total_steps == 0 || step < total_steps)) {
      EMBRT_ASSIGN_OR_RETURN(epochs, SkipExamples(*sources.train, examples_seen));
    }
    report.first_step = step;
    if (finished_at_step > 0) report.eval = best_test;
    // The curve so far (none from an older embrt: the plot starts here).
    // (A final checkpoint's curve goes on to the end of training, past its kept step.)
    int64_t curve_examples = examples_seen;
    if (finished_at_step > 0 &&
        __builtin_mul_overflow(finished_at_step, int64_t{batch_size}, &curve_examples)) {
      curve_examples = std::numeric_limits<int64_t>::max();
    }
    absl::StatusOr<LearningCurve> curve =
        LoadCurve(CurvePath(options.checkpoint_dir, step), curve_examples);
    if (curve.ok()) {
      report.curve.train = std::move(curve->train);
      report.curve.eval = std::move(curve->eval);
      report.curve.validation = std::move(curve->validation);
    } else if (!absl::IsNotFound(curve.status())) {
      return curve.status();
    }
  }

  report.format = DataFormatName(format);
  report.loss = LossName(loss);
  report.backend = config.backend().name();
  report.backend_path = model.embedding->backend().path;
  report.batch_size = batch_size;
  report.seed = options.seed;
  report.shuffle_buffer = data.shuffle_buffer > 1 ? data.shuffle_buffer : 0;
  report.command_line = options.command_line;
  report.curve.title = absl::StrCat("embrt train: ", report.format, " data, ",
                                    resolved.features.size(), " fields, dim ", model.dim);
  report.curve.loss_name = loss == Loss::kLogistic ? "log loss" : "RMSE";
  const std::string plot_path =
      !options.plot_path.empty()          ? options.plot_path
      : !options.checkpoint_dir.empty() ? options.checkpoint_dir + "/learning_curve.svg"
                                          : "";
  // The curve is in the metric's units: RMSE for ratings (sqrt of twice the mean of
  // squared error / 2), log loss for clicks.
  const auto curve_value = [&](double mean_loss) {
    return loss == Loss::kSquared ? std::sqrt(2 * std::max(mean_loss, 0.0)) : mean_loss;
  };
  const auto eval_curve_value = [&](const EvalResult& result) {
    return loss == Loss::kSquared ? result.rmse : result.loss;
  };

  int64_t eval_every = options.eval_every;
  if (eval_every == 0 && total_steps > 0) eval_every = std::max<int64_t>(1, total_steps / 10);
  const int64_t curve_every = eval_every > 0 ? std::max<int64_t>(1, eval_every / 10) : 10;

  // One progress line, one plot and one summary: host 0's.
  FILE* const progress_stream = model.host_id == 0 ? options.progress : nullptr;
  Progress progress(progress_stream != nullptr ? progress_stream : stderr,
                    options.progress_terminal);
  report.num_hosts = model.num_hosts;
  report.host_id = model.host_id;
  int64_t step = model.embedding->step();
  double last_train_loss = resumed_train_loss;
  const auto rewind_at_end = [target_epochs](int64_t done) {
    return target_epochs == 0 || done < target_epochs;
  };

  // The host state of a checkpoint at the current step, early stopping's included.
  auto current_host_state = [&](int64_t finished_at) {
    HostState state;
    state.step = step;
    state.bias = bias;
    state.bias_accumulator = bias_optimizer.accumulator();
    state.examples_seen = examples_seen;
    state.loss = LossName(loss);
    state.format = DataFormatName(format);
    state.tsv_columns = data.tsv_columns;
    state.seed = options.seed;
    if (clicks != nullptr) {
      state.seed = clicks->options().seed;
      state.synthetic_fields = clicks->options().num_fields;
      state.synthetic_cardinality = clicks->options().max_cardinality;
    }
    state.interval_loss = interval_loss;
    state.interval_examples = interval_examples;
    state.last_train_loss = last_train_loss;
    if (validate) {
      EarlyStoppingState& es = state.early_stopping.emplace();
      es.metric = metric_name;
      es.validation_fraction = data.validation_fraction;
      es.evaluations = stopping.evaluations;
      es.without_improvement = evaluations_without_improvement;
      es.last_evaluation_step = std::max<int64_t>(last_eval_step, 0);
      es.finished_at_step = finished_at;
      if (finished_at > 0) es.finished_epochs = epochs;
      es.stopped_early = stopping.stopped_early;
      if (stopping.evaluations > 0) {
        es.best_value = best_value;
        es.best_step = stopping.best_step;
        es.best_epoch = stopping.best_epoch;
        es.best_examples = stopping.best_examples;
        es.best_bias = best_bias;
        es.best_bias_accumulator = best_accumulator;
        es.best_validation = ToStored(stopping.best_validation);
        es.best_test = ToStored(best_test);
      }
    }
    return state;
  };

  // A checkpoint of the engine as it is, with its host state, under `root` (the run's
  // --checkpoint_dir, or its best/ for early stopping's kept parameters).
  auto save_checkpoint_to = [&](const std::string& root, int keep_last,
                                int64_t finished_at) -> absl::StatusOr<std::string> {
    const Clock::time_point start = Clock::now();
    std::error_code error;
    std::filesystem::create_directories(root, error);
    if (error) {
      return absl::PermissionDeniedError(absl::StrCat(
          "cannot create --checkpoint_dir '", root, "': ", error.message()));
    }
    if (model.host_id == 0) {  // the host state is the same on every host
      if (root == options.checkpoint_dir) {  // the run's curve, for a --resume
        EMBRT_RETURN_IF_ERROR(SaveCurve(report.curve, CurvePath(root, step)));
      }
      EMBRT_RETURN_IF_ERROR(
          SaveHostState(current_host_state(finished_at), HostStatePath(root, step)));
    }
    CheckpointOptions checkpoint_options;
    checkpoint_options.keep_last = keep_last;
    checkpoint_options.created_by = "embrt train";
    EMBRT_ASSIGN_OR_RETURN(std::string path,
                           SaveCheckpoint(*model.embedding, root, checkpoint_options));
    if (model.host_id == 0) RemoveOrphanHostStates(root);
    report.checkpoint_seconds += SecondsSince(start);
    return path;
  };
  auto save_checkpoint = [&](int64_t finished_at = 0) -> absl::Status {
    EMBRT_ASSIGN_OR_RETURN(report.checkpoint,
                           save_checkpoint_to(options.checkpoint_dir, options.keep_checkpoints,
                                              finished_at));
    // Best checkpoints that no retained checkpoint refers to any more.
    if (validate && model.host_id == 0) PruneBestCheckpoints(options.checkpoint_dir);
    return absl::OkStatus();
  };

  auto run_evaluation = [&](ExampleSource& source) -> absl::StatusOr<EvalResult> {
    const double embedding_before = model.embedding_seconds, host_before = model.host_seconds;
    absl::StatusOr<EvalResult> result =
        RunEvaluation(model, source, sources.feature_fields, loss, bias);
    model.embedding_seconds = embedding_before;  // evaluation time is counted on its own
    model.host_seconds = host_before;
    return result;
  };
  // Evaluates the test set and, with validation, the validation set; keeps the best.
  auto evaluate = [&]() -> absl::Status {
    const Clock::time_point start = Clock::now();
    EMBRT_ASSIGN_OR_RETURN(report.eval, run_evaluation(*sources.eval));
    report.curve.eval.push_back(
        {static_cast<double>(examples_seen), eval_curve_value(report.eval)});
    last_eval_step = step;
    bool improved = false;
    if (validate) {
      EMBRT_ASSIGN_OR_RETURN(EvalResult validation, run_evaluation(*sources.validation));
      report.curve.validation.push_back(
          {static_cast<double>(examples_seen), eval_curve_value(validation)});
      ++stopping.evaluations;
      const double value = metric.Value(validation);
      if (std::isnan(best_value) || metric.Better(value, best_value, options.min_delta)) {
        best_value = value;
        evaluations_without_improvement = 0;
        EMBRT_RETURN_IF_ERROR(best_parameters.Capture(*model.embedding));
        best_bias = bias;
        best_accumulator = bias_optimizer.accumulator();
        best_test = report.eval;
        stopping.best_step = step;
        stopping.best_epoch = epochs;
        stopping.best_examples = examples_seen;
        stopping.best_validation = validation;
        improved = true;
      } else {
        ++evaluations_without_improvement;
      }
    }
    report.eval_seconds += SecondsSince(start);
    // Kept on disk too, so that they survive checkpoint retention and a --resume.
    if (improved && !options.checkpoint_dir.empty()) {
      EMBRT_RETURN_IF_ERROR(
          save_checkpoint_to(BestCheckpointRoot(options.checkpoint_dir), 0, 0).status());
    }
    return absl::OkStatus();
  };

  // Steps planned: exact with --steps; with --epochs estimated from the first pass (how far
  // into the file the reader is, then the steps one pass took).
  int64_t steps_in_first_pass = 0;
  const auto planned_steps = [&](const Batch& batch, bool& estimate) -> int64_t {
    estimate = total_steps == 0;
    if (total_steps > 0) return total_steps;
    if (steps_in_first_pass > 0) return steps_in_first_pass * target_epochs;
    if (batch.fraction_read > 0) {
      const double passes = static_cast<double>(epochs) + batch.fraction_read;
      return static_cast<int64_t>(
          std::ceil(static_cast<double>(step) / passes * static_cast<double>(target_epochs)));
    }
    return 0;
  };

  std::vector<std::optional<TensorView>> gradient_views(resolved.features.size());
  const Clock::time_point train_start = Clock::now();
  BatchPrefetcher prefetcher(*sources.train, sources.feature_fields, rewind_at_end, batch_size,
                             epochs);
  bool finished = false;
  // A resumed run whose checkpoint was the end (patience ran out, or the final one) trains
  // nothing more.
  while (finished_at_step == 0 && !stopping.stopped_early &&
         (total_steps == 0 || step < total_steps)) {
    Clock::time_point start = Clock::now();
    absl::StatusOr<const Batch*> next = prefetcher.Next();
    report.input_seconds += SecondsSince(start);  // waiting for input only
    if (!next.ok()) return next.status();
    const Batch& batch = **next;
    finished = batch.finished;
    if (batch.count == 0) {  // the data ended exactly at the previous batch
      epochs = batch.epochs;
      break;
    }
    if (!bias_initialized) {
      // The global bias starts at the first batch's mean (its logit for clicks), so that
      // the embeddings do not have to learn the base rate.
      double mean = 0;
      for (int i = 0; i < batch.count; ++i) mean += batch.labels[i];
      mean /= batch.count;
      bias = loss == Loss::kLogistic
                 ? static_cast<float>(std::log(std::clamp(mean, 0.01, 0.99) /
                                               (1 - std::clamp(mean, 0.01, 0.99))))
                 : static_cast<float>(mean);
      bias_initialized = true;
    }

    EMBRT_RETURN_IF_ERROR(model.Lookup(batch, /*training=*/true, bias));
    start = Clock::now();
    for (int i = 0; i < batch_size; ++i) {
      if (i < batch.count && !std::isfinite(model.scores[i])) {
        return absl::FailedPreconditionError(absl::StrCat(
            "training diverged at step ", step + 1, ": the score of example ", i,
            " of the batch is ", model.scores[i], "; lower the learning rate (--learning_rate)"));
      }
      if (i < batch.count) {
        const LossValue value = ComputeLoss(loss, model.scores[i], batch.labels[i]);
        interval_loss += value.loss;
        model.score_gradients[i] = static_cast<float>(value.gradient);
      } else {
        model.score_gradients[i] = 0.0f;  // padding
      }
    }
    std::vector<absl::Span<float>> gradient_spans(model.gradients.begin(),
                                                  model.gradients.end());
    const double bias_gradient = model.fm->Backward(model.ActivationViews(), batch_size,
                                                    model.score_gradients, gradient_spans);
    bias_optimizer.Apply(static_cast<float>(bias_gradient), bias);
    model.LocalGradientViews(gradient_views);
    model.host_seconds += SecondsSince(start);
    start = Clock::now();
    EMBRT_RETURN_IF_ERROR(model.embedding->ApplyGradients(gradient_views));
    model.embedding_seconds += SecondsSince(start);

    ++step;
    examples_seen += batch.count;
    interval_examples += batch.count;
    report.examples += batch.count;
    const bool new_epoch = batch.epochs > epochs;
    epochs = batch.epochs;
    if (new_epoch && steps_in_first_pass == 0 && report.first_step == 0 && epochs == 1) {
      steps_in_first_pass = step;
    }
    if (step % curve_every == 0 || finished) {
      last_train_loss = interval_loss / std::max<int64_t>(interval_examples, 1);
      report.curve.train.push_back(
          {static_cast<double>(examples_seen), curve_value(last_train_loss)});
      interval_loss = 0;
      interval_examples = 0;
    }
    if (progress_stream != nullptr) {
      bool estimate = false;
      const int64_t planned = planned_steps(batch, estimate);
      progress.Update(step, planned, report.examples, last_train_loss, estimate,
                      target_epochs > 0 ? absl::StrCat("epoch ", std::min(epochs + 1,
                                                                          target_epochs),
                                                       "/", target_epochs)
                                        : std::string());
    }
    const bool epoch_evaluation = eval_every == 0 && new_epoch;
    report.epochs_completed = epochs;
    if ((eval_every > 0 && step % eval_every == 0) || epoch_evaluation) {
      EMBRT_RETURN_IF_ERROR(evaluate());
    }
    // Decided before the checkpoint, which records it for a --resume.
    stopping.stopped_early = !finished && validate && options.patience > 0 &&
                             evaluations_without_improvement >= options.patience;
    if (options.checkpoint_every > 0 && step % options.checkpoint_every == 0) {
      EMBRT_RETURN_IF_ERROR(save_checkpoint());
      if (options.interrupt_after_checkpoint && options.interrupt_after_checkpoint(step)) {
        return absl::AbortedError(
            absl::StrCat("interrupted after the checkpoint of step ", step));
      }
    }
    if (finished || stopping.stopped_early) break;
  }
  prefetcher.Stop();
  const double train_seconds = SecondsSince(train_start);
  if (step == 0 && report.first_step == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no training example in '", data.data, "'"));
  }
  if (progress_stream != nullptr) progress.Finish();
  if (interval_examples > 0) {
    last_train_loss = interval_loss / interval_examples;
    report.curve.train.push_back(
        {static_cast<double>(examples_seen), curve_value(last_train_loss)});
    interval_loss = 0;
    interval_examples = 0;
  }
  if (last_eval_step != step && finished_at_step == 0) EMBRT_RETURN_IF_ERROR(evaluate());
  report.trained_steps = finished_at_step > 0 ? finished_at_step : step;
  if (validate) {
    // Keep the best: tables, slots and the host's state as they were after best_step.
    if (stopping.best_step != step) {
      const Clock::time_point start = Clock::now();
      EMBRT_RETURN_IF_ERROR(best_parameters.Restore(*model.embedding));
      bias = best_bias;
      bias_optimizer.set_accumulator(best_accumulator);
      examples_seen = stopping.best_examples;
      step = stopping.best_step;
      model.embedding->set_step(step);
      report.eval = best_test;
      report.eval_seconds += SecondsSince(start);
    }
    report.validation = stopping.best_validation;
    report.curve.best_examples = static_cast<double>(stopping.best_examples);
    report.curve.best_label = target_epochs > 0 && eval_every == 0
                                  ? absl::StrCat("best: epoch ", stopping.best_epoch)
                                  : absl::StrCat("best: step ", stopping.best_step);
    report.early_stopping = stopping;
  }
  // The final checkpoint. With early stopping it is the kept (best) step: if that step was
  // checkpointed on the way (checkpoints are never overwritten), `latest` points at it;
  // otherwise it is written now, its host state marked as the end of the run (a --resume of
  // it trains nothing). Without, a resumed run that trained no step has nothing new to save.
  const bool trained = step > report.first_step || report.first_step == 0;
  const std::string kept_path = absl::StrCat(options.checkpoint_dir, "/ckpt-", step);
  if (options.checkpoint_dir.empty() || finished_at_step > 0) {
    // nothing to write
  } else if (validate && std::filesystem::exists(kept_path)) {
    if (model.host_id == 0) {
      EMBRT_RETURN_IF_ERROR(WriteTextFile(options.checkpoint_dir + "/latest",
                                          absl::StrCat("ckpt-", step, "\n")));
    }
    report.checkpoint = kept_path;
  } else if (validate) {
    EMBRT_RETURN_IF_ERROR(save_checkpoint(/*finished_at=*/report.trained_steps));
  } else if (trained && (report.checkpoint.empty() ||
                         step % std::max<int64_t>(options.checkpoint_every, 1) != 0)) {
    EMBRT_RETURN_IF_ERROR(save_checkpoint());
  }
  if (format == DataFormat::kSynthetic) {
    report.teacher = TeacherResult(*clicks, data.eval_examples);
    report.curve.reference_name = "teacher (held out)";
    report.curve.reference_loss = report.teacher->log_loss;
  }

  const int64_t trained_examples = report.examples;
  report.steps = step;
  report.examples = examples_seen;
  report.epochs_completed = epochs;
  report.train_loss = last_train_loss;
  report.bias = bias;
  report.train_bad_lines = sources.train->bad_lines();
  report.eval_bad_lines = sources.eval->bad_lines();
  report.validation_bad_lines = validate ? sources.validation->bad_lines() : 0;
  report.bad_lines = report.train_bad_lines + report.validation_bad_lines + report.eval_bad_lines;
  report.bad_line_messages = sources.train->bad_line_messages();
  for (const ExampleSource* source : {sources.validation.get(), sources.eval.get()}) {
    if (source == nullptr) continue;
    for (const std::string& message : source->bad_line_messages()) {
      report.bad_line_messages.push_back(message);
    }
  }
  report.embedding_seconds = model.embedding_seconds;
  report.host_seconds = model.host_seconds;
  report.examples_per_second =
      train_seconds > 0 ? static_cast<double>(trained_examples) / train_seconds : 0;
  if (!plot_path.empty() && model.host_id == 0) {
    EMBRT_RETURN_IF_ERROR(WriteLearningCurveSvg(report.curve, plot_path));
    report.plot = plot_path;
  }
  report.seconds = SecondsSince(run_start);
  return report;
}

absl::StatusOr<TrainReport> Evaluate(const EvalOptions& options) {
  const Clock::time_point run_start = Clock::now();
  EMBRT_ASSIGN_OR_RETURN(std::string path, ResolveCheckpointPath(options.checkpoint));
  EMBRT_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader,
                         CheckpointReader::Open(path, CheckpointReader::Options{false}));
  const int64_t step = reader->step();
  // The checkpoint never chooses the plugin or the layout (checkpoint_config.h).
  const EmbeddingConfig config =
      ConfigForRestoring(reader->manifest().config(), options.backend, options.batch_size);
  const int batch_size = config.per_replica_batch_size();
  HostStateLimits limits;
  limits.step = step;
  limits.max_batch_size = reader->manifest().config().per_replica_batch_size();
  // The stored config's tables must be the checkpoint's (whose sizes its files prove) before
  // any engine allocates them.
  {
    EMBRT_ASSIGN_OR_RETURN(const ResolvedConfig stored, ResolveConfig(config));
    EMBRT_RETURN_IF_ERROR(reader->CheckCompatible(stored));
  }
  reader.reset();
  EMBRT_ASSIGN_OR_RETURN(HostState state,
                         LoadHostState(HostStatePathForCheckpoint(path, step), limits));

  DataOptions data = options.data;
  if (options.format.has_value()) {
    data.format = *options.format;
  } else {
    EMBRT_ASSIGN_OR_RETURN(data.format, ParseDataFormat(state.format));
  }
  if (data.tsv_columns.empty()) data.tsv_columns = state.tsv_columns;
  data.label_range = options.label_range.value_or(DefaultLabelRange(data.format));
  std::shared_ptr<SyntheticClicks> clicks;
  if (data.format == DataFormat::kSynthetic) {
    SyntheticClicksOptions synthetic = DefaultSyntheticOptions(state.seed);
    if (state.synthetic_fields > 0) synthetic.num_fields = state.synthetic_fields;
    if (state.synthetic_cardinality > 0) synthetic.max_cardinality = state.synthetic_cardinality;
    clicks = std::make_shared<SyntheticClicks>(synthetic);
    data.synthetic = clicks;
    if (data.eval_examples <= 0) data.eval_examples = kDefaultSyntheticEvalExamples;
  }
  EMBRT_ASSIGN_OR_RETURN(ResolvedConfig resolved, ResolveConfig(config));
  EMBRT_ASSIGN_OR_RETURN(DataSources sources, OpenDataSources(resolved, data, false));
  EMBRT_ASSIGN_OR_RETURN(Model model, BuildModel(config, batch_size));
  EMBRT_RETURN_IF_ERROR(RestoreCheckpoint(*model.embedding, path));
  Loss loss;
  if (options.loss.has_value()) {
    loss = *options.loss;
  } else {
    EMBRT_ASSIGN_OR_RETURN(loss, ParseLossName(state.loss));
  }

  TrainReport report;
  report.format = DataFormatName(data.format);
  report.loss = LossName(loss);
  report.backend = config.backend().name();
  report.backend_path = model.embedding->backend().path;
  report.batch_size = batch_size;
  report.first_step = report.steps = step;
  report.num_hosts = model.num_hosts;
  report.host_id = model.host_id;
  report.examples = state.examples_seen;
  report.bias = state.bias;
  report.checkpoint = path;
  const Clock::time_point start = Clock::now();
  EMBRT_ASSIGN_OR_RETURN(report.eval, RunEvaluation(model, *sources.eval, sources.feature_fields,
                                                    loss, state.bias));
  report.eval_seconds = SecondsSince(start);
  report.embedding_seconds = model.embedding_seconds;
  report.host_seconds = model.host_seconds;
  report.examples_per_second =
      report.eval_seconds > 0 ? report.eval.examples / report.eval_seconds : 0;
  if (clicks != nullptr) {
    report.teacher = TeacherResult(*clicks, data.eval_examples);
  }
  report.bad_lines = report.eval_bad_lines = sources.eval->bad_lines();
  report.bad_line_messages = sources.eval->bad_line_messages();
  report.train_loss = std::numeric_limits<double>::quiet_NaN();
  report.seconds = SecondsSince(run_start);
  return report;
}

}  // namespace training
}  // namespace embrt
