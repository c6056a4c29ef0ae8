// Copyright embrt authors.
//
// File: tools/training/flag_parser.h
// ----------------------------------
// The flags of one `embrt` subcommand. Each subcommand has its own set, so `embrt train
// --help` lists exactly the train flags and a flag of another subcommand is an error. (Abseil's
// flags link on Debian 12, but they are global to the process: every subcommand would accept
// every other's flags.)
//
// Syntax: --name=value, --name value, --bool / --bool=true|false / --nobool; "--" ends flags.
// Everything else is positional.
//
// Thread safety: one thread.

#ifndef EMBRT_TOOLS_TRAINING_FLAG_PARSER_H_
#define EMBRT_TOOLS_TRAINING_FLAG_PARSER_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace embrt {
namespace training {

class FlagSet {
 public:
  // `command` ("embrt train") and `synopsis` head the usage text.
  FlagSet(std::string command, std::string synopsis);

  // Registers a flag writing into `*value` (borrowed; must outlive Parse). The value's
  // initial content is the default shown in the usage text.
  void AddString(const std::string& name, std::string* value, const std::string& help);
  void AddInt64(const std::string& name, int64_t* value, const std::string& help);
  void AddInt(const std::string& name, int* value, const std::string& help);
  void AddFloat(const std::string& name, float* value, const std::string& help);
  void AddBool(const std::string& name, bool* value, const std::string& help);

  // Restricts a numeric flag registered above to [min, max] (shown in the usage text). Float
  // flags are always finite: "nan" and "inf" are rejected.
  void SetRange(const std::string& name, double min, double max);

  // Parses `args` (the arguments after the subcommand). INVALID_ARGUMENT naming the flag on
  // an unknown flag, a missing or malformed value, a non-finite float or a value out of its
  // range. Sets help_requested() on --help.
  absl::Status Parse(const std::vector<std::string>& args);

  bool help_requested() const { return help_requested_; }
  bool was_set(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

  std::string Usage() const;

 private:
  enum class Type { kString, kInt64, kInt, kFloat, kBool };
  struct Flag {
    std::string name;
    Type type;
    void* value;
    std::string help;
    std::string default_text;
    bool set = false;
    bool ranged = false;
    double min = 0, max = 0;
  };
  Flag* Find(const std::string& name);
  absl::Status Assign(Flag& flag, const std::string& text);
  static std::string RangeText(const Flag& flag);

  std::string command_;
  std::string synopsis_;
  std::vector<Flag> flags_;
  std::vector<std::string> positional_;
  bool help_requested_ = false;
};

}  // namespace training
}  // namespace embrt

#endif  // EMBRT_TOOLS_TRAINING_FLAG_PARSER_H_
