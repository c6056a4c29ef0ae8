// Copyright embrt authors.

#include "tools/training/memory_budget.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace embrt {
namespace training {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

int64_t SaturatingProduct(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t factor : factors) {
    if (factor < 0 || __builtin_mul_overflow(product, factor, &product)) return kMax;
  }
  return product;
}

int64_t SaturatingSum(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? kMax : sum;
}

}  // namespace

int64_t MemoryLimitBytes() {
  int64_t limit = kMax;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0) limit = SaturatingProduct({pages, page_size});
  for (int resource : {RLIMIT_AS, RLIMIT_DATA}) {
    struct rlimit rl;
    if (::getrlimit(resource, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      limit = std::min<int64_t>(limit, static_cast<int64_t>(std::min<rlim_t>(rl.rlim_cur, kMax)));
    }
  }
  return limit;
}

int64_t StepBufferBytes(int64_t batch_size, int64_t features, int64_t dim) {
  // Per feature and example: activations and gradients here, the engine's activations and
  // the plugin's (4 floats of dim), ids here and in the engine (2 int64), row splits (int64).
  const int64_t per_example = SaturatingSum(SaturatingProduct({features, dim, 4 * 4}),
                                            SaturatingProduct({features, 3 * 8}));
  // Scores, score gradients and labels.
  return SaturatingSum(SaturatingProduct({batch_size, per_example}),
                       SaturatingProduct({batch_size, 3 * 4}));
}

absl::Status CheckFitsInMemory(absl::string_view what, absl::string_view purpose, int64_t bytes) {
  const int64_t limit = MemoryLimitBytes();
  if (bytes <= limit) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat(what, " needs ", bytes == kMax ? "more than 2^63" : absl::StrCat(bytes),
                   " bytes of ", purpose, ", more than the ", limit,
                   " bytes this process may use (physical memory, RLIMIT_AS, RLIMIT_DATA)"));
}

}  // namespace training
}  // namespace embrt
