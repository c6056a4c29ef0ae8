// Copyright embrt authors.

#include "id_range.h"

#include "multiversion.h"

namespace embrt {
namespace internal {

EMBRT_CORE_MULTIVERSION
bool IdsInRange(const int64_t* ids, size_t count, uint64_t vocabulary) {
  uint64_t bad = 0;
  for (size_t k = 0; k < count; ++k) bad |= static_cast<uint64_t>(ids[k]) >= vocabulary;
  return bad == 0;
}

}  // namespace internal
}  // namespace embrt
