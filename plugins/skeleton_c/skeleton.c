/* Copyright embrt authors.
 *
 * A backend in plain C11 from plugin_api.h alone (plus the optional plugin_c_helpers.h): SGD,
 * the sum combiner, sequences (with ABI 1.1 positions), tables in host memory, one host. Copy
 * this folder to start a backend; README.md says how to grow it. Rule numbers are those of
 * plugin_api/README.md. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "embrt/plugin_c_helpers.h"

#define CHECK EMBRT_C_CHECK
#define NAME(x) (int)(x)->name_size, (x)->name /* for "%.*s" */

typedef struct {  /* w: the parameters; per replica: parts (row sums) and touched rows */
  float lr; int32_t tag; int64_t vocab; int32_t dim; float *w, *parts; char* touched;
} Table;
typedef struct { int32_t table, L; int64_t rows, floats; } Feature;
/* A copied input, one malloc block starting at ids; weights and positions may be NULL. */
typedef struct { int64_t* ids; int32_t* splits; float* wts; int32_t* pos; } Input;
typedef struct {  /* phase 0 idle, 1 enqueued, 2 received a training step; sent: steps sent */
  int phase; EMBRT_Mode mode; int64_t sent; Input* in;  /* in: per feature, the open step's */
} Replica;
struct EMBRT_Engine {
  Table* tables; size_t num_tables; Feature* features; size_t num_features;
  int32_t replicas, tags, allow_nonfinite, waiting;  /* waiting: replicas sent this step */
  int64_t applied;                                   /* steps whose update ran */
  float lr[64];                                      /* replica 0's rates for the open step */
  Replica* r; pthread_mutex_t mu; pthread_cond_t cv;
};

static const EMBRT_NamedValue kAttributes[] = {
    EMBRT_C_STRING_ATTRIBUTE("name", "skeleton_c"), EMBRT_C_STRING_ATTRIBUTE("abi_version", "1.1"),
    EMBRT_C_INT64_ATTRIBUTE("deterministic", 1), EMBRT_C_STRING_ATTRIBUTE("optimizers", "sgd"),
    EMBRT_C_STRING_ATTRIBUTE("combiners", "sum"),
};

EMBRT_C_DEFINE_ATTRIBUTES(Attributes, kAttributes)

static void Destroy(EMBRT_Engine_Destroy_Args* args) {
  EMBRT_Engine_Destroy_Args a;
  if (!EMBRT_C_READ_ARGS(&a, args) || a.engine == NULL) return;
  EMBRT_Engine* e = a.engine;
  for (size_t t = 0; e->tables != NULL && t < e->num_tables; ++t) {
    free(e->tables[t].w); free(e->tables[t].parts); free(e->tables[t].touched);
  }
  for (int32_t r = 0; e->r != NULL && r < e->replicas; ++r) {
    for (size_t f = 0; e->r[r].in != NULL && f < e->num_features; ++f) free(e->r[r].in[f].ids);
    free(e->r[r].in);
  }
  pthread_mutex_destroy(&e->mu); pthread_cond_destroy(&e->cv);
  free(e->r); free(e->tables); free(e->features); free(e);
}

/* What the skeleton does not support is UNIMPLEMENTED (rules 7, 11, 15). */
static EMBRT_Error* CheckSupported(const EMBRT_EngineDescription* d) {
  CHECK(d->num_hosts == 1, UNIMPLEMENTED, "num_hosts %d: no multi_host support", d->num_hosts);
  CHECK(d->num_options == 0, UNIMPLEMENTED, "unknown backend option '%.*s'", NAME(d->options));
  CHECK(d->num_learning_rate_tags <= 64, UNIMPLEMENTED, "more than 64 learning-rate tags");
  for (size_t t = 0; t < d->num_tables; ++t) {
    const EMBRT_TableDescription* x = d->tables[t];
    CHECK(x->combiner == 1, UNIMPLEMENTED, "table '%.*s': combiner %d", NAME(x), x->combiner);
    CHECK(x->optimizer->kind == 1, UNIMPLEMENTED, "table '%.*s': optimizer", NAME(x));
    CHECK(x->quantization_num_buckets == 0, UNIMPLEMENTED, "table '%.*s': quantization", NAME(x));
  }
  return NULL;
}

