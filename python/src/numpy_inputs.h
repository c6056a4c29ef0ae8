// Copyright embrt authors.
//
// Python values -> embrt::FeatureInput / FeatureWeights / TensorView, without copies where the
// caller's arrays already have the right dtype and layout (int64 ids, float32 weights and
// gradients, C-contiguous); otherwise one conversion. The converted numpy arrays are kept in
// the holder, so the spans stay valid while the GIL is released for the C++ call.
//
// Accepted per feature (anything numpy.asarray takes, e.g. numpy arrays, lists, CPU tensors):
//   ids                                   dense ids, any shape
//   (indices, values, dense_shape)        sparse: indices [nnz, rank] (or flat), dense_shape
//   (row_splits, values)                  ragged, rank 2
// Weights per feature: None, an array of one float per id, or a tuple shaped like the ids
// (only its values are used).

#ifndef EMBRT_PYTHON_NUMPY_INPUTS_H_
#define EMBRT_PYTHON_NUMPY_INPUTS_H_

#include <optional>
#include <string>
#include <vector>

#include "embrt/inputs.h"
#include "pybind11/numpy.h"
#include "pybind11/pybind11.h"

namespace embrt::python {

// Keeps converted arrays alive for as long as the views point into them.
struct HeldInputs {
  std::vector<pybind11::object> arrays;
  std::vector<FeatureInput> features;
  std::vector<std::optional<FeatureWeights>> weights;
};

// `names[i]` names feature i in error messages (a shorter list falls back to the index).
// Raises TypeError for a wrong dtype or Python type and ValueError for a wrong structure,
// naming the feature.
void ConvertFeatures(const pybind11::sequence& features, const pybind11::object& weights,
                     const std::vector<std::string>& names, HeldInputs* held);

// One feature's input (and optional weights) for ServingLookup::LookupFeature.
void ConvertOneFeature(const pybind11::handle& input, const pybind11::handle& weights,
                       const std::string& name, HeldInputs* held);

// Gradients: one float array (or None) per feature.
struct HeldGradients {
  std::vector<pybind11::object> arrays;
  std::vector<std::optional<TensorView>> views;
};
void ConvertGradients(const pybind11::sequence& gradients, const std::vector<std::string>& names,
                      HeldGradients* held);

// A C-contiguous, writable float32 array of `size` elements, else ValueError/TypeError naming
// `name`. Returns its data.
float* CheckOutputBuffer(const pybind11::handle& array, int64_t size, const std::string& name);

// Moves an owned tensor into a numpy array without copying its values.
pybind11::array_t<float> TensorToNumpy(Tensor&& tensor);

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_NUMPY_INPUTS_H_
