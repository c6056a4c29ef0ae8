// Copyright embrt authors.

#include "tools/training/plugin_listing.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "plugin_loader.h"  // core/src: the loader's search path and LoadPlugin

namespace embrt {
namespace training {
namespace {

// The probe's answer on the pipe: a sequence of length-prefixed strings. First "ok" or
// "error", then the error message, or key, value, key, value... .
void AppendField(std::string& out, const std::string& field) {
  const uint32_t size = static_cast<uint32_t>(field.size());
  out.append(reinterpret_cast<const char*>(&size), sizeof(size));
  out += field;
}

bool NextField(const std::string& in, size_t& at, std::string& field) {
  uint32_t size = 0;
  if (in.size() - at < sizeof(size)) return false;
  memcpy(&size, in.data() + at, sizeof(size));
  at += sizeof(size);
  if (in.size() - at < size) return false;
  field.assign(in, at, size);
  at += size;
  return true;
}

// In the forked child: load, answer, exit without running anyone's destructors.
[[noreturn]] void ProbeChild(const std::string& path, int answer_fd) {
  struct rlimit no_core = {0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);  // the listing owns stdout
  std::string answer;
  absl::StatusOr<internal::LoadedPlugin> loaded = internal::LoadPlugin(path);
  if (loaded.ok()) {
    AppendField(answer, "ok");
    for (const auto& [key, value] : loaded->attributes) {
      AppendField(answer, key);
      AppendField(answer, value);
    }
  } else {
    AppendField(answer, "error");
    AppendField(answer, std::string(loaded.status().message()));
  }
  for (size_t at = 0; at < answer.size();) {
    const ssize_t wrote = ::write(answer_fd, answer.data() + at, answer.size() - at);
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote <= 0) ::_exit(2);
    at += static_cast<size_t>(wrote);
  }
  ::_exit(0);
}

std::string DescribeExit(int status) {
  if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    const char* name = sigabbrev_np(signal);
    return absl::StrCat("the library killed the process with signal ", signal,
                        name != nullptr ? absl::StrCat(" (SIG", name, ")") : "",
                        " while loading");
  }
  return absl::StrCat("the library ended the process with exit status ", WEXITSTATUS(status),
                      " while loading");
}

}  // namespace

void ProbePlugin(FoundPlugin& plugin, int timeout_ms) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    plugin.error = absl::StrCat("cannot probe: pipe: ", strerror(errno));
    return;
  }
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t child = ::fork();
  if (child < 0) {
    plugin.error = absl::StrCat("cannot probe: fork: ", strerror(errno));
    ::close(fds[0]);
    ::close(fds[1]);
    return;
  }
  if (child == 0) {
    ::close(fds[0]);
    ProbeChild(plugin.path, fds[1]);
  }
  ::close(fds[1]);
  std::string answer;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buffer[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd waiting = {fds[0], POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(left));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above ends it
    const ssize_t got = ::read(fds[0], buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of file: the child exited (or closed the pipe)
    answer.append(buffer, static_cast<size_t>(got));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    plugin.error = absl::StrCat("the library did not finish loading within ", timeout_ms,
                                " ms (killed)");
    return;
  }
  size_t at = 0;
  std::string kind, field, value;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !NextField(answer, at, kind)) {
    plugin.error = DescribeExit(status);
    return;
  }
  if (kind == "error") {
    plugin.error = NextField(answer, at, field) ? field : "cannot load (no reason given)";
    return;
  }
  while (NextField(answer, at, field) && NextField(answer, at, value)) {
    plugin.attributes.emplace_back(field, value);
  }
}

PluginListing ListPlugins() {
  PluginListing listing;
  listing.search_path = internal::PluginSearchPath();
  std::set<std::string> seen_paths;
  constexpr char kPrefix[] = "libembrt_backend_";
  for (const std::string& directory : listing.search_path) {
    std::error_code error;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const std::filesystem::path& file : files) {
      const std::string name = file.filename().string();
      if (name.rfind(kPrefix, 0) != 0 || file.extension() != ".so") continue;
      const std::string canonical = std::filesystem::weakly_canonical(file, error).string();
      if (!seen_paths.insert(canonical).second) continue;
      FoundPlugin plugin;
      plugin.name = name.substr(sizeof(kPrefix) - 1, name.size() - (sizeof(kPrefix) - 1) - 3);
      plugin.path = file.string();
      // In a child process: a library that exits, aborts or hangs while loading is listed
      // as broken instead of taking `embrt plugins` down with it.
      ProbePlugin(plugin, kProbeTimeoutMs);
      listing.plugins.push_back(std::move(plugin));
    }
  }
  return listing;
}

absl::StatusOr<std::string> ResolvePluginPath(const std::string& name_or_path) {
  if (name_or_path.find('/') != std::string::npos) return name_or_path;
  absl::StatusOr<internal::LoadedPlugin> loaded = internal::LoadPlugin(name_or_path);
  if (!loaded.ok()) return loaded.status();
  return loaded->path;
}

std::string FormatPluginListing(const PluginListing& listing) {
  std::string out = "search path (in order):\n";
  for (const std::string& directory : listing.search_path) {
    absl::StrAppend(&out, "  ", directory, "\n");
  }
  if (listing.plugins.empty()) absl::StrAppend(&out, "no backend found\n");
  std::set<std::string> names;
  for (const FoundPlugin& plugin : listing.plugins) {
    const bool shadowed = !names.insert(plugin.name).second;
    absl::StrAppendFormat(&out, "\n%s%s\n  path: %s\n", plugin.name,
                          shadowed ? " (shadowed by an earlier one of the same name)" : "",
                          plugin.path);
    if (!plugin.error.empty()) {
      absl::StrAppendFormat(&out, "  cannot load: %s\n", plugin.error);
      continue;
    }
    for (const auto& [key, value] : plugin.attributes) {
      absl::StrAppendFormat(&out, "  %-22s %s\n", key, value);
    }
  }
  return out;
}

}  // namespace training
}  // namespace embrt