static EMBRT_Error* Create(EMBRT_Engine_Create_Args* args) {
  EMBRT_Engine_Create_Args a;
  CHECK(EMBRT_C_READ_ARGS(&a, args) && args->struct_size >= EMBRT_Engine_Create_Args_STRUCT_SIZE,
        INVALID_ARGUMENT, "Engine_Create: args NULL or too small");
  EMBRT_Error* bad = EMBRT_C_CheckDescription(a.description);
  if (bad == NULL) bad = CheckSupported(a.description);
  if (bad != NULL) return bad;
  const EMBRT_EngineDescription* d = a.description;
  EMBRT_Engine* e = calloc(1, sizeof(*e));
  CHECK(e != NULL, RESOURCE_EXHAUSTED, "out of memory");
  pthread_mutex_init(&e->mu, NULL); pthread_cond_init(&e->cv, NULL);
  e->num_tables = d->num_tables; e->num_features = d->num_features;
  e->replicas = d->num_replicas; e->tags = d->num_learning_rate_tags;
  e->allow_nonfinite = d->allow_nonfinite_gradients;
  e->tables = calloc(d->num_tables + 1, sizeof(Table));
  e->features = calloc(d->num_features + 1, sizeof(Feature));
  e->r = calloc((size_t)d->num_replicas, sizeof(Replica));
  int ok = e->tables != NULL && e->features != NULL && e->r != NULL;
  for (size_t t = 0; ok && t < d->num_tables; ++t) {
    const EMBRT_TableDescription* x = d->tables[t];
    const size_t n = (size_t)(x->vocabulary_size * x->dim);
    Table tab = {x->optimizer->learning_rate, x->optimizer->learning_rate_tag,
                 x->vocabulary_size, x->dim, calloc(n, 4), calloc(n * (size_t)e->replicas, 4),
                 calloc((size_t)(x->vocabulary_size * e->replicas), 1)};
    e->tables[t] = tab;
    ok = tab.w != NULL && tab.parts != NULL && tab.touched != NULL;
  }
  for (size_t f = 0; ok && f < d->num_features; ++f) {
    const EMBRT_FeatureDescription* x = d->features[f];
    const int32_t L = x->max_sequence_length;
    e->features[f] = (Feature){x->table_index, L, x->input_rows,
                               x->input_rows * (L > 0 ? L : 1) * e->tables[x->table_index].dim};
  }
  for (int32_t r = 0; ok && r < e->replicas; ++r) {
    ok = (e->r[r].in = calloc(d->num_features + 1, sizeof(Input))) != NULL;
  }
  if (!ok) {
    EMBRT_Engine_Destroy_Args destroy = {sizeof(destroy), NULL, e};
    Destroy(&destroy);
    return EMBRT_C_Error(EMBRT_CODE_RESOURCE_EXHAUSTED, "out of memory");
  }
  args->engine = e;
  return NULL;
}

/* Validates (rules 8, 13, 20, 24) and copies one feature's input: rule 4, inputs are borrowed. */
static EMBRT_Error* CopyInput(const EMBRT_Engine* e, size_t f, const EMBRT_FeatureInput* src,
                              Input* out) {
  EMBRT_FeatureInput in;  /* a 1.0 host's smaller struct reads as positions NULL (rule 2) */
  CHECK(EMBRT_C_READ_ARGS(&in, src), INVALID_ARGUMENT, "feature %zu: input is NULL", f);
  const Feature* x = &e->features[f];
  EMBRT_Error* bad = EMBRT_C_CheckFeatureInput(&in, f, x->rows, x->L, e->tables[x->table].vocab);
  if (bad != NULL) return bad;
  const size_t n = in.num_ids;
  out->ids = malloc(n * 16 + (size_t)(x->rows + 1) * 4);  /* ids, splits, weights, positions */
  CHECK(out->ids != NULL, RESOURCE_EXHAUSTED, "out of memory");
  out->splits = (int32_t*)(out->ids + n);
  out->wts = in.weights != NULL ? (float*)(out->splits + x->rows + 1) : NULL;
  out->pos = in.positions != NULL ? (int32_t*)(out->splits + x->rows + 1) + n : NULL;
  if (n > 0) memcpy(out->ids, in.ids, n * sizeof(int64_t));
  for (int64_t b = 0; b <= x->rows; ++b) out->splits[b] = in.row_splits ? in.row_splits[b] : b;
  if (out->wts != NULL && n > 0) memcpy(out->wts, in.weights, n * sizeof(float));
  if (out->pos != NULL && n > 0) memcpy(out->pos, in.positions, n * sizeof(int32_t));
  return NULL;
}

static EMBRT_Error* Enqueue(EMBRT_Engine_Enqueue_Args* args) {
  EMBRT_C_ENGINE_ARGS(EMBRT_Engine_Enqueue_Args, a, args);
  EMBRT_Engine* e = a.engine;
  CHECK(a.replica >= 0 && a.replica < e->replicas && (a.mode == 1 || a.mode == 2) &&
            a.num_inputs == e->num_features && (a.num_inputs == 0 || a.inputs != NULL),
        INVALID_ARGUMENT, "replica %d, mode %d or %zu inputs", a.replica, a.mode, a.num_inputs);
  Replica* r = &e->r[a.replica];
  CHECK(r->phase == 0, FAILED_PRECONDITION, "replica %d: its step is open", a.replica);
  for (size_t f = 0; f < e->num_features; ++f) {  /* the old inputs are dead (phase 0) */
    free(r->in[f].ids);
    r->in[f].ids = NULL;
    EMBRT_Error* bad = CopyInput(e, f, a.inputs[f], &r->in[f]);
    if (bad != NULL) return bad;  /* still phase 0: nothing observable changed (rule 6) */
  }
  r->mode = a.mode, r->phase = 1;
  return NULL;
}

