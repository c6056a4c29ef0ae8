/* Copyright embrt authors.
 *
 * File: embrt/plugin_c_helpers.h
 * ------------------------------
 * Optional header-only C11 helpers for a plugin written in plain C against plugin_api.h: error
 * objects (README rule 3), reading args structs through their struct_size (rule 2), and the
 * checks every plugin makes on a description, an input and a shard range (rules 7, 8, 12, 13,
 * 20, 24). Include it in exactly one translation unit of the plugin; every function is static.
 *
 *   EMBRT_Error* e = EMBRT_C_Error(EMBRT_CODE_INVALID_ARGUMENT, "feature %d: id %lld", f, id);
 *   EMBRT_Engine_Enqueue_Args a;
 *   if (!EMBRT_C_READ_ARGS(&a, args)) return EMBRT_C_Error(EMBRT_CODE_INVALID_ARGUMENT, ...);
 *
 * and in the EMBRT_Api table: EMBRT_C_Error_Destroy, EMBRT_C_Error_Message,
 * EMBRT_C_Error_GetCode.
 */
#ifndef EMBRT_PLUGIN_C_HELPERS_H_
#define EMBRT_PLUGIN_C_HELPERS_H_

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embrt/plugin_api.h"

/* The error object: a code and a NUL-terminated message (its size excludes the NUL). */
struct EMBRT_Error {
  EMBRT_ErrorCode code;
  size_t size;
  char message[];
};

/* A static error for when malloc fails while reporting one; Error_Destroy never frees it. */
static struct {
  EMBRT_ErrorCode code;
  size_t size;
  char message[32];
} embrt_c_out_of_memory = {EMBRT_CODE_RESOURCE_EXHAUSTED, 13, "out of memory"};

/* A new error with `code` (never OK: OK becomes INTERNAL) and a printf-formatted message. */
static EMBRT_Error* EMBRT_C_Error(EMBRT_ErrorCode code, const char* format, ...) {
  va_list args;
  va_start(args, format);
  char buffer[512];
  int length = vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  if (length < 0) length = 0;
  if ((size_t)length >= sizeof(buffer)) length = (int)sizeof(buffer) - 1;
  EMBRT_Error* error = (EMBRT_Error*)malloc(sizeof(EMBRT_Error) + (size_t)length + 1);
  if (error == NULL) return (EMBRT_Error*)&embrt_c_out_of_memory;
  error->code = code == EMBRT_CODE_OK ? EMBRT_CODE_INTERNAL : code;
  error->size = (size_t)length;
  memcpy(error->message, buffer, (size_t)length + 1);
  return error;
}

static void EMBRT_C_Error_Destroy(EMBRT_Error_Destroy_Args* args) {
  if (args == NULL || !EMBRT_HAS_FIELD(EMBRT_Error_Destroy_Args, args->struct_size, error)) return;
  if (args->error != (EMBRT_Error*)&embrt_c_out_of_memory) free(args->error);
}

/* A NULL error (OK) reads as an empty message (rule 17). */
static void EMBRT_C_Error_Message(EMBRT_Error_Message_Args* args) {
  if (args == NULL || !EMBRT_HAS_FIELD(EMBRT_Error_Message_Args, args->struct_size, message_size))
    return;
  args->message = args->error == NULL ? "" : args->error->message;
  args->message_size = args->error == NULL ? 0 : args->error->size;
}

/* A NULL error reads as UNKNOWN (rule 17): a host never asks, and OK is never an error code. */
static void EMBRT_C_Error_GetCode(EMBRT_Error_GetCode_Args* args) {
  if (args == NULL || !EMBRT_HAS_FIELD(EMBRT_Error_GetCode_Args, args->struct_size, code)) return;
  args->code = args->error == NULL ? EMBRT_CODE_UNKNOWN : args->error->code;
}

/* Copies the caller's struct `*src` into `*dst` (same type), reading only the caller's
 * struct_size bytes; fields past them are zero (rule 2). False when src is NULL or too small to
 * hold struct_size. */
static int embrt_c_read_args(void* dst, const void* src, size_t dst_size) {
  memset(dst, 0, dst_size);
  if (src == NULL) return 0;
  size_t size;
  memcpy(&size, src, sizeof(size));
  if (size < sizeof(size_t)) return 0;
  memcpy(dst, src, size < dst_size ? size : dst_size);
  return 1;
}
#define EMBRT_C_READ_ARGS(dst, src) embrt_c_read_args((dst), (src), sizeof(*(dst)))

/* Attribute initializers for a static EMBRT_NamedValue array. */
#define EMBRT_C_STRING_ATTRIBUTE(key, value)                                              \
  {EMBRT_NamedValue_STRUCT_SIZE, key, sizeof(key) - 1, EMBRT_VALUE_STRING, value,         \
   sizeof(value) - 1, 0, 0.0f}
#define EMBRT_C_INT64_ATTRIBUTE(key, value) \
  {EMBRT_NamedValue_STRUCT_SIZE, key, sizeof(key) - 1, EMBRT_VALUE_INT64, NULL, 0, value, 0.0f}

