// Copyright embrt authors.
//
// Where Dequeue writes one step's activations: one float32 numpy array holding every feature,
// handed to Python as one view per feature (no copy). The buffers are reused from step to step,
// which keeps the destination memory warm and saves the allocations, but a buffer is taken for a
// new step only when no view of it is alive: every view (and every torch tensor made from one by
// torch.from_numpy, and every view of those) holds a reference to the buffer, so its reference
// count says exactly whether the caller can still read it. An array the caller holds is therefore
// never overwritten; holding one only costs a fresh buffer for the next step. Two buffers per
// replica are kept, which covers the usual loop that still holds step n's activations while it
// dequeues step n + 1.
//
// Every method runs with the GIL held.

#ifndef EMBRT_PYTHON_OUTPUT_BUFFERS_H_
#define EMBRT_PYTHON_OUTPUT_BUFFERS_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/types/span.h"
#include "activation_layout.h"
#include "embrt/embedding.h"
#include "pybind11/numpy.h"
#include "pybind11/pybind11.h"

namespace embrt::python {

class OutputBuffers {
 public:
  // Buffers kept per replica.
  static constexpr size_t kKeptPerReplica = 2;

  // A buffer for `replica`'s next Dequeue on the built `engine`: a kept one that no view
  // references, else a new one. `spans` receives one span per feature into it.
  pybind11::array_t<float> Acquire(const Embedding& engine, int replica,
                                   std::vector<absl::Span<float>>* spans);

  // After a successful Dequeue into `buffer`: one array per feature viewing it (shaped
  // output_shape + [dim]); keeps `buffer` for later steps of `replica` when there is room.
  pybind11::list Views(int replica, const pybind11::array_t<float>& buffer);

  // As Views, but one array [features] + output_shape + [dim] of every feature (strided, no
  // copy). Requires stackable().
  pybind11::array_t<float> StackedView(int replica, const pybind11::array_t<float>& buffer);

  // Whether every feature has the same shape (ActivationLayout::stackable); set by Acquire.
  bool stackable() const { return layout_.stackable; }

 private:
  // Keeps `buffer` for later steps of `replica` when there is room and it is not kept yet.
  void Keep(int replica, const pybind11::array_t<float>& buffer);
  // Fills `spans` with each feature's part of `buffer`; returns `buffer`.
  pybind11::array_t<float> Spans(pybind11::array_t<float> buffer,
                                 std::vector<absl::Span<float>>* spans) const;

  ActivationLayout layout_;  // set at the first Acquire (the engine is built by then)
  std::map<int, std::vector<pybind11::array_t<float>>> kept_;  // by replica
};

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_OUTPUT_BUFFERS_H_