/* Where id k of row b sits in the activations: [b] for a bag, [b, position] for a sequence. */
static int64_t Slot(const Feature* x, const Input* in, int64_t b, int32_t k) {
  return x->L == 0 ? b : b * x->L + (in->pos != NULL ? in->pos[k] : k - in->splits[b]);
}

/* The lookup runs here, once every update this step depends on has run (rules 10, 16). */
static EMBRT_Error* Recv(EMBRT_Engine_RecvActivations_Args* args) {
  EMBRT_C_ENGINE_ARGS(EMBRT_Engine_RecvActivations_Args, a, args);
  EMBRT_Engine* e = a.engine;
  CHECK(a.replica >= 0 && a.replica < e->replicas && a.num_activations == e->num_features &&
            (a.num_activations == 0 || (a.activations != NULL && a.activation_sizes != NULL)),
        INVALID_ARGUMENT, "replica %d or %zu buffers", a.replica, a.num_activations);
  for (size_t f = 0; f < e->num_features; ++f) {  /* exact sizes (rule 21) */
    CHECK(a.activation_sizes[f] == (size_t)e->features[f].floats && a.activations[f] != NULL,
          INVALID_ARGUMENT, "feature %zu: buffer NULL or of %zu floats", f, a.activation_sizes[f]);
  }
  Replica* r = &e->r[a.replica];
  CHECK(r->phase == 1, FAILED_PRECONDITION, "replica %d: nothing enqueued", a.replica);
  pthread_mutex_lock(&e->mu);
  while (e->applied < r->sent) pthread_cond_wait(&e->cv, &e->mu);
  for (size_t f = 0; f < e->num_features; ++f) {
    const Feature* x = &e->features[f];
    const Table* t = &e->tables[x->table];
    const Input* in = &r->in[f];
    memset(a.activations[f], 0, (size_t)x->floats * sizeof(float));  /* holes stay zero */
    for (int64_t b = 0; b < x->rows; ++b) {
      for (int32_t k = in->splits[b]; k < in->splits[b + 1]; ++k) {  /* left to right (rule 9) */
        float* out = a.activations[f] + Slot(x, in, b, k) * t->dim;
        const float gain = in->wts != NULL ? in->wts[k] : 1.0f;
        for (int32_t d = 0; d < t->dim; ++d) out[d] += gain * t->w[in->ids[k] * t->dim + d];
      }
    }
  }
  pthread_mutex_unlock(&e->mu);
  r->phase = r->mode == EMBRT_MODE_TRAINING ? 2 : 0;
  return NULL;
}

/* Replica r's row sums (rule 9): its contributions gain * g in (feature, bag, position) order.
 * A NULL gradient still touches its rows (rule 8). */
static void SumReplica(EMBRT_Engine* e, int32_t r, const float* const* gradients) {
  for (size_t t = 0; t < e->num_tables; ++t) {
    Table* tab = &e->tables[t];
    float* part = tab->parts + (size_t)r * (size_t)(tab->vocab * tab->dim);
    char* touched = tab->touched + (size_t)r * (size_t)tab->vocab;
    memset(part, 0, (size_t)(tab->vocab * tab->dim) * sizeof(float));
    memset(touched, 0, (size_t)tab->vocab);
    for (size_t f = 0; f < e->num_features; ++f) {
      const Feature* x = &e->features[f];
      const Input* in = &e->r[r].in[f];
      for (int64_t b = 0; x->table == (int32_t)t && b < x->rows; ++b) {
        for (int32_t k = in->splits[b]; k < in->splits[b + 1]; ++k) {
          touched[in->ids[k]] = 1;
          const float gain = in->wts != NULL ? in->wts[k] : 1.0f;
          const float* g = gradients[f];
          if (g != NULL) g += Slot(x, in, b, k) * tab->dim;
          float* dst = part + in->ids[k] * tab->dim;
          for (int32_t d = 0; g != NULL && d < tab->dim; ++d) dst[d] += gain * g[d];
        }
      }
    }
  }
}