/* Plugin_Attributes from a static array (rule 11). */
static EMBRT_Error* embrt_c_attributes(EMBRT_Plugin_Attributes_Args* args,
                                       const EMBRT_NamedValue* values, size_t count);
#define EMBRT_C_ATTRIBUTES(args, array) \
  embrt_c_attributes((args), (array), sizeof(array) / sizeof((array)[0]))
/* Defines `static EMBRT_Error* name(EMBRT_Plugin_Attributes_Args*)` serving `array`. */
#define EMBRT_C_DEFINE_ATTRIBUTES(name, array)                       \
  static EMBRT_Error* name(EMBRT_Plugin_Attributes_Args* args) {     \
    return EMBRT_C_ATTRIBUTES(args, array);                          \
  }

#define EMBRT_C_CHECK(cond, code, ...)                                 \
  do {                                                                 \
    if (!(cond)) return EMBRT_C_Error(EMBRT_CODE_##code, __VA_ARGS__); \
  } while (0)

static EMBRT_Error* embrt_c_attributes(EMBRT_Plugin_Attributes_Args* args,
                                       const EMBRT_NamedValue* values, size_t count) {
  EMBRT_C_CHECK(args != NULL && args->struct_size >= EMBRT_Plugin_Attributes_Args_STRUCT_SIZE,
                INVALID_ARGUMENT, "Plugin_Attributes: args is NULL or too small");
  args->attributes = values;
  args->num_attributes = count;
  return NULL;
}

/* Declares `a`, the caller's `args` read through its struct_size, and returns INVALID_ARGUMENT
 * when args or its engine is NULL (rules 2 and 13). */
#define EMBRT_C_ENGINE_ARGS(Type, a, args)                                            \
  Type a;                                                                             \
  EMBRT_C_CHECK(EMBRT_C_READ_ARGS(&a, args) && a.engine != NULL, INVALID_ARGUMENT,   \
                "%s: args or engine is NULL", __func__)

/* Rules 8, 21 and 26 on feature `f`'s gradient: `size` floats, exactly `expected`, all finite
 * unless `allow_nonfinite`. A NULL gradient (zero) is fine. */
static EMBRT_Error* EMBRT_C_CheckGradient(const float* g, size_t size, size_t expected,
                                          int allow_nonfinite, size_t f) {
  EMBRT_C_CHECK(g == NULL || size == expected, INVALID_ARGUMENT,
                "feature %zu: gradient of %zu floats, expected %zu", f, size, expected);
  for (size_t i = 0; g != NULL && !allow_nonfinite && i < size; ++i) {
    EMBRT_C_CHECK(isfinite(g[i]), INVALID_ARGUMENT, "feature %zu: gradient value %zu is %g", f,
                  i, g[i]);
  }
  return NULL;
}

/* The INVALID_ARGUMENT checks of rules 7 and 13 on a description (NULLs, sizes, indices,
 * replicas, hosts, sharding, learning-rate tags). What a plugin does not support (an optimizer,
 * a combiner, quantization, an option) it answers itself with UNIMPLEMENTED. */
static EMBRT_Error* EMBRT_C_CheckDescription(const EMBRT_EngineDescription* d) {
  EMBRT_C_CHECK(d != NULL && d->struct_size >= EMBRT_EngineDescription_STRUCT_SIZE,
                INVALID_ARGUMENT, "description is NULL or too small");
  EMBRT_C_CHECK(d->num_tables == 0 || d->tables != NULL, INVALID_ARGUMENT, "tables is NULL");
  EMBRT_C_CHECK(d->num_features == 0 || d->features != NULL, INVALID_ARGUMENT,
                "features is NULL");
  EMBRT_C_CHECK(d->num_replicas >= 1 && d->num_hosts >= 1 && d->host_id >= 0 &&
                    d->host_id < d->num_hosts && d->num_learning_rate_tags >= 0 &&
                    (d->sharding == EMBRT_SHARDING_DIV || d->sharding == EMBRT_SHARDING_MOD),
                INVALID_ARGUMENT, "num_replicas %d, num_hosts %d, host_id %d, sharding %d or "
                "num_learning_rate_tags %d out of range", d->num_replicas, d->num_hosts,
                d->host_id, d->sharding, d->num_learning_rate_tags);
  for (size_t t = 0; t < d->num_tables; ++t) {
    const EMBRT_TableDescription* x = d->tables[t];
    EMBRT_C_CHECK(x != NULL && x->optimizer != NULL && x->vocabulary_size >= 1 && x->dim >= 1 &&
                      x->shard_rows >= 0 && x->shard_rows <= x->vocabulary_size,
                  INVALID_ARGUMENT, "table %zu: NULL, optimizer NULL, or vocabulary_size, dim "
                  "or shard_rows out of range", t);
    EMBRT_C_CHECK(x->optimizer->learning_rate_tag < d->num_learning_rate_tags, INVALID_ARGUMENT,
                  "table %zu: learning_rate_tag %d but %d tags", t,
                  x->optimizer->learning_rate_tag, d->num_learning_rate_tags);
  }
  for (size_t f = 0; f < d->num_features; ++f) {
    const EMBRT_FeatureDescription* x = d->features[f];
    EMBRT_C_CHECK(x != NULL && x->table_index >= 0 && (size_t)x->table_index < d->num_tables &&
                      x->input_rows >= 0 && x->max_sequence_length >= 0,
                  INVALID_ARGUMENT, "feature %zu: NULL, or table_index, input_rows or "
                  "max_sequence_length out of range", f);
  }
  return NULL;
}

/* Rules 8, 13, 20 and 24 on feature `f`'s input `in` (already read through its struct_size):
 * row splits, ids inside [0, vocabulary_size), finite weights and none on a sequence, at most L
 * ids per sequence row, positions strictly ascending in [0, L). */
static EMBRT_Error* EMBRT_C_CheckFeatureInput(const EMBRT_FeatureInput* in, size_t f,
                                              int64_t rows, int32_t L, int64_t vocabulary_size) {
  EMBRT_C_CHECK(in->num_ids == 0 || in->ids != NULL, INVALID_ARGUMENT, "feature %zu: ids NULL",
                f);
  EMBRT_C_CHECK(in->row_splits != NULL ? in->num_row_splits == (size_t)rows + 1
                                       : in->num_ids == (size_t)rows,
                INVALID_ARGUMENT, "feature %zu: %zu row splits and %zu ids for %lld rows", f,
                in->num_row_splits, in->num_ids, (long long)rows);
  EMBRT_C_CHECK(in->weights == NULL || L == 0, INVALID_ARGUMENT,
                "feature %zu: a sequence feature takes no weights", f);
  EMBRT_C_CHECK(in->positions == NULL || (L > 0 && in->num_positions == in->num_ids),
                INVALID_ARGUMENT, "feature %zu: positions without a sequence or not one per id",
                f);
  for (size_t k = 0; in->weights != NULL && k < in->num_ids; ++k) {
    EMBRT_C_CHECK(isfinite(in->weights[k]), INVALID_ARGUMENT, "feature %zu: weight %zu is %g",
                  f, k, in->weights[k]);
  }
  for (int64_t b = 0; b < rows; ++b) {
    const int64_t begin = in->row_splits != NULL ? in->row_splits[b] : b;
    const int64_t end = in->row_splits != NULL ? in->row_splits[b + 1] : b + 1;
    EMBRT_C_CHECK(begin >= 0 && begin <= end && (size_t)end <= in->num_ids &&
                      (b > 0 || begin == 0) && (b + 1 < rows || (size_t)end == in->num_ids) &&
                      (L == 0 || end - begin <= L),
                  INVALID_ARGUMENT, "feature %zu row %lld: row splits [%lld, %lld) invalid", f,
                  (long long)b, (long long)begin, (long long)end);
    for (int64_t k = begin; k < end; ++k) {
      EMBRT_C_CHECK(in->ids[k] >= 0 && in->ids[k] < vocabulary_size, INVALID_ARGUMENT,
                    "feature %zu row %lld position %lld: id %lld outside [0, %lld)", f,
                    (long long)b, (long long)(k - begin), (long long)in->ids[k],
                    (long long)vocabulary_size);
      EMBRT_C_CHECK(in->positions == NULL ||
                        (in->positions[k] >= 0 && in->positions[k] < L &&
                         (k == begin || in->positions[k] > in->positions[k - 1])),
                    INVALID_ARGUMENT, "feature %zu row %lld: position %d outside [0, %d) or "
                    "not ascending", f, (long long)b, (int)in->positions[k], (int)L);
    }
  }
  return NULL;
}

/* Rules 12 and 13 on a Load/Retrieve: table, shard (this host), rows and slot count. */
static EMBRT_Error* EMBRT_C_CheckShard(int32_t table, size_t num_tables, int32_t shard,
                                       int32_t host_id, int64_t row_begin, int64_t row_count,
                                       int64_t shard_rows, size_t num_slots, size_t slots_wanted,
                                       const void* slots) {
  EMBRT_C_CHECK(table >= 0 && (size_t)table < num_tables, INVALID_ARGUMENT,
                "table %d outside [0, %zu)", table, num_tables);
  EMBRT_C_CHECK(shard == host_id, INVALID_ARGUMENT, "shard %d is not this host's (%d)", shard,
                host_id);
  EMBRT_C_CHECK(row_begin >= 0 && row_count >= 0 && row_begin + row_count <= shard_rows,
                INVALID_ARGUMENT, "rows [%lld, %lld) outside the shard's %lld rows",
                (long long)row_begin, (long long)(row_begin + row_count),
                (long long)shard_rows);
  EMBRT_C_CHECK(num_slots == slots_wanted && (num_slots == 0 || slots != NULL), INVALID_ARGUMENT,
                "%zu slots, the optimizer has %zu", num_slots, slots_wanted);
  return NULL;
}

#endif /* EMBRT_PLUGIN_C_HELPERS_H_ */
