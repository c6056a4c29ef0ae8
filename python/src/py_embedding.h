// Copyright embrt authors.
//
// The object behind embrt._embrt.Embedding: an embrt::Embedding plus the Python callables its
// options call back (learning-rate schedules, the warning sink). The callables are kept here,
// alive and owned with the GIL, and the C++ side only borrows them, so the engine can be
// destroyed with the GIL released (its threads may still be calling back). It also keeps the
// buffers dequeue() reuses (output_buffers.h).

#ifndef EMBRT_PYTHON_PY_EMBEDDING_H_
#define EMBRT_PYTHON_PY_EMBEDDING_H_

#include <memory>
#include <string>
#include <vector>

#include "embrt/embedding.h"
#include "output_buffers.h"
#include "pybind11/pybind11.h"

namespace embrt::python {

class PyEmbedding {
 public:
  PyEmbedding(const EmbeddingConfig& config, pybind11::dict schedules,
              pybind11::object warning_sink);
  ~PyEmbedding();

  Embedding& engine() { return *engine_; }
  // Feature names in config order, for error messages.
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  // Where dequeue() writes activations (with the GIL held).
  OutputBuffers& output_buffers() { return output_buffers_; }

 private:
  pybind11::dict schedules_;
  pybind11::object warning_sink_;
  std::unique_ptr<Embedding> engine_;
  std::vector<std::string> feature_names_;
  OutputBuffers output_buffers_;
};

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_PY_EMBEDDING_H_
