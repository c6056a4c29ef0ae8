// Copyright embrt authors.
//
// Serving lookups (embrt/serving.h) beside the anchor's forward (anchor_kernels.h) on the same
// checkpoint table, in one process, interleaved, on the same ids (issue 13's method, applied to
// the CPU lookups that serve a checkpoint):
//
//   serving: ServingLookup::LookupFeature(ragged ids) -> a new Tensor [bags, dim] (the public
//            API: validation, output allocation and the combine, on the caller's thread)
//   into:    ServingLookup::LookupFeatureInto into a Tensor kept between calls (what a server
//            that keeps its output buffers pays)
//   anchor:  AnchorForward with a team of one over the same table file, memory-mapped by a
//            CheckpointReader of its own (the same page-cache pages), into a buffer kept
//            between calls
//
// One table per dim (sum combiner; 1 GiB by default, so rows are random memory accesses),
// written once as a checkpoint by the cpu backend; dims 16, 64, 128; 16,384 bags of 1 or 20 ids;
// uniform or Zipf(1.05) ids; and sequences ("seq20": a feature with max_sequence_length 20 on
// the same table, 2,048 rows of 20 ids by default, looked up to [rows, 20, dim]; the anchor
// gathers the same rows with AnchorGather). Each case first checks that every side gives the same
// floats on one batch (into: over a tensor of NaN, so every float must be written), then runs
// `rounds` rounds; a round times each side once on batches of its own (never the batch another
// side has just pulled into the cache), alternating the order. Printed: medians, and serving
// throughput / anchor throughput (> 1: serving is faster). Then the fixed cost of a call (1 bag
// of 1 id) on the last dim.
//
//   serving_benchmark            about 2 minutes; needs 1 GiB of page cache per dim, and the
//                                cpu backend (EMBRT_PLUGIN_PATH) to write the checkpoints
//   serving_benchmark --quick    smoke test: small tables, 2 rounds, checks the floats (exits 1
//                                if serving and the anchor disagree); ctest runs it
//   flags: --table_gib=G --rounds=N --dims=16,64 --bags=1,20 --ids=uniform,zipf
//          --sequence_rows=N (rows of the sequence case; 0: no sequence case)
// Checkpoints go to $TMPDIR (default /tmp) and are removed at exit.

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "anchor_kernels.h"
#include "bench_common.h"
#include "embrt/checkpoint.h"
#include "embrt/config.h"
#include "embrt/embedding.h"
#include "embrt/serving.h"

namespace {

using embrt::bench::Batch;
using embrt::bench::Check;
using embrt::bench::Clock;
using embrt::bench::FlagValue;
using embrt::bench::InitialValue;
using embrt::bench::MakeBatches;
using embrt::bench::Median;
using embrt::bench::ParseInts;
using embrt::bench::ParseWords;
using embrt::bench::Seconds;

struct Options {
  bool quick = false;
  double table_gib = 1.0;
  int rounds = 15;
  int bags = 16384;
  int sequence_rows = 2048;
  std::vector<int> dims = {16, 64, 128};
  std::vector<int> bag_sizes = {1, 20};
  std::vector<std::string> distributions = {"uniform", "zipf"};
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) { return FlagValue(argv[i], name); };
    if (arg == "--quick") {
      o->quick = true;
      o->table_gib = 1.0 / 256;
      o->rounds = 2;
      o->bags = 512;
      o->sequence_rows = 64;
    } else if (const char* v = value("--table_gib=")) {
      o->table_gib = std::atof(v);
    } else if (const char* v = value("--rounds=")) {
      o->rounds = std::max(1, std::atoi(v));
    } else if (const char* v = value("--dims=")) {
      o->dims = ParseInts(v);
    } else if (const char* v = value("--bags=")) {
      o->bag_sizes = ParseInts(v);
    } else if (const char* v = value("--ids=")) {
      o->distributions = ParseWords(v);
    } else if (const char* v = value("--sequence_rows=")) {
      o->sequence_rows = std::max(0, std::atoi(v));
    } else {
      std::fprintf(stderr, "unknown flag %s (see the comment at the top of the source)\n", argv[i]);
      return false;
    }
  }
  return true;
}

