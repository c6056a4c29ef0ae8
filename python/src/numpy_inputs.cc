// Copyright embrt authors.

#include "numpy_inputs.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace py = pybind11;

namespace embrt::python {
namespace {

// Names a feature (and a part of its input) in error messages. The text is built only for an
// error, so a step's conversions format nothing.
struct Label {
  const std::string* name;  // nullptr: the feature is named by its index
  size_t index;
  const char* part;         // appended to "feature 'x'": " ids", " sparse indices", ...

  Label Part(const char* p) const { return Label{name, index, p}; }
  std::string Text() const {
    if (name != nullptr) return absl::StrCat("feature '", *name, "'", part);
    return absl::StrCat("feature ", index, part);
  }
};

Label FeatureLabel(const std::vector<std::string>& names, size_t index) {
  return Label{index < names.size() ? &names[index] : nullptr, index, ""};
}

std::string ShapeText(const py::array& array) {
  std::vector<int64_t> shape(array.shape(), array.shape() + array.ndim());
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// numpy.asarray(value) without a copy for arrays and CPU tensors.
py::array AsArray(const py::handle& value, const Label& what) {
  py::array array = py::array::ensure(value);
  if (!array) {
    PyErr_Clear();
    throw py::type_error(absl::StrCat(what.Text(), ": expected an array, got ",
                                      std::string(py::str(value.get_type().attr("__name__")))));
  }
  return array;
}

// The ids as a C-contiguous int64 array: no copy when they already are one.
py::array_t<int64_t> Ids(const py::handle& value, const Label& what) {
  // The common case, checked without numpy's conversion machinery.
  if (py::isinstance<py::array_t<int64_t, py::array::c_style>>(value)) {
    return py::reinterpret_borrow<py::array_t<int64_t>>(value);
  }
  py::array array = AsArray(value, what);
  const char kind = array.dtype().kind();
  if (kind != 'i' && kind != 'u' && array.size() != 0) {
    throw py::type_error(absl::StrCat(what.Text(), " must be integers, got dtype ",
                                      std::string(py::str(array.dtype()))));
  }
  auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!ids) throw py::error_already_set();
  return ids;
}

// Weights or gradients as a C-contiguous float32 array: no copy when they already are one.
py::array_t<float> Floats(const py::handle& value, const Label& what) {
  if (py::isinstance<py::array_t<float, py::array::c_style>>(value)) {
    return py::reinterpret_borrow<py::array_t<float>>(value);
  }
  py::array array = AsArray(value, what);
  const char kind = array.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && array.size() != 0) {
    throw py::type_error(absl::StrCat(what.Text(), " must be floating point, got dtype ",
                                      std::string(py::str(array.dtype()))));
  }
  auto floats = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(array);
  if (!floats) throw py::error_already_set();
  return floats;
}

template <typename T>
absl::Span<const T> SpanOf(const py::array_t<T>& array) {
  return absl::Span<const T>(array.data(), static_cast<size_t>(array.size()));
}

std::vector<int64_t> ShapeVector(const py::handle& value, const Label& what) {
  py::array_t<int64_t> shape = Ids(value, what);
  if (shape.ndim() != 1) {
    throw py::value_error(absl::StrCat(what.Text(), " must be 1-D, got shape ",
                                       ShapeText(shape)));
  }
  return std::vector<int64_t>(shape.data(), shape.data() + shape.size());
}

FeatureInput ConvertInput(const py::handle& value, const Label& name,
                          std::vector<py::object>& keep) {
  if (py::isinstance<py::tuple>(value)) {
    py::tuple parts = py::reinterpret_borrow<py::tuple>(value);
    if (parts.size() == 3) {  // sparse: (indices, values, dense_shape)
      std::vector<int64_t> dense_shape = ShapeVector(parts[2], name.Part(" dense_shape"));
      py::array_t<int64_t> indices = Ids(parts[0], name.Part(" sparse indices"));
      py::array_t<int64_t> values = Ids(parts[1], name.Part(" sparse values"));
      if (values.ndim() != 1) {
        throw py::value_error(absl::StrCat(name.Text(), " sparse values must be 1-D, got shape ",
                                           ShapeText(values)));
      }
      if (indices.ndim() == 2 && (indices.shape(0) != values.shape(0) ||
                                  indices.shape(1) != static_cast<ssize_t>(dense_shape.size()))) {
        throw py::value_error(absl::StrCat(
            name.Text(), " sparse indices must have shape [", values.shape(0), ", ",
            dense_shape.size(), "] (one row per value, one column per dense_shape entry), got ",
            ShapeText(indices)));
      }
      keep.push_back(indices);
      keep.push_back(values);
      return FeatureInput::Sparse(SpanOf(indices), SpanOf(values), std::move(dense_shape));
    }
    if (parts.size() == 2) {  // ragged: (row_splits, values)
      py::array_t<int64_t> splits = Ids(parts[0], name.Part(" row_splits"));
      py::array_t<int64_t> values = Ids(parts[1], name.Part(" ragged values"));
      if (splits.ndim() != 1 || values.ndim() != 1) {
        throw py::value_error(absl::StrCat(name.Text(),
                                           " ragged row_splits and values must be 1-D, got ",
                                           ShapeText(splits), " and ", ShapeText(values)));
      }
      keep.push_back(splits);
      keep.push_back(values);
      return FeatureInput::Ragged(SpanOf(splits), SpanOf(values));
    }
    throw py::value_error(absl::StrCat(
        name.Text(), ": a tuple input must be (indices, values, dense_shape) or (row_splits, "
                     "values), got a tuple of ", parts.size()));
  }
  py::array_t<int64_t> ids = Ids(value, name.Part(" ids"));
  if (ids.ndim() == 0) {
    throw py::value_error(name.Text() + " ids must have rank >= 1, got a scalar");
  }
  std::vector<int64_t> shape(ids.shape(), ids.shape() + ids.ndim());
  keep.push_back(ids);
  return FeatureInput::Dense(SpanOf(ids), std::move(shape));
}

std::optional<FeatureWeights> ConvertWeights(const py::handle& value, InputKind kind,
                                             const Label& name, std::vector<py::object>& keep) {
  if (value.is_none()) return std::nullopt;
  py::handle values = value;
  if (py::isinstance<py::tuple>(value)) {
    py::tuple parts = py::reinterpret_borrow<py::tuple>(value);
    if (parts.size() != 2 && parts.size() != 3) {
      throw py::value_error(absl::StrCat(
          name.Text(), ": tuple weights must be shaped like the ids, (indices, values, "
                       "dense_shape) or (row_splits, values), got a tuple of ", parts.size()));
    }
    values = parts[1];
  }
  py::array_t<float> weights = Floats(values, name.Part(" weights"));
  keep.push_back(weights);
  FeatureWeights result;
  result.kind = kind;
  result.values = SpanOf(weights);
  return result;
}

}  // namespace

