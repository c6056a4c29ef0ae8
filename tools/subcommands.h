// Copyright embrt authors.
//
// The subcommands of the `embrt` binary, one *_main.cc each. Each takes the arguments after
// its name, prints results on stdout and one line per error on stderr, and returns the exit
// code (0 success, 1 error).

#ifndef EMBRT_TOOLS_SUBCOMMANDS_H_
#define EMBRT_TOOLS_SUBCOMMANDS_H_

#include <string>
#include <vector>

namespace embrt {
namespace tools {

int TrainMain(const std::vector<std::string>& args);
int EvalMain(const std::vector<std::string>& args);
int InspectMain(const std::vector<std::string>& args);
int PluginsMain(const std::vector<std::string>& args);
int ConformanceMain(const std::vector<std::string>& args, const char* argv0);

}  // namespace tools
}  // namespace embrt

#endif  // EMBRT_TOOLS_SUBCOMMANDS_H_