// A fresh directory under $TMPDIR, removed with everything in it when this goes away.
class WorkDirectory {
 public:
  WorkDirectory() {
    const char* base = getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/embrt_serving_XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(2);
    }
    path_ = pattern;
  }
  ~WorkDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The sequence feature's max_sequence_length: every row of the sequence case holds this many ids.
constexpr int kSequenceLength = 20;

// Writes a checkpoint of one table ("table", `rows` x `dim`, sum combiner, values InitialValue)
// with features "ids" (bags) and "sequence" (max_sequence_length kSequenceLength) under `root`,
// through the cpu backend; returns the checkpoint's path.
std::string WriteCheckpoint(const std::string& root, int64_t rows, int dim) {
  embrt::EmbeddingConfig config;
  embrt::TableConfig* table = config.add_tables();
  table->set_name("table");
  table->set_vocabulary_size(rows);
  table->set_dim(dim);
  table->set_combiner(embrt::SUM);
  embrt::FeatureConfig* feature = config.add_features();
  feature->set_name("ids");
  feature->set_table("table");
  embrt::FeatureConfig* sequence = config.add_features();
  sequence->set_name("sequence");
  sequence->set_table("table");
  sequence->set_max_sequence_length(kSequenceLength);
  config.mutable_optimizer()->mutable_sgd();
  config.mutable_optimizer()->mutable_learning_rate()->set_constant(0.01f);
  config.mutable_backend()->set_name("cpu");
  config.set_per_replica_batch_size(1);
  auto created = embrt::Embedding::Create(config);
  Check(created.status(), "Embedding::Create (is EMBRT_PLUGIN_PATH set?)");
  std::unique_ptr<embrt::Embedding> embedding = *std::move(created);
  Check(embedding->Build(), "Build");
  Check(embedding->LoadTables(
            [&](int, int64_t begin, int64_t count, absl::Span<const absl::Span<float>> slots) {
              for (int64_t r = 0; r < count; ++r) {
                for (int d = 0; d < dim; ++d) slots[0][r * dim + d] = InitialValue(begin + r, d);
              }
              return absl::OkStatus();
            }),
        "LoadTables");
  absl::StatusOr<std::string> path = embrt::SaveCheckpoint(*embedding, root);
  Check(path.status(), "SaveCheckpoint");
  return *path;
}

