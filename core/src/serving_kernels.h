// Copyright embrt authors.
//
// The gathers behind ServingLookup (embrt/serving.h), over one table of a checkpoint; internal
// to the core. Rows of a large table are random memory accesses, so every kernel asks for the
// row kPrefetchIds ids ahead of the one it reads, across bag boundaries (bags of one id gain
// as much as long ones).
//
//   CombineBags, for each bag b (entries [starts[b], starts[b+1]) of ids and gains):
//     an empty bag gives zeros;
//     out[o, :] = g0 * row(ids[k0]); then out[o, :] = out[o, :] + gk * row(ids[k]) for the
//     bag's next entries, left to right (DESIGN.md §3's order; vectorized across the dim only,
//     so the cpu backend's inference lookup gives the same bits), where o = output_rows[b], or
//     b without output_rows. Without gains every gain is 1 and the multiply is skipped
//     (1 * x == x). Dims 16, 32, 64 and 128 keep the sum in vector registers.
//   GatherRows: out[k, :] = row(ids[k])   (a dense input: the row's bytes)
//   GatherSequences (ragged rows as sequences of `length`): out[b, p, :] = row(ids[starts[b] + p])
//     for p < min(length, starts[b+1] - starts[b]) and zeros after; ids past `length` are
//     checked but not read.
//   AddSequences (sparse sequences, `coordinates` [count, 2] = (b, p)): for each k in order with
//     p < length, out[b, p, :] = out[b, p, :] + row(ids[k])   (TF's scatter_nd into zeros, which
//     the caller writes first: a repeated coordinate sums)
//
// Except for AddSequences, and CombineBags' output rows that no bag names, the kernels write
// every float of their output, so a reused output buffer needs no clearing first.
//
// Every kernel checks each id against [0, rows) before it touches the id's row, in position
// order, and returns the position of the first id outside, or -1 when all are inside: a batch
// is read once, not once to check and once to look up. After a bad id, `out` holds a partial
// result, which the caller throws away.

#ifndef EMBRT_CORE_SRC_SERVING_KERNELS_H_
#define EMBRT_CORE_SRC_SERVING_KERNELS_H_

#include <cstdint>

#include "embrt/checkpoint.h"

namespace embrt {
namespace internal {

// The rows of one table: `base` [rows, dim] row-major when the checkpoint stores the table as
// one file, else (base null) through the reader.
struct ServingRows {
  int64_t count = 0;  // rows in the table (its vocabulary_size)
  const float* base = nullptr;
  const CheckpointReader* reader = nullptr;
  int reader_table = 0;
  int32_t dim = 0;

  // always_inline: see serving_kernels.cc.
  __attribute__((always_inline)) const float* Row(int64_t id) const {
    if (base != nullptr) return base + id * dim;
    return reader->Row(reader_table, 0, id).data();
  }
};

// Bags in CSR form over `ids` [num_ids] and `gains` [num_ids] (null: every gain is 1).
struct ServingBags {
  const int64_t* starts = nullptr;  // [count + 1], ascending, starts[count] <= num_ids
  int64_t count = 0;
  const int64_t* output_rows = nullptr;  // [count] or null (bag b -> row b)
  const int64_t* ids = nullptr;
  int64_t num_ids = 0;
  const float* gains = nullptr;
};

int64_t CombineBags(const ServingRows& table, const ServingBags& bags, float* out);

int64_t GatherRows(const ServingRows& table, const int64_t* ids, int64_t count, float* out);

int64_t GatherSequences(const ServingRows& table, const int64_t* starts, int64_t rows,
                        const int64_t* ids, int64_t length, float* out);

int64_t AddSequences(const ServingRows& table, const int64_t* coordinates, const int64_t* ids,
                     int64_t count, int64_t length, float* out);

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_SERVING_KERNELS_H_
