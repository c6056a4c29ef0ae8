// Copyright embrt authors.
//
// `embrt`: train, evaluate and inspect embedding models, list and test backend plugins.

#include <cstdio>
#include <string>
#include <vector>

#include "tools/subcommands.h"

namespace {

constexpr char kUsage[] =
    "usage: embrt <command> [flags]\n"
    "\n"
    "commands:\n"
    "  train        train a factorization machine (no flags: the built-in synthetic click log)\n"
    "  eval         evaluate a checkpoint on data\n"
    "  inspect      show a checkpoint: manifest, tables, slots, sizes, norms\n"
    "  plugins      list the backends found on the plugin search path\n"
    "  conformance  run the conformance suite against a plugin (--plugin=PATH)\n"
    "\n"
    "`embrt <command> --help` lists the command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 1;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "train") return embrt::tools::TrainMain(args);
  if (command == "eval") return embrt::tools::EvalMain(args);
  if (command == "inspect") return embrt::tools::InspectMain(args);
  if (command == "plugins") return embrt::tools::PluginsMain(args);
  if (command == "conformance") return embrt::tools::ConformanceMain(args, argv[0]);
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "embrt: unknown command '%s' (train, eval, inspect, plugins, "
               "conformance; see embrt --help)\n", command.c_str());
  return 1;
}
