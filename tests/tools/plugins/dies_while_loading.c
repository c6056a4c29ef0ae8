/* Copyright embrt authors.
 *
 * A "backend" whose constructor ends the process while it is being loaded, as an
 * ASan-built plugin without the ASan runtime does: exit(3), or abort() when built with
 * EMBRT_TEST_ABORT. `embrt plugins` must list it as broken and go on. */

#include <stdlib.h>

__attribute__((constructor)) static void DieWhileLoading(void) {
#ifdef EMBRT_TEST_ABORT
  abort();
#else
  exit(3);
#endif
}
