// Copyright embrt authors.
//
// `embrt inspect CKPT`: manifest, tables, slots, sizes and norms of a checkpoint.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/subcommands.h"
#include "tools/training/checkpoint_inspection.h"
#include "tools/training/flag_parser.h"

namespace embrt {
namespace tools {

int InspectMain(const std::vector<std::string>& args) {
  bool verify = true;
  training::FlagSet flags("embrt inspect", "CHECKPOINT [flags]   (a ckpt-N directory or its root)");
  flags.AddBool("verify", &verify, "check every file's checksum (--noverify: sizes only)");
  absl::Status parsed = flags.Parse(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "embrt inspect: %s\n", std::string(parsed.message()).c_str());
    return 1;
  }
  if (flags.help_requested()) {
    std::fputs(flags.Usage().c_str(), stdout);
    return 0;
  }
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "embrt inspect: give exactly one checkpoint (see embrt inspect --help)\n");
    return 1;
  }
  absl::StatusOr<std::string> text =
      training::InspectCheckpoint(flags.positional()[0], verify);
  if (!text.ok()) {
    std::fprintf(stderr, "embrt inspect: %s\n", std::string(text.status().message()).c_str());
    return 1;
  }
  std::fputs(text->c_str(), stdout);
  return 0;
}

}  // namespace tools
}  // namespace embrt