static EMBRT_Error* Send(EMBRT_Engine_SendGradients_Args* args) {
  EMBRT_C_ENGINE_ARGS(EMBRT_Engine_SendGradients_Args, a, args);
  EMBRT_Engine* e = a.engine;
  CHECK(a.replica >= 0 && a.replica < e->replicas && a.num_gradients == e->num_features &&
            (a.num_gradients == 0 || (a.gradients != NULL && a.gradient_sizes != NULL)) &&
            (a.learning_rates == NULL ? a.replica > 0 || e->tags == 0
                                      : a.num_learning_rates == (size_t)e->tags),
        INVALID_ARGUMENT, "replica %d, gradients or learning rates", a.replica);
  Replica* r = &e->r[a.replica];
  CHECK(r->phase == 2, FAILED_PRECONDITION, "replica %d: no received training step", a.replica);
  for (size_t f = 0; f < e->num_features; ++f) {
    EMBRT_Error* bad = EMBRT_C_CheckGradient(a.gradients[f], a.gradient_sizes[f],
                                             (size_t)e->features[f].floats, e->allow_nonfinite, f);
    if (bad != NULL) return bad;  /* checked first: a failed call changes nothing (rule 6) */
  }
  SumReplica(e, a.replica, a.gradients);  /* the previous step's update has run (Recv waited) */
  pthread_mutex_lock(&e->mu);
  if (a.replica == 0 && e->tags > 0) memcpy(e->lr, a.learning_rates, (size_t)e->tags * 4);
  r->phase = 0;
  ++r->sent;
  if (++e->waiting == e->replicas) {  /* the update: row sums added in replica order, then */
    for (size_t t = 0; t < e->num_tables; ++t) {  /* w = w - lr * g on touched rows (rule 9) */
      Table* tab = &e->tables[t];
      const size_t n = (size_t)(tab->vocab * tab->dim);
      for (size_t i = 0; i < n; ++i) {
        float g = 0.0f;
        char touched = 0;
        for (int32_t q = 0; q < e->replicas; ++q) {
          g += tab->parts[(size_t)q * n + i];
          touched |= tab->touched[(size_t)q * (size_t)tab->vocab + i / (size_t)tab->dim];
        }
        if (touched) tab->w[i] = tab->w[i] - (tab->tag >= 0 ? e->lr[tab->tag] : tab->lr) * g;
      }
    }
    e->waiting = 0;
    ++e->applied;
    pthread_cond_broadcast(&e->cv);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

/* Load and retrieve: SGD has one slot, the parameters (rule 12). Never during a step here. */
#define SHARD_CALL(Type, args, copy)                                                       \
  EMBRT_C_ENGINE_ARGS(Type, a, args);                                                      \
  EMBRT_Error* bad = EMBRT_C_CheckShard(                                                   \
      a.table, a.engine->num_tables, a.shard, 0, a.row_begin, a.row_count,                 \
      a.table >= 0 && (size_t)a.table < a.engine->num_tables ? a.engine->tables[a.table].vocab \
                                                              : 0,                         \
      a.num_slots, 1, a.slots);                                                            \
  if (bad != NULL) return bad;                                                             \
  const Table* tab = &a.engine->tables[a.table];                                           \
  float* rows = tab->w + a.row_begin * tab->dim;                                           \
  if (a.row_count > 0) copy;                                                               \
  return NULL

static EMBRT_Error* Load(EMBRT_Engine_LoadTableShard_Args* args) {
  SHARD_CALL(EMBRT_Engine_LoadTableShard_Args, args,
             memcpy(rows, a.slots[0], (size_t)(a.row_count * tab->dim) * sizeof(float)));
}

static EMBRT_Error* Retrieve(EMBRT_Engine_RetrieveTableShard_Args* args) {
  SHARD_CALL(EMBRT_Engine_RetrieveTableShard_Args, args,
             memcpy(a.slots[0], rows, (size_t)(a.row_count * tab->dim) * sizeof(float)));
}

static EMBRT_Error* Synchronize(EMBRT_Engine_Synchronize_Args* args) {
  EMBRT_C_ENGINE_ARGS(EMBRT_Engine_Synchronize_Args, a, args);
  return NULL;  /* every call finishes its work before returning */
}

static const EMBRT_Api kApi = {
    EMBRT_Api_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR,
    EMBRT_C_Error_Destroy, EMBRT_C_Error_Message, EMBRT_C_Error_GetCode, Attributes, Create,
    Destroy, Enqueue, Recv, Send, Load, Retrieve, Synchronize,
    NULL, NULL, NULL, NULL,  /* the ABI 1.1 multi-host functions: none (multi_host = 0) */
};

/* The one exported symbol, the only one not static (rules 1, 14, 18). */
const EMBRT_Api* EMBRT_GetPluginApi(const EMBRT_HostInfo* host) {
  return host != NULL && host->struct_size >= EMBRT_HostInfo_STRUCT_SIZE &&
                 host->abi_major == EMBRT_ABI_MAJOR ? &kApi : NULL;
}
