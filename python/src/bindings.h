// Copyright embrt authors.
//
// The parts of the extension module embrt._embrt, one registration function per file.

#ifndef EMBRT_PYTHON_BINDINGS_H_
#define EMBRT_PYTHON_BINDINGS_H_

#include <string>

#include "embrt/config.pb.h"
#include "embrt/embedding_tables.h"
#include "pybind11/pybind11.h"

namespace embrt::python {

// config_binding.cc: a config from text, a file or JSON (what a Python dict becomes).
// `source` is "text", "path" or "json". Raises the status errors.
EmbeddingConfig ParseConfig(const std::string& config, const std::string& source);

// embedding_binding.cc: {table: {slot: read-only array}} viewing `tables` (no copy).
pybind11::dict TablesOf(EmbeddingTables tables);

void RegisterConfig(pybind11::module_& m);
void RegisterEmbedding(pybind11::module_& m);
void RegisterCheckpoint(pybind11::module_& m);
void RegisterBenchSupport(pybind11::module_& m);

}  // namespace embrt::python

#endif  // EMBRT_PYTHON_BINDINGS_H_
