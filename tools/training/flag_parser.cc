// Copyright embrt authors.

#include "tools/training/flag_parser.h"

#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace embrt {
namespace training {
namespace {

std::string Bound(double value) {
  if (value >= 9.2e18) return "inf";
  if (value <= -9.2e18) return "-inf";
  // Whole bounds print as integers: "16777216", not StrCat's "1.67772e+07".
  if (value == static_cast<double>(static_cast<int64_t>(value))) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  return absl::StrCat(value);
}

// Whether `text` is written as a whole number (an optional sign and digits), whatever its size.
bool WrittenAsInteger(const std::string& text) {
  const size_t digits = text.find_first_not_of("+-") == 1 ? 1 : 0;
  return text.size() > digits &&
         text.find_first_not_of("0123456789", digits) == std::string::npos;
}

}  // namespace

std::string FlagSet::RangeText(const Flag& flag) {
  return absl::StrCat("[", Bound(flag.min), ", ", Bound(flag.max), "]");
}

FlagSet::FlagSet(std::string command, std::string synopsis)
    : command_(std::move(command)), synopsis_(std::move(synopsis)) {}

void FlagSet::AddString(const std::string& name, std::string* value, const std::string& help) {
  flags_.push_back({name, Type::kString, value, help, value->empty() ? "" : "\"" + *value + "\""});
}
void FlagSet::AddInt64(const std::string& name, int64_t* value, const std::string& help) {
  flags_.push_back({name, Type::kInt64, value, help, absl::StrCat(*value)});
}
void FlagSet::AddInt(const std::string& name, int* value, const std::string& help) {
  flags_.push_back({name, Type::kInt, value, help, absl::StrCat(*value)});
}
void FlagSet::AddFloat(const std::string& name, float* value, const std::string& help) {
  flags_.push_back({name, Type::kFloat, value, help, absl::StrCat(*value)});
}
void FlagSet::AddBool(const std::string& name, bool* value, const std::string& help) {
  flags_.push_back({name, Type::kBool, value, help, *value ? "true" : "false"});
}

void FlagSet::SetRange(const std::string& name, double min, double max) {
  Flag* flag = Find(name);
  if (flag == nullptr) return;
  flag->ranged = true;
  flag->min = min;
  flag->max = max;
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

bool FlagSet::was_set(const std::string& name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return flag.set;
  }
  return false;
}

absl::Status FlagSet::Assign(Flag& flag, const std::string& text) {
  bool ok = true;
  switch (flag.type) {
    case Type::kString:
      *static_cast<std::string*>(flag.value) = text;
      break;
    case Type::kInt64:
      ok = absl::SimpleAtoi(text, static_cast<int64_t*>(flag.value));
      break;
    case Type::kInt:
      ok = absl::SimpleAtoi(text, static_cast<int*>(flag.value));
      break;
    case Type::kFloat:
      ok = absl::SimpleAtof(text, static_cast<float*>(flag.value));
      break;
    case Type::kBool:
      ok = absl::SimpleAtob(text, static_cast<bool*>(flag.value));
      break;
  }
  double number = 0;
  switch (flag.type) {
    case Type::kInt64: number = static_cast<double>(*static_cast<int64_t*>(flag.value)); break;
    case Type::kInt: number = *static_cast<int*>(flag.value); break;
    case Type::kFloat: number = *static_cast<float*>(flag.value); break;
    default: break;
  }
  if (ok && flag.type == Type::kFloat && !std::isfinite(number)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag.name, "=", text, ": expected a finite number"));
  }
  if (ok && flag.ranged && !(number >= flag.min && number <= flag.max)) {
    return absl::InvalidArgumentError(absl::StrCat("--", flag.name, "=", text,
                                                   ": out of range ", RangeText(flag)));
  }
  const bool integer = flag.type == Type::kInt || flag.type == Type::kInt64;
  if (!ok && integer && WrittenAsInteger(text)) {  // a whole number that does not fit the type
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag.name, "=", text, ": out of range ",
        flag.ranged ? RangeText(flag)
                    : (flag.type == Type::kInt ? "for a 32-bit integer" : "for a 64-bit integer")));
  }
  if (!ok) {
    static const char* kTypeNames[] = {"a string", "an integer", "an integer", "a number",
                                       "true or false"};
    return absl::InvalidArgumentError(absl::StrCat("--", flag.name, "=", text, ": expected ",
                                                   kTypeNames[static_cast<int>(flag.type)]));
  }
  flag.set = true;
  return absl::OkStatus();
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional_.insert(positional_.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      positional_.push_back(arg);
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    const size_t equals = body.find('=');
    const bool has_value = equals != std::string::npos;
    if (has_value) {
      name = body.substr(0, equals);
      value = body.substr(equals + 1);
    }
    if (name == "help" || name == "h") {
      help_requested_ = true;
      continue;
    }
    Flag* flag = Find(name);
    if (flag == nullptr && !has_value && name.rfind("no", 0) == 0) {
      Flag* negated = Find(name.substr(2));
      if (negated != nullptr && negated->type == Type::kBool) {
        *static_cast<bool*>(negated->value) = false;
        negated->set = true;
        continue;
      }
    }
    if (flag == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", arg, "' (see ", command_, " --help)"));
    }
    if (!has_value) {
      if (flag->type == Type::kBool) {
        *static_cast<bool*>(flag->value) = true;
        flag->set = true;
        continue;
      }
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    absl::Status assigned = Assign(*flag, value);
    if (!assigned.ok()) return assigned;
  }
  return absl::OkStatus();
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: ", command_, " ", synopsis_, "\n\nflags:\n");
  for (const Flag& flag : flags_) {
    absl::StrAppendFormat(&out, "  --%-22s %s", flag.name, flag.help);
    if (flag.ranged) absl::StrAppend(&out, " in ", RangeText(flag));
    if (!flag.default_text.empty()) absl::StrAppend(&out, " (default ", flag.default_text, ")");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace training
}  // namespace embrt
