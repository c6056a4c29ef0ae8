// Copyright embrt authors.
//
// Fuzz target: the embrt CLI's data readers (tools/training): Criteo, MovieLens and TSV (with
// a fuzzed column spec) over a file holding the fuzz input, both bad-line policies, with
// vocabularies from the input. Every example read must have one id per field, inside its
// field's vocabulary, and a finite label.

#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fuzz_input.h"
#include "tools/training/criteo_reader.h"
#include "tools/training/example_source.h"
#include "tools/training/line_file_source.h"
#include "tools/training/movielens_reader.h"
#include "tools/training/tsv_reader.h"

namespace {

// One data file per process, rewritten for every input.
const std::string& DataPath() {
  static const std::string* const path = [] {
    const char* dir = std::getenv("TMPDIR");
    return new std::string(std::string(dir != nullptr && *dir ? dir : "/tmp") +
                           "/embrt_data_readers_fuzz_" + std::to_string(::getpid()) + ".txt");
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace training = embrt::training;
  embrt::fuzz::FuzzInput in(data, size);
  const int format = static_cast<int>(in.TakeInRange(0, 2));
  training::LineFileOptions options;
  options.path = DataPath();
  options.on_bad_line = in.TakeBool() ? training::BadLinePolicy::kFail
                                      : training::BadLinePolicy::kSkip;
  options.selection.every = in.TakeInRange(0, 3);
  options.selection.held_out = in.TakeBool();
  const int64_t vocabulary_size = in.TakeInRange(0, 1 << 20);
  std::string spec_text;
  if (format == 2) spec_text = in.TakeString(64);
  const std::string contents = in.TakeRest();
  {
    std::FILE* file = std::fopen(options.path.c_str(), "wb");
    FUZZ_CHECK(file != nullptr);
    FUZZ_CHECK(std::fwrite(contents.data(), 1, contents.size(), file) == contents.size());
    std::fclose(file);
  }

  absl::StatusOr<std::unique_ptr<training::ExampleSource>> source;
  std::vector<int64_t> vocabulary;
  switch (format) {
    case 0:
      vocabulary.assign(training::CriteoFieldNames().size(), vocabulary_size);
      source = training::OpenCriteo(options, vocabulary);
      break;
    case 1:
      vocabulary.assign(training::MovieLensFieldNames().size(), vocabulary_size);
      source = training::OpenMovieLens(options, vocabulary);
      break;
    default: {
      absl::StatusOr<training::TsvSpec> spec = training::ParseTsvSpec(spec_text);
      if (!spec.ok()) break;
      vocabulary.assign(spec->fields.size(), vocabulary_size);
      source = training::OpenTsv(options, *spec, vocabulary);
      break;
    }
  }
  if (source.ok() && *source != nullptr) {
    training::Example example;
    for (int pass = 0; pass < 2; ++pass) {
      for (int n = 0; n < 10000; ++n) {
        absl::StatusOr<bool> more = (*source)->Next(example);
        if (!more.ok() || !*more) break;
        FUZZ_CHECK(example.ids.size() == (*source)->fields().size());
        FUZZ_CHECK(std::isfinite(example.label));
        for (size_t f = 0; f < example.ids.size(); ++f) {
          FUZZ_CHECK(example.ids[f] >= 0);
          if (vocabulary[f] > 0) FUZZ_CHECK(example.ids[f] < vocabulary[f]);
        }
      }
      if (!(*source)->Rewind().ok()) break;
    }
  }
  std::remove(options.path.c_str());
  return 0;
}
