// Copyright embrt authors.
//
// Versions: a 1.0 host against this plugin (struct sizes of ABI 1.0, with bytes after them that
// a conforming plugin must not read) and a newer host (grown structs).

#include <cstdint>

#include "canonical_fixture.h"
#include "conformance_suite.h"

namespace embrt {
namespace conformance {
namespace {

using reference::Activations;
using reference::CanonicalBatches;
using reference::CanonicalModel;
using reference::ModelSpec;
using reference::OptimizerSpec;
using reference::ReplicaBatch;

// An args struct followed by bytes its struct_size does not cover.
template <typename T>
struct WithTrailer {
  T value;
  unsigned char trailer[64];
};

// Enqueues `batch` with every EMBRT_FeatureInput and the args sized `input_size` and
// `args_size`; the bytes past those sizes hold garbage (a bad positions pointer, a huge
// num_positions, input_lifetime 12345) that a plugin must not read.
CallResult EnqueueSized(const Plugin& plugin, EMBRT_Engine* engine, int replica,
                        const ReplicaBatch& batch, size_t input_size, size_t args_size) {
  std::vector<EMBRT_FeatureInput> inputs(batch.size());
  std::vector<const EMBRT_FeatureInput*> pointers;
  for (size_t f = 0; f < batch.size(); ++f) {
    EMBRT_FeatureInput& in = inputs[f];
    in = {};
    in.struct_size = input_size;
    in.ids = batch[f].ids.data();
    in.num_ids = batch[f].ids.size();
    in.row_splits = batch[f].row_splits.empty() ? nullptr : batch[f].row_splits.data();
    in.num_row_splits = batch[f].row_splits.size();
    in.weights = batch[f].weights.empty() ? nullptr : batch[f].weights.data();
    if (input_size < EMBRT_FeatureInput_STRUCT_SIZE) {
      in.positions = reinterpret_cast<const int32_t*>(uintptr_t{8});  // must not be read
      in.num_positions = in.num_ids + 12345;
    }
    pointers.push_back(&in);
  }
  WithTrailer<EMBRT_Engine_Enqueue_Args> args{};
  args.value.struct_size = args_size;
  args.value.engine = engine;
  args.value.replica = replica;
  args.value.mode = EMBRT_MODE_INFERENCE;
  args.value.inputs = pointers.data();
  args.value.num_inputs = pointers.size();
  if (args_size < EMBRT_Engine_Enqueue_Args_STRUCT_SIZE) args.value.input_lifetime = 12345;
  for (unsigned char& c : args.trailer) c = 0xA5;
  return plugin.Consume(plugin.api()->Engine_Enqueue(&args.value));
}

// Rule 2: a 1.0 host (struct sizes of 1.0) and a newer host (grown structs) get the same
// activations as a 1.1 host.
TEST_P(AbiConformanceTest, OldAndNewHostsGetTheSameResults) {
  Rules("2, 24");
  OptimizerSpec optimizer;
  optimizer.kind = caps().AnyOptimizer();
  ModelSpec model = Supported(CanonicalModel(optimizer, 1));
  model.features[2].max_sequence_length = 3;
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  struct Sizes {
    const char* host;
    size_t input;
    size_t args;
  };
  std::vector<Activations> results;
  for (const Sizes& sizes :
       {Sizes{"1.1", EMBRT_FeatureInput_STRUCT_SIZE, EMBRT_Engine_Enqueue_Args_STRUCT_SIZE},
        Sizes{"1.0", EMBRT_FeatureInput_STRUCT_SIZE_1_0,
              EMBRT_Engine_Enqueue_Args_STRUCT_SIZE_1_0},
        Sizes{"newer", EMBRT_FeatureInput_STRUCT_SIZE + 16,
              EMBRT_Engine_Enqueue_Args_STRUCT_SIZE + 32}}) {
    SCOPED_TRACE(std::string("a ") + sizes.host + " host");
    if (sizes.input > EMBRT_FeatureInput_STRUCT_SIZE) {
      // The grown FeatureInput structs need room for their trailing bytes.
      std::vector<WithTrailer<EMBRT_FeatureInput>> grown(batch.size());
      std::vector<const EMBRT_FeatureInput*> pointers;
      for (size_t f = 0; f < batch.size(); ++f) {
        EMBRT_FeatureInput& in = grown[f].value;
        in = {};
        in.struct_size = sizes.input;
        in.ids = batch[f].ids.data();
        in.num_ids = batch[f].ids.size();
        in.row_splits = batch[f].row_splits.data();
        in.num_row_splits = batch[f].row_splits.size();
        for (unsigned char& c : grown[f].trailer) c = 0x5A;
        pointers.push_back(&in);
      }
      WithTrailer<EMBRT_Engine_Enqueue_Args> args{};
      args.value.struct_size = sizes.args;
      args.value.engine = engine->raw();
      args.value.mode = EMBRT_MODE_INFERENCE;
      args.value.inputs = pointers.data();
      args.value.num_inputs = pointers.size();
      ASSERT_OK(plugin().Consume(api()->Engine_Enqueue(&args.value)));
    } else {
      ASSERT_OK(EnqueueSized(plugin(), engine->raw(), 0, batch, sizes.input, sizes.args));
    }
    Activations a;
    ASSERT_OK(engine->Recv(0, &a));
    results.push_back(a);
  }
  EXPECT_EQ(results[1], results[0]) << "a 1.0 host got other activations";
  EXPECT_EQ(results[2], results[0]) << "a newer host got other activations";
  // Too small to hold the required fields: INVALID_ARGUMENT, never a read past the struct.
  const CallResult tiny = EnqueueSized(plugin(), engine->raw(), 0, batch,
                                       EMBRT_FeatureInput_STRUCT_SIZE_1_0,
                                       offsetof(EMBRT_Engine_Enqueue_Args, inputs));
  EXPECT_EQ(tiny.code, EMBRT_CODE_INVALID_ARGUMENT)
      << "Enqueue args without inputs: " << ToString(tiny);
}

}  // namespace
}  // namespace conformance
}  // namespace embrt