// Returns false when serving and the anchor disagree on the case's first batch. Bags: feature
// "ids", `o.bags` bags of `bag_size` ids. Sequence (`sequence` true): feature "sequence",
// `o.sequence_rows` rows of kSequenceLength ids, whose rows the anchor gathers (the same output:
// [rows, kSequenceLength, dim] has no padding when every row is full).
bool RunCase(const Options& o, int dim, int bag_size, bool sequence,
             const std::string& distribution, const embrt::ServingLookup& serving,
             const float* mapped_table, int64_t rows, embrt::bench::AnchorTeam& team) {
  const int feature = sequence ? 1 : 0;
  const int bags = sequence ? o.sequence_rows : o.bags;
  if (sequence) bag_size = kSequenceLength;
  // Samples of 8 lookups with bags of 1 and 2 with bags of 20, each on a batch of its own.
  const int per_sample = bag_size == 1 ? 8 : 2;
  const int pool = per_sample * (o.rounds + 1);
  const std::vector<Batch> anchor_batches =
      MakeBatches(pool, bags, bag_size, distribution, rows, 1000 + bag_size + feature);
  const std::vector<Batch> serving_batches =
      MakeBatches(pool, bags, bag_size, distribution, rows, 2000 + bag_size + feature);
  // A sequence's output rows are its ids' rows: the anchor gathers them.
  auto anchor_forward = [&](const Batch& batch, float* out) {
    if (sequence) {
      embrt::bench::AnchorGather(mapped_table, dim, batch.ids.data(),
                                 static_cast<int64_t>(batch.ids.size()), out);
    } else {
      embrt::bench::AnchorForward(mapped_table, dim, batch.splits.data(), batch.ids.data(), bags,
                                  out, team);
    }
  };
  const int64_t output_rows = sequence ? int64_t{bags} * bag_size : bags;
  std::vector<float> anchor_out(static_cast<size_t>(output_rows) * dim);
  embrt::Tensor kept;  // LookupFeatureInto's output, reused between calls as a server would
  {
    const Batch& batch = anchor_batches[0];
    anchor_forward(batch, anchor_out.data());
    absl::StatusOr<embrt::Tensor> got =
        serving.LookupFeature(feature, embrt::FeatureInput::Ragged(batch.splits, batch.ids));
    Check(got.status(), "LookupFeature");
    if (!std::equal(anchor_out.begin(), anchor_out.end(), got->values.begin(), got->values.end())) {
      std::fprintf(stderr, "MISMATCH: serving and anchor differ (dim %d, %s %d, %s)\n", dim,
                   sequence ? "sequence" : "bag", bag_size, distribution.c_str());
      return false;
    }
    // Into a tensor full of NaN of the same size: every float must be written.
    kept.values.assign(anchor_out.size(), std::nanf(""));
    Check(serving.LookupFeatureInto(feature, embrt::FeatureInput::Ragged(batch.splits, batch.ids),
                                    {}, &kept),
          "LookupFeatureInto");
    if (!std::equal(anchor_out.begin(), anchor_out.end(), kept.values.begin(), kept.values.end())) {
      std::fprintf(stderr, "MISMATCH: LookupFeatureInto and anchor differ (dim %d, %s %d, %s)\n",
                   dim, sequence ? "sequence" : "bag", bag_size, distribution.c_str());
      return false;
    }
  }
  size_t anchor_next = 0, serving_next = 0, into_next = 0;
  std::vector<double> anchor_times, serving_times, into_times;
  for (int round = -1; round < o.rounds; ++round) {  // round -1 warms up
    auto time_anchor = [&] {
      const Clock::time_point t = Clock::now();
      for (int s = 0; s < per_sample; ++s) {
        anchor_forward(anchor_batches[anchor_next++ % pool], anchor_out.data());
      }
      if (round >= 0) anchor_times.push_back(Seconds(t) / per_sample);
    };
    auto time_serving = [&] {
      const Clock::time_point t = Clock::now();
      for (int s = 0; s < per_sample; ++s) {
        const Batch& batch = serving_batches[serving_next++ % pool];
        absl::StatusOr<embrt::Tensor> got =
            serving.LookupFeature(feature, embrt::FeatureInput::Ragged(batch.splits, batch.ids));
        Check(got.status(), "LookupFeature");
      }
      if (round >= 0) serving_times.push_back(Seconds(t) / per_sample);
    };
    auto time_into = [&] {
      const Clock::time_point t = Clock::now();
      for (int s = 0; s < per_sample; ++s) {
        const Batch& batch = serving_batches[into_next++ % pool];
        Check(serving.LookupFeatureInto(
                  feature, embrt::FeatureInput::Ragged(batch.splits, batch.ids), {}, &kept),
              "LookupFeatureInto");
      }
      if (round >= 0) into_times.push_back(Seconds(t) / per_sample);
    };
    if (round % 2 == 0) {
      time_anchor();
      time_serving();
      time_into();
    } else {
      time_into();
      time_serving();
      time_anchor();
    }
  }
  const double anchor = Median(anchor_times), served = Median(serving_times),
               into = Median(into_times);
  std::printf("%4d %5s %-8s | %9.3f %10.3f %6.2fx %8.3f %6.2fx\n", dim,
              sequence ? "seq20" : std::to_string(bag_size).c_str(), distribution.c_str(),
              anchor * 1e3, served * 1e3, anchor / served, into * 1e3, anchor / into);
  std::fflush(stdout);
  return true;
}

