// Copyright embrt authors.
//
// File: embrt/status_macros.h
// ---------------------------
// Early-return helpers for absl::Status and absl::StatusOr. Abseil 20220623 (Debian 12) ships
// none, so embrt defines its own.
//
//   EMBRT_RETURN_IF_ERROR(DoThing());
//   EMBRT_ASSIGN_OR_RETURN(std::string text, ReadFile(path));

#ifndef EMBRT_STATUS_MACROS_H_
#define EMBRT_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define EMBRT_RETURN_IF_ERROR(expr)                      \
  do {                                                   \
    ::absl::Status embrt_status_ = (expr);               \
    if (!embrt_status_.ok()) return embrt_status_;       \
  } while (false)

#define EMBRT_STATUS_CONCAT_INNER_(a, b) a##b
#define EMBRT_STATUS_CONCAT_(a, b) EMBRT_STATUS_CONCAT_INNER_(a, b)

#define EMBRT_ASSIGN_OR_RETURN(lhs, expr) \
  EMBRT_ASSIGN_OR_RETURN_IMPL_(EMBRT_STATUS_CONCAT_(embrt_statusor_, __LINE__), lhs, expr)

#define EMBRT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // EMBRT_STATUS_MACROS_H_
