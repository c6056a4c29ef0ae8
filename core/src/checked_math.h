// Copyright embrt authors.
//
// Overflow-checked integer arithmetic for every shape and size computed from user input
// (internal to the core, header-only so that the fuzz targets and tests use the same code).
//
// Shapes, row counts and byte sizes come from configs, checkpoints and Enqueue's inputs, all of
// them untrusted: a product that wraps can pass a later equality check (a dense_shape of
// {2^62 + 1, 4, 5} multiplies to 4) and then size a buffer too small. Every such product goes
// through these helpers, which report overflow instead of wrapping.

#ifndef EMBRT_CORE_SRC_CHECKED_MATH_H_
#define EMBRT_CORE_SRC_CHECKED_MATH_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/types/span.h"

namespace embrt {
namespace internal {

// a * b, or nullopt when it does not fit T.
template <typename T>
std::optional<T> CheckedMul(T a, T b) {
  T result;
  if (__builtin_mul_overflow(a, b, &result)) return std::nullopt;
  return result;
}

// a + b, or nullopt when it does not fit T.
template <typename T>
std::optional<T> CheckedAdd(T a, T b) {
  T result;
  if (__builtin_add_overflow(a, b, &result)) return std::nullopt;
  return result;
}

// The product of `dims` (1 for an empty span), or nullopt when a dimension is negative or the
// product does not fit int64.
inline std::optional<int64_t> CheckedProduct(absl::Span<const int64_t> dims) {
  int64_t product = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(product, d, &product)) return std::nullopt;
  }
  return product;
}

// a * b * c as size_t, or nullopt when any factor is negative or the product does not fit.
// For byte sizes such as rows x dim x sizeof(float).
inline std::optional<size_t> CheckedBytes(int64_t a, int64_t b, int64_t c) {
  if (a < 0 || b < 0 || c < 0) return std::nullopt;
  size_t result;
  if (__builtin_mul_overflow(static_cast<size_t>(a), static_cast<size_t>(b), &result) ||
      __builtin_mul_overflow(result, static_cast<size_t>(c), &result)) {
    return std::nullopt;
  }
  return result;
}

}  // namespace internal
}  // namespace embrt

#endif  // EMBRT_CORE_SRC_CHECKED_MATH_H_