// The fixed cost of one call: medians of 5 x `calls` lookups of 1 bag of 1 id (the same id,
// so its row stays in the cache), serving and the anchor.
void RunTiny(const Options& o, int dim, const embrt::ServingLookup& serving,
             const float* mapped_table, embrt::bench::AnchorTeam& team) {
  const int calls = o.quick ? 200 : 20000;
  const std::vector<int64_t> splits = {0, 1}, ids = {7};
  std::vector<float> out(dim);
  std::vector<double> anchor, served, into;
  embrt::Tensor kept;
  for (int repeat = 0; repeat < 5; ++repeat) {
    Clock::time_point t = Clock::now();
    for (int c = 0; c < calls; ++c) {
      embrt::bench::AnchorForward(mapped_table, dim, splits.data(), ids.data(), 1, out.data(),
                                  team);
    }
    anchor.push_back(Seconds(t) / calls);
    t = Clock::now();
    for (int c = 0; c < calls; ++c) {
      absl::StatusOr<embrt::Tensor> got =
          serving.LookupFeature(0, embrt::FeatureInput::Ragged(splits, ids));
      Check(got.status(), "LookupFeature");
    }
    served.push_back(Seconds(t) / calls);
    t = Clock::now();
    for (int c = 0; c < calls; ++c) {
      Check(serving.LookupFeatureInto(0, embrt::FeatureInput::Ragged(splits, ids), {}, &kept),
            "LookupFeatureInto");
    }
    into.push_back(Seconds(t) / calls);
  }
  std::printf("\ntiny lookup (1 bag of 1 id, dim %d): microseconds per call, medians of 5 x %d\n",
              dim, calls);
  std::printf("anchor %.2f   serving %.2f   into %.2f\n", Median(anchor) * 1e6,
              Median(served) * 1e6, Median(into) * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  std::printf("serving vs anchor: %d bags per lookup, %d rounds (medians), table %.3g GiB%s\n",
              o.bags, o.rounds, o.table_gib, o.quick ? " (quick: smoke test, no numbers)" : "");
  std::printf(
      "ratio = serving throughput / anchor throughput (wall-clock medians, one thread);\n"
      "serving: LookupFeature (a new tensor per call), into: LookupFeatureInto (a tensor\n"
      "kept between calls); seq20: sequences of 20 ids\n");
  std::printf(" dim   bag ids      | anchor ms serving ms  ratio  into ms  ratio\n");
  WorkDirectory work;
  embrt::bench::AnchorTeam team(1);
  int failures = 0;
  for (int dim : o.dims) {
    const int64_t rows =
        static_cast<int64_t>(o.table_gib * (int64_t{1} << 30) / (sizeof(float) * dim));
    const std::string path = WriteCheckpoint(absl::StrCat(work.path(), "/dim", dim), rows, dim);
    absl::StatusOr<std::unique_ptr<embrt::ServingLookup>> serving =
        embrt::ServingLookup::Open(path);
    Check(serving.status(), "ServingLookup::Open");
    embrt::CheckpointReader::Options reader_options;
    reader_options.verify_checksums = false;  // ServingLookup::Open has just verified the files
    absl::StatusOr<std::unique_ptr<embrt::CheckpointReader>> reader =
        embrt::CheckpointReader::Open(path, reader_options);
    Check(reader.status(), "CheckpointReader::Open");
    const absl::Span<const float> table =
        (*reader)->ContiguousSlot((*reader)->FindTable("table"), 0);
    if (table.size() != static_cast<size_t>(rows) * dim) {
      std::fprintf(stderr, "the checkpoint's table is not one contiguous file\n");
      return 2;
    }
    for (int bag_size : o.bag_sizes) {
      for (const std::string& distribution : o.distributions) {
        if (!RunCase(o, dim, bag_size, /*sequence=*/false, distribution, **serving, table.data(),
                     rows, team)) {
          ++failures;
        }
      }
    }
    for (const std::string& distribution : o.distributions) {
      if (o.sequence_rows > 0 && !RunCase(o, dim, kSequenceLength, /*sequence=*/true, distribution,
                                          **serving, table.data(), rows, team)) {
        ++failures;
      }
    }
    if (dim == o.dims.back()) RunTiny(o, dim, **serving, table.data(), team);
  }
  if (failures > 0) {
    std::fprintf(stderr, "%d case(s) where serving and the anchor disagree\n", failures);
    return 1;
  }
  return 0;
}