void ConvertFeatures(const py::sequence& features, const py::object& weights,
                     const std::vector<std::string>& names, HeldInputs* held) {
  const size_t count = features.size();
  held->features.reserve(count);
  held->arrays.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    held->features.push_back(ConvertInput(features[i], FeatureLabel(names, i), held->arrays));
  }
  if (weights.is_none()) return;
  py::sequence weight_list = py::reinterpret_borrow<py::sequence>(weights);
  if (weight_list.size() != count) {
    throw py::value_error(absl::StrCat("weights must have one entry (or None) per feature: got ",
                                       weight_list.size(), " for ", count, " features"));
  }
  for (size_t i = 0; i < count; ++i) {
    held->weights.push_back(ConvertWeights(weight_list[i], held->features[i].kind,
                                           FeatureLabel(names, i), held->arrays));
  }
}

void ConvertOneFeature(const py::handle& input, const py::handle& weights,
                       const std::string& name, HeldInputs* held) {
  const Label label{&name, 0, ""};
  held->features.push_back(ConvertInput(input, label, held->arrays));
  held->weights.push_back(
      ConvertWeights(weights, held->features.back().kind, label, held->arrays));
}

void ConvertGradients(const py::sequence& gradients, const std::vector<std::string>& names,
                      HeldGradients* held) {
  const size_t count = gradients.size();
  held->views.reserve(count);
  held->arrays.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    py::handle value = gradients[i];
    if (value.is_none()) {
      held->views.emplace_back(std::nullopt);
      continue;
    }
    py::array_t<float> gradient = Floats(value, FeatureLabel(names, i).Part(" gradient"));
    held->arrays.push_back(gradient);
    TensorView view;
    view.values = SpanOf(gradient);
    view.shape.assign(gradient.shape(), gradient.shape() + gradient.ndim());
    held->views.push_back(std::move(view));
  }
}

float* CheckOutputBuffer(const py::handle& value, int64_t size, const std::string& name) {
  if (!py::isinstance<py::array>(value)) {
    throw py::type_error(name + ": out must hold numpy arrays");
  }
  py::array array = py::reinterpret_borrow<py::array>(value);
  if (!array.dtype().is(py::dtype::of<float>())) {
    throw py::type_error(absl::StrCat(name, ": out array must be float32, got ",
                                      std::string(py::str(array.dtype()))));
  }
  if (!(array.flags() & py::array::c_style) || !array.writeable()) {
    throw py::value_error(name + ": out array must be C-contiguous and writable");
  }
  if (array.size() != size) {
    throw py::value_error(absl::StrCat(name, ": out array must hold ", size,
                                       " floats (output_shape + [dim]), got shape ",
                                       ShapeText(array)));
  }
  return static_cast<float*>(array.mutable_data());
}

py::array_t<float> TensorToNumpy(Tensor&& tensor) {
  auto* values = new std::vector<float>(std::move(tensor.values));
  py::capsule owner(values, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  std::vector<ssize_t> shape(tensor.shape.begin(), tensor.shape.end());
  return py::array_t<float>(shape, values->data(), owner);
}

}  // namespace embrt::python
