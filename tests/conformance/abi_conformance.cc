// Copyright embrt authors.
//
// ABI and lifecycle conformance: what every plugin must do, whatever its numbers.

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstddef>
#include <cstring>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "canonical_fixture.h"
#include "conformance_suite.h"

namespace embrt {
namespace conformance {
namespace {

using reference::CanonicalBatches;
using reference::CanonicalModel;
using reference::FeatureBatch;
using reference::ModelSpec;
using reference::OptimizerSpec;
using reference::ReplicaBatch;

// The canonical model (video: sum, user: mean) with an optimizer and combiners the plugin
// declares; the ABI tests do not depend on the numbers.
#define SUPPORTED_CANONICAL(replicas) Supported(CanonicalModel(AnyOptimizer(caps()), replicas))

OptimizerSpec AnyOptimizer(const Capabilities& caps, float learning_rate = 0.1f) {
  OptimizerSpec spec;
  spec.kind = caps.AnyOptimizer();
  spec.learning_rate = learning_rate;
  return spec;
}

// What is wrong with an error object a plugin returned (README rule 3), or "" when nothing.
std::string ErrorObjectProblems(const EMBRT_Api* api, EMBRT_Error* error) {
  EMBRT_Error_GetCode_Args code{};
  code.struct_size = EMBRT_Error_GetCode_Args_STRUCT_SIZE;
  code.error = error;
  code.code = -12345;
  api->Error_GetCode(&code);
  EMBRT_Error_Message_Args message{};
  message.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  message.error = error;
  api->Error_Message(&message);
  std::string problems;
  if (code.code == EMBRT_CODE_OK) problems += "code OK inside an error; ";
  if (code.code < 1 || code.code > 16) {
    problems += "code " + std::to_string(code.code) + " is not a canonical code 1-16; ";
  }
  if (message.message == nullptr && message.message_size > 0) {
    problems += "NULL message with size " + std::to_string(message.message_size) + "; ";
  }
  if (message.message_size == 0) problems += "empty message; ";
  if (message.message_size >= (1u << 20)) problems += "message of 1 MiB or more; ";
  return problems;
}

#define EXPECT_CODE(call, expected_code)                                        \
  do {                                                                          \
    const CallResult result_ = (call);                                          \
    EXPECT_EQ(result_.code, (expected_code))                                    \
        << #call << " returned " << ToString(result_) << ", expected "          \
        << CodeName(expected_code);                                             \
    if (!result_.ok()) {                                                        \
      EXPECT_FALSE(result_.message.empty()) << #call << ": empty error message";\
    }                                                                           \
  } while (0)

TEST_P(AbiConformanceTest, GetPluginApiServesAbiOne) {
  Rules("1, 2");
  const EMBRT_Api* api = this->api();
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->abi_major, EMBRT_ABI_MAJOR);
  EXPECT_GE(api->abi_minor, 0);
  EXPECT_GE(api->struct_size, EMBRT_Api_STRUCT_SIZE_1_0) << "the table of ABI 1.0 is 112 bytes";
  if (api->abi_minor >= 1) {
    EXPECT_GE(api->struct_size, EMBRT_Api_STRUCT_SIZE) << "the table of ABI 1.1 is 144 bytes";
  }
  if (caps().multi_host) {
    EXPECT_TRUE(EMBRT_API_HAS(api, Plugin_HostTopology)) << "multi_host = 1 needs it (rule 15)";
    EXPECT_TRUE(EMBRT_API_HAS(api, Engine_AgreeStatus)) << "multi_host = 1 needs it (rule 15)";
    EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Barrier)) << "multi_host = 1 needs it (rule 15)";
    EXPECT_TRUE(EMBRT_API_HAS(api, Engine_AllGather)) << "multi_host = 1 needs it (rule 15)";
  }
  EXPECT_TRUE(EMBRT_API_HAS(api, Error_Destroy));
  EXPECT_TRUE(EMBRT_API_HAS(api, Error_Message));
  EXPECT_TRUE(EMBRT_API_HAS(api, Error_GetCode));
  EXPECT_TRUE(EMBRT_API_HAS(api, Plugin_Attributes));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Create));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Destroy));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Enqueue));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_RecvActivations));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_SendGradients));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_LoadTableShard));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_RetrieveTableShard));
  EXPECT_TRUE(EMBRT_API_HAS(api, Engine_Synchronize));
  // A static table: the same pointer every time.
  const EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
  EXPECT_EQ(plugin().get_api()(&host), api);
}

TEST_P(AbiConformanceTest, GetPluginApiNegotiatesVersions) {
  Rules("1, 2, 18");
  // A 1.0 host (HostInfo minor 0) gets the same table: it reads only the 1.0 part.
  const EMBRT_HostInfo old_host = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, 0};
  EXPECT_EQ(plugin().get_api()(&old_host), api()) << "a 1.0 host must be served";
  // Rule 18: no HostInfo, or one too small to hold the versions, gets NULL.
  EXPECT_EQ(plugin().get_api()(nullptr), nullptr) << "EMBRT_GetPluginApi(NULL)";
  const EMBRT_HostInfo tiny = {sizeof(size_t), EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR};
  EXPECT_EQ(plugin().get_api()(&tiny), nullptr)
      << "a HostInfo whose struct_size (8) does not hold the versions must get NULL";
  for (int32_t major : {0, EMBRT_ABI_MAJOR + 1, 99}) {
    const EMBRT_HostInfo host = {EMBRT_HostInfo_STRUCT_SIZE, major, 0};
    EXPECT_EQ(plugin().get_api()(&host), nullptr) << "a host of ABI major " << major
                                                   << " must get NULL";
  }
  // A newer minor of the same major is served (the host then reads struct_size).
  const EMBRT_HostInfo newer_minor = {EMBRT_HostInfo_STRUCT_SIZE, EMBRT_ABI_MAJOR, 42};
  EXPECT_NE(plugin().get_api()(&newer_minor), nullptr);
  // A newer host whose EMBRT_HostInfo has grown: the plugin reads only what it knows.
  struct GrownHostInfo {
    EMBRT_HostInfo info;
    int64_t appended_field;
  } grown = {{sizeof(GrownHostInfo), EMBRT_ABI_MAJOR, EMBRT_ABI_MINOR}, 12345};
  EXPECT_NE(plugin().get_api()(&grown.info), nullptr);
}

TEST_P(AbiConformanceTest, AttributesHaveNameAndAbiVersionWithTheirTypes) {
  Rules("11");
  EMBRT_Plugin_Attributes_Args args{};
  args.struct_size = EMBRT_Plugin_Attributes_Args_STRUCT_SIZE;
  ASSERT_OK(plugin().Consume(api()->Plugin_Attributes(&args)));
  ASSERT_NE(args.attributes, nullptr);
  ASSERT_GT(args.num_attributes, 0u);
  const std::map<std::string, EMBRT_ValueType> known = {
      {"name", EMBRT_VALUE_STRING},        {"vendor", EMBRT_VALUE_STRING},
      {"plugin_version", EMBRT_VALUE_STRING}, {"abi_version", EMBRT_VALUE_STRING},
      {"deterministic", EMBRT_VALUE_INT64}, {"exact_math", EMBRT_VALUE_INT64},
      {"optimizers", EMBRT_VALUE_STRING},   {"combiners", EMBRT_VALUE_STRING},
      {"max_dim", EMBRT_VALUE_INT64},       {"multi_host", EMBRT_VALUE_INT64},
      {"quantization", EMBRT_VALUE_INT64},  {"pipelining", EMBRT_VALUE_INT64},
      {"input_lifetime", EMBRT_VALUE_INT64}};
  std::set<std::string> seen;
  std::map<std::string, std::string> strings;
  for (size_t i = 0; i < args.num_attributes; ++i) {
    const EMBRT_NamedValue& v = args.attributes[i];
    EXPECT_GE(v.struct_size, EMBRT_NamedValue_STRUCT_SIZE) << "attribute " << i;
    ASSERT_NE(v.name, nullptr) << "attribute " << i;
    ASSERT_GT(v.name_size, 0u) << "attribute " << i;
    const std::string name(v.name, v.name_size);
    EXPECT_TRUE(seen.insert(name).second) << "attribute '" << name << "' appears twice";
    EXPECT_TRUE(v.type == EMBRT_VALUE_STRING || v.type == EMBRT_VALUE_INT64 ||
                v.type == EMBRT_VALUE_FLOAT)
        << name << " has type " << v.type;
    if (auto it = known.find(name); it != known.end()) {
      EXPECT_EQ(v.type, it->second) << "attribute '" << name << "' has the wrong type";
    }
    if (v.type == EMBRT_VALUE_STRING) {
      ASSERT_TRUE(v.string_value != nullptr || v.string_value_size == 0) << name;
      strings[name] = std::string(v.string_value, v.string_value_size);
    }
    if (name == "exact_math" || name == "deterministic" || name == "multi_host" ||
        name == "quantization" || name == "pipelining" || name == "input_lifetime") {
      EXPECT_TRUE(v.int64_value == 0 || v.int64_value == 1) << name << " = " << v.int64_value;
    }
  }
  ASSERT_EQ(seen.count("name"), 1u) << "the 'name' attribute is required";
  EXPECT_FALSE(strings["name"].empty());
  ASSERT_EQ(seen.count("abi_version"), 1u) << "the 'abi_version' attribute is required";
  int major = -1, minor = -1;
  char tail = 0;
  EXPECT_EQ(std::sscanf(strings["abi_version"].c_str(), "%d.%d%c", &major, &minor, &tail), 2)
      << "abi_version '" << strings["abi_version"] << "' is not 'major.minor'";
  EXPECT_EQ(major, api()->abi_major) << "abi_version " << strings["abi_version"];
  EXPECT_EQ(minor, api()->abi_minor) << "abi_version " << strings["abi_version"];
  // Lists name only known kinds.
  const std::set<std::string> optimizers = {"sgd", "adagrad", "adagrad_momentum", "adam",
                                            "ftrl"};
  const std::set<std::string> combiners = {"sum", "mean", "sqrtn"};
  EXPECT_FALSE(caps().optimizers.empty()) << "optimizers '" << caps().optimizers_text << "'";
  EXPECT_FALSE(caps().combiners.empty()) << "combiners '" << caps().combiners_text << "'";
  std::stringstream optimizer_list(caps().optimizers_text);
  for (std::string item; std::getline(optimizer_list, item, ',');) {
    EXPECT_EQ(optimizers.count(item), 1u) << "unknown optimizer '" << item << "' in attribute "
                                          << "optimizers='" << caps().optimizers_text << "'";
  }
  std::stringstream combiner_list(caps().combiners_text);
  for (std::string item; std::getline(combiner_list, item, ',');) {
    EXPECT_EQ(combiners.count(item), 1u) << "unknown combiner '" << item << "' in attribute "
                                         << "combiners='" << caps().combiners_text << "'";
  }

  // Static: the same array on every call, also for a caller whose args struct has grown.
  struct GrownArgs {
    EMBRT_Plugin_Attributes_Args args;
    int64_t appended_field;
  } grown{};
  grown.args.struct_size = sizeof(GrownArgs);
  grown.appended_field = -1;
  ASSERT_OK(plugin().Consume(api()->Plugin_Attributes(&grown.args)));
  EXPECT_EQ(grown.args.attributes, args.attributes);
  EXPECT_EQ(grown.args.num_attributes, args.num_attributes);
}

TEST_P(AbiConformanceTest, ErrorObjectsCarryCodeAndReadableMessage) {
  Rules("3, 17");
  EMBRT_Engine_Create_Args create{};
  create.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  create.description = nullptr;
  EMBRT_Error* error = api()->Engine_Create(&create);
  ASSERT_NE(error, nullptr) << "Engine_Create(NULL description) must fail";

  EMBRT_Error_GetCode_Args code{};
  code.struct_size = EMBRT_Error_GetCode_Args_STRUCT_SIZE;
  code.error = error;
  api()->Error_GetCode(&code);
  EXPECT_NE(code.code, EMBRT_CODE_OK);
  EXPECT_GE(code.code, 1);
  EXPECT_LE(code.code, 16) << "codes are absl's canonical codes";
  EXPECT_EQ(code.code, EMBRT_CODE_INVALID_ARGUMENT);

  EMBRT_Error_Message_Args message{};
  message.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  message.error = error;
  api()->Error_Message(&message);
  ASSERT_NE(message.message, nullptr);
  ASSERT_GT(message.message_size, 0u);
  ASSERT_LT(message.message_size, 1u << 20);
  const std::string text(message.message, message.message_size);  // every byte readable
  for (char c : text) EXPECT_NE(c, '\0') << "message '" << text << "' has an embedded NUL";
  // The message lives as long as the error: asking again gives the same text.
  EMBRT_Error_Message_Args again{};
  again.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  again.error = error;
  api()->Error_Message(&again);
  EXPECT_EQ(std::string(again.message, again.message_size), text);

  EMBRT_Error_Destroy_Args destroy{};
  destroy.struct_size = EMBRT_Error_Destroy_Args_STRUCT_SIZE;
  destroy.error = error;
  api()->Error_Destroy(&destroy);
  destroy.error = nullptr;
  api()->Error_Destroy(&destroy);  // NULL is fine

  // Rule 17: Error_Message and Error_GetCode with a NULL error: an empty message and UNKNOWN.
  EMBRT_Error_Message_Args null_message{};
  null_message.struct_size = EMBRT_Error_Message_Args_STRUCT_SIZE;
  null_message.message_size = 99;
  api()->Error_Message(&null_message);
  EXPECT_EQ(null_message.message_size, 0u) << "Error_Message(NULL error)";
  EMBRT_Error_GetCode_Args null_code{};
  null_code.struct_size = EMBRT_Error_GetCode_Args_STRUCT_SIZE;
  null_code.code = EMBRT_CODE_OK;
  api()->Error_GetCode(&null_code);
  EXPECT_EQ(null_code.code, EMBRT_CODE_UNKNOWN) << "Error_GetCode(NULL error)";
  // NULL args: nothing happens, nothing crashes.
  api()->Error_Destroy(nullptr);
  api()->Error_Message(nullptr);
  api()->Error_GetCode(nullptr);
}

// Every error the plugin returns, from every kind of call, is well formed: a canonical code
// other than OK and a readable, non-empty message (a host reports anything else as the
// plugin's fault).
TEST_P(AbiConformanceTest, EveryErrorIsWellFormed) {
  Rules("3");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  std::vector<std::pair<std::string, EMBRT_Error*>> errors;
  {
    EMBRT_Engine_Create_Args args{};
    args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
    errors.emplace_back("Engine_Create(NULL description)", api()->Engine_Create(&args));
  }
  {
    EMBRT_Engine_Enqueue_Args args{};
    args.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    args.replica = 7;
    args.mode = EMBRT_MODE_TRAINING;
    errors.emplace_back("Engine_Enqueue(replica 7)", api()->Engine_Enqueue(&args));
  }
  {
    EMBRT_Engine_RecvActivations_Args args{};
    args.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    errors.emplace_back("Engine_RecvActivations(nothing enqueued)",
                        api()->Engine_RecvActivations(&args));
  }
  {
    EMBRT_Engine_SendGradients_Args args{};
    args.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    errors.emplace_back("Engine_SendGradients(no step)", api()->Engine_SendGradients(&args));
  }
  {
    EMBRT_Engine_LoadTableShard_Args args{};
    args.struct_size = EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    args.table = 99;
    errors.emplace_back("Engine_LoadTableShard(table 99)", api()->Engine_LoadTableShard(&args));
  }
  {
    EMBRT_Engine_RetrieveTableShard_Args args{};
    args.struct_size = EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    args.table = -1;
    errors.emplace_back("Engine_RetrieveTableShard(table -1)",
                        api()->Engine_RetrieveTableShard(&args));
  }
  {
    EMBRT_Engine_Synchronize_Args args{};
    args.struct_size = EMBRT_Engine_Synchronize_Args_STRUCT_SIZE;
    errors.emplace_back("Engine_Synchronize(NULL engine)", api()->Engine_Synchronize(&args));
  }
  for (auto& [call, error] : errors) {
    ASSERT_NE(error, nullptr) << call << " must fail";
    EXPECT_EQ(ErrorObjectProblems(api(), error), "") << call;
    EMBRT_Error_Destroy_Args destroy{};
    destroy.struct_size = EMBRT_Error_Destroy_Args_STRUCT_SIZE;
    destroy.error = error;
    api()->Error_Destroy(&destroy);
  }
}

// Rule 13: NULL args and NULL engines are errors (Destroy: a no-op), never a crash.
TEST_P(AbiConformanceTest, NullArgsAndNullEnginesAreErrors) {
  Rules("13");
  auto code_of = [&](EMBRT_Error* error) { return plugin().Consume(error).code; };
  EXPECT_EQ(code_of(api()->Plugin_Attributes(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_Create(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_Enqueue(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_RecvActivations(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_SendGradients(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_LoadTableShard(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_RetrieveTableShard(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(code_of(api()->Engine_Synchronize(nullptr)), EMBRT_CODE_INVALID_ARGUMENT);
  api()->Engine_Destroy(nullptr);
  EMBRT_Engine_Destroy_Args destroy{};
  destroy.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
  api()->Engine_Destroy(&destroy);  // NULL engine

  EMBRT_Engine_Enqueue_Args enqueue{};
  enqueue.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
  enqueue.mode = EMBRT_MODE_INFERENCE;
  EXPECT_EQ(code_of(api()->Engine_Enqueue(&enqueue)), EMBRT_CODE_INVALID_ARGUMENT);
  EMBRT_Engine_RecvActivations_Args recv{};
  recv.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
  EXPECT_EQ(code_of(api()->Engine_RecvActivations(&recv)), EMBRT_CODE_INVALID_ARGUMENT);
  EMBRT_Engine_SendGradients_Args send{};
  send.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
  EXPECT_EQ(code_of(api()->Engine_SendGradients(&send)), EMBRT_CODE_INVALID_ARGUMENT);
  EMBRT_Engine_LoadTableShard_Args load{};
  load.struct_size = EMBRT_Engine_LoadTableShard_Args_STRUCT_SIZE;
  EXPECT_EQ(code_of(api()->Engine_LoadTableShard(&load)), EMBRT_CODE_INVALID_ARGUMENT);
  EMBRT_Engine_RetrieveTableShard_Args retrieve{};
  retrieve.struct_size = EMBRT_Engine_RetrieveTableShard_Args_STRUCT_SIZE;
  EXPECT_EQ(code_of(api()->Engine_RetrieveTableShard(&retrieve)), EMBRT_CODE_INVALID_ARGUMENT);
  EMBRT_Engine_Synchronize_Args synchronize{};
  synchronize.struct_size = EMBRT_Engine_Synchronize_Args_STRUCT_SIZE;
  EXPECT_EQ(code_of(api()->Engine_Synchronize(&synchronize)), EMBRT_CODE_INVALID_ARGUMENT);
  // Args too small to hold Engine_Create's out field.
  EMBRT_Engine_Create_Args create{};
  create.struct_size = offsetof(EMBRT_Engine_Create_Args, engine);
  EXPECT_EQ(code_of(api()->Engine_Create(&create)), EMBRT_CODE_INVALID_ARGUMENT);
}

TEST_P(AbiConformanceTest, EngineCreateRejectsBadDescriptions) {
  Rules("7, 13, 19");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  struct Case {
    const char* what;
    std::function<void(Description&)> spoil;
  };
  const std::vector<Case> cases = {
      {"tables NULL", [](Description& d) { d.description.tables = nullptr; }},
      {"features NULL", [](Description& d) { d.description.features = nullptr; }},
      {"dim 0", [](Description& d) { d.tables[0].dim = 0; }},
      {"dim -3", [](Description& d) { d.tables[1].dim = -3; }},
      {"vocabulary_size 0", [](Description& d) { d.tables[0].vocabulary_size = 0; }},
      {"vocabulary_size -1", [](Description& d) { d.tables[1].vocabulary_size = -1; }},
      {"table optimizer NULL", [](Description& d) { d.tables[0].optimizer = nullptr; }},
      {"feature table_index == num_tables", [](Description& d) { d.features[2].table_index = 2; }},
      {"feature table_index -1", [](Description& d) { d.features[0].table_index = -1; }},
      {"feature input_rows -1", [](Description& d) { d.features[1].input_rows = -1; }},
      {"max_sequence_length -1", [](Description& d) { d.features[0].max_sequence_length = -1; }},
      {"num_replicas 0", [](Description& d) { d.description.num_replicas = 0; }},
      {"num_hosts 0", [](Description& d) { d.description.num_hosts = 0; }},
      {"host_id == num_hosts", [](Description& d) { d.description.host_id = 1; }},
      {"learning_rate_tag 0 without tags",
       [](Description& d) { d.optimizers[0].learning_rate_tag = 0; }},
      {"num_tables 0 with features", [](Description& d) { d.description.num_tables = 0; }},
  };
  for (const Case& c : cases) {
    Description description(model);
    c.spoil(description);
    EMBRT_Engine_Create_Args args{};
    args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
    args.description = description.get();
    const CallResult result = plugin().Consume(api()->Engine_Create(&args));
    EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT)
        << c.what << ": Engine_Create returned " << ToString(result);
    if (result.ok() && args.engine != nullptr) {
      EMBRT_Engine_Destroy_Args destroy{};
      destroy.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
      destroy.engine = args.engine;
      api()->Engine_Destroy(&destroy);
    }
  }
  // Unknown enum values: INVALID_ARGUMENT or UNIMPLEMENTED, never a crash.
  const std::vector<Case> unknown = {
      {"optimizer kind 99", [](Description& d) { d.optimizers[1].kind = 99; }},
      {"combiner 0", [](Description& d) { d.tables[0].combiner = 0; }},
      {"combiner 17", [](Description& d) { d.tables[1].combiner = 17; }},
      {"sharding 5", [](Description& d) { d.description.sharding = 5; }},
  };
  for (const Case& c : unknown) {
    Description description(model);
    c.spoil(description);
    EMBRT_Engine_Create_Args args{};
    args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
    args.description = description.get();
    const CallResult result = plugin().Consume(api()->Engine_Create(&args));
    EXPECT_TRUE(result.code == EMBRT_CODE_INVALID_ARGUMENT ||
                result.code == EMBRT_CODE_UNIMPLEMENTED)
        << c.what << ": Engine_Create returned " << ToString(result);
  }
  // And the unspoiled description works.
  std::unique_ptr<Engine> engine = MakeEngine(model);
  EXPECT_NE(engine, nullptr);
  // Rule 19: no tables and no features is a valid, empty engine.
  Description empty(model);
  empty.description.num_tables = 0;
  empty.description.num_features = 0;
  EMBRT_Engine_Create_Args args{};
  args.struct_size = EMBRT_Engine_Create_Args_STRUCT_SIZE;
  args.description = empty.get();
  const CallResult result = plugin().Consume(api()->Engine_Create(&args));
  EXPECT_TRUE(result.ok()) << "num_tables 0, num_features 0: Engine_Create returned "
                           << ToString(result);
  if (result.ok() && args.engine != nullptr) {
    EMBRT_Engine_Destroy_Args destroy{};
    destroy.struct_size = EMBRT_Engine_Destroy_Args_STRUCT_SIZE;
    destroy.engine = args.engine;
    api()->Engine_Destroy(&destroy);
  }
}

// Rules 7 and 11: what the plugin does not claim is UNIMPLEMENTED at Engine_Create: optimizers
// and combiners outside its lists, quantization without `quantization = 1`, backend options it
// does not know.
TEST_P(AbiConformanceTest, EngineCreateAnswersUnsupportedWithUnimplemented) {
  Rules("7, 11");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  auto create = [&](const ModelSpec& spec, std::map<std::string, std::string> options) {
    CallResult result;
    std::unique_ptr<Engine> engine = Engine::Create(plugin(), spec, &result, options);
    return result;
  };
  const CallResult option = create(model, {{"embrt_conformance_no_such_option", "1"}});
  EXPECT_EQ(option.code, EMBRT_CODE_UNIMPLEMENTED)
      << "an unknown backend option: " << ToString(option);
  EXPECT_NE(option.message.find("embrt_conformance_no_such_option"), std::string::npos)
      << "the message must name the option: " << option.message;
  for (auto kind : {reference::Optimizer::kSgd, reference::Optimizer::kAdagrad,
                    reference::Optimizer::kAdagradMomentum, reference::Optimizer::kAdam,
                    reference::Optimizer::kFtrl}) {
    if (caps().Has(kind)) continue;
    ModelSpec spec = model;
    spec.tables[1].optimizer = OptimizerSpec{};
    spec.tables[1].optimizer.kind = kind;
    const CallResult result = create(spec, {});
    EXPECT_EQ(result.code, EMBRT_CODE_UNIMPLEMENTED)
        << "optimizer " << OptimizerName(kind) << " is not in optimizers='"
        << caps().optimizers_text << "': " << ToString(result);
  }
  for (auto combiner :
       {reference::Combiner::kSum, reference::Combiner::kMean, reference::Combiner::kSqrtn}) {
    if (caps().Has(combiner)) continue;
    ModelSpec spec = model;
    spec.tables[0].combiner = combiner;
    const CallResult result = create(spec, {});
    EXPECT_EQ(result.code, EMBRT_CODE_UNIMPLEMENTED)
        << "combiner " << CombinerName(combiner) << " is not in combiners='"
        << caps().combiners_text << "': " << ToString(result);
  }
  if (!caps().quantization) {
    ModelSpec spec = model;
    spec.quantization = {{}, {5, -1.0f, 1.0f}};
    const CallResult result = create(spec, {});
    EXPECT_EQ(result.code, EMBRT_CODE_UNIMPLEMENTED)
        << "a quantized table without quantization=1: " << ToString(result);
    EXPECT_NE(result.message.find(spec.tables[1].name), std::string::npos)
        << "the message must name the table '" << spec.tables[1].name << "': " << result.message;
  }
}

// Enqueue with raw inputs built from a batch and then spoiled.
struct RawEnqueue {
  std::vector<EMBRT_FeatureInput> inputs;
  std::vector<const EMBRT_FeatureInput*> pointers;
  EMBRT_Engine_Enqueue_Args args{};

  RawEnqueue(const RawEnqueue&) = delete;
  RawEnqueue& operator=(const RawEnqueue&) = delete;
  RawEnqueue(EMBRT_Engine* engine, const ReplicaBatch& batch) {
    inputs.resize(batch.size());
    for (size_t f = 0; f < batch.size(); ++f) {
      EMBRT_FeatureInput& in = inputs[f];
      in = {};
      in.struct_size = EMBRT_FeatureInput_STRUCT_SIZE;
      in.ids = batch[f].ids.data();
      in.num_ids = batch[f].ids.size();
      in.row_splits = batch[f].row_splits.empty() ? nullptr : batch[f].row_splits.data();
      in.num_row_splits = batch[f].row_splits.size();
      in.weights = batch[f].weights.empty() ? nullptr : batch[f].weights.data();
    }
    for (EMBRT_FeatureInput& in : inputs) pointers.push_back(&in);
    args.struct_size = EMBRT_Engine_Enqueue_Args_STRUCT_SIZE;
    args.engine = engine;
    args.replica = 0;
    args.mode = EMBRT_MODE_INFERENCE;
    args.inputs = pointers.data();
    args.num_inputs = pointers.size();
  }
};

TEST_P(AbiConformanceTest, EnqueueRejectsBadIdsShapesAndReplicas) {
  Rules("6, 8, 13, 20");
  const ModelSpec model = SUPPORTED_CANONICAL(2);  // B = 2 per replica
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  const ReplicaBatch good = CanonicalBatches(2)[0];
  // Row splits of replica 0: watched {0,1,3}, favorited {0,2,3}, friends {0,1,4}.
  struct Case {
    const char* what;
    std::function<void(ReplicaBatch&)> spoil_batch;
    std::function<void(RawEnqueue&)> spoil_args;
  };
  auto batch_case = [](const char* what, std::function<void(ReplicaBatch&)> spoil) {
    return Case{what, std::move(spoil), [](RawEnqueue&) {}};
  };
  auto args_case = [](const char* what, std::function<void(RawEnqueue&)> spoil) {
    return Case{what, [](ReplicaBatch&) {}, std::move(spoil)};
  };
  const std::vector<Case> cases = {
      batch_case("id -1", [](ReplicaBatch& b) { b[0].ids[1] = -1; }),
      batch_case("id == vocabulary_size (video 8)", [](ReplicaBatch& b) { b[1].ids[0] = 8; }),
      batch_case("id == vocabulary_size (user 16)", [](ReplicaBatch& b) { b[2].ids[3] = 16; }),
      batch_case("huge id", [](ReplicaBatch& b) { b[2].ids[0] = int64_t{1} << 40; }),
      batch_case("row splits descending", [](ReplicaBatch& b) { b[2].row_splits = {0, 3, 1}; }),
      batch_case("row splits not starting at 0",
                 [](ReplicaBatch& b) { b[0].row_splits = {1, 2, 3}; }),
      batch_case("row splits past num_ids", [](ReplicaBatch& b) { b[1].row_splits = {0, 2, 9}; }),
      batch_case("row splits short of num_ids",
                 [](ReplicaBatch& b) { b[1].row_splits = {0, 1, 2}; }),
      batch_case("num_row_splits != input_rows + 1",
                 [](ReplicaBatch& b) { b[0].row_splits = {0, 3}; }),
      batch_case("no row splits and num_ids != input_rows",
                 [](ReplicaBatch& b) { b[0].row_splits.clear(); }),
      args_case("replica -1", [](RawEnqueue& r) { r.args.replica = -1; }),
      args_case("replica == num_replicas", [](RawEnqueue& r) { r.args.replica = 2; }),
      args_case("mode 0", [](RawEnqueue& r) { r.args.mode = 0; }),
      args_case("num_inputs too small", [](RawEnqueue& r) { r.args.num_inputs = 2; }),
      args_case("inputs NULL", [](RawEnqueue& r) { r.args.inputs = nullptr; }),
      args_case("an input NULL", [](RawEnqueue& r) { r.pointers[1] = nullptr; }),
      args_case("ids NULL with num_ids > 0", [](RawEnqueue& r) { r.inputs[2].ids = nullptr; }),
      // Rule 20: weights must be finite.
      batch_case("NaN weight",
                 [](ReplicaBatch& b) { b[0].weights = {1.0f, NAN, 1.0f}; }),
      batch_case("infinite weight",
                 [](ReplicaBatch& b) { b[2].weights = {1.0f, 1.0f, -INFINITY, 1.0f}; }),
  };
  // In both modes and with both input lifetimes (ABI 1.1; a 1.0 plugin does not read it): a
  // one-host core leaves the range of the ids to the plugin (rule 13), so a plugin that reads
  // inputs in place must check them there too.
  struct Variant {
    EMBRT_Mode mode;
    int32_t input_lifetime;
  };
  const Variant variants[] = {{EMBRT_MODE_INFERENCE, EMBRT_INPUT_LIFETIME_CALL},
                              {EMBRT_MODE_TRAINING, EMBRT_INPUT_LIFETIME_CALL},
                              {EMBRT_MODE_INFERENCE, EMBRT_INPUT_LIFETIME_STEP},
                              {EMBRT_MODE_TRAINING, EMBRT_INPUT_LIFETIME_STEP}};
  for (int replica : {0, 1}) {
    for (const Variant& variant : variants) {
      for (const Case& c : cases) {
        ReplicaBatch batch = good;
        c.spoil_batch(batch);
        RawEnqueue raw(engine->raw(), batch);
        raw.args.replica = replica;
        raw.args.mode = variant.mode;
        raw.args.input_lifetime = variant.input_lifetime;
        c.spoil_args(raw);
        const CallResult result = plugin().Consume(api()->Engine_Enqueue(&raw.args));
        EXPECT_EQ(result.code, EMBRT_CODE_INVALID_ARGUMENT)
            << c.what << " (replica " << replica << ", mode " << variant.mode << ", input_lifetime "
            << variant.input_lifetime << "): Enqueue returned " << ToString(result);
      }
    }
    // Nothing was half-enqueued: a good step goes through.
    ASSERT_OK(engine->Enqueue(replica, EMBRT_MODE_INFERENCE, good));
    reference::Activations activations;
    ASSERT_OK(engine->Recv(replica, &activations));
    for (const std::vector<float>& a : activations) {
      for (float x : a) ASSERT_TRUE(std::isfinite(x)) << "activations not written";
    }
  }
}

TEST_P(AbiConformanceTest, RecvAndSendRejectBadBuffers) {
  Rules("4, 6, 8, 13, 21");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  std::vector<std::vector<float>> before0, before1;
  ASSERT_OK(engine->Retrieve(0, &before0));
  ASSERT_OK(engine->Retrieve(1, &before1));
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));

  std::vector<std::vector<float>> buffers = {std::vector<float>(16), std::vector<float>(16),
                                             std::vector<float>(8)};
  auto recv = [&](std::vector<size_t> sizes, size_t count, bool null_buffer, int replica) {
    std::vector<float*> pointers;
    for (auto& b : buffers) pointers.push_back(b.data());
    if (null_buffer) pointers[1] = nullptr;
    EMBRT_Engine_RecvActivations_Args args{};
    args.struct_size = EMBRT_Engine_RecvActivations_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    args.replica = replica;
    args.activations = pointers.data();
    args.activation_sizes = sizes.data();
    args.num_activations = count;
    return plugin().Consume(api()->Engine_RecvActivations(&args));
  };
  EXPECT_CODE(recv({16, 15, 8}, 3, false, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(recv({16, 16, 9}, 3, false, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(recv({16, 16, 8}, 2, false, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(recv({16, 16, 8}, 3, true, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(recv({16, 16, 8}, 3, false, 1), EMBRT_CODE_INVALID_ARGUMENT);
  reference::Activations activations;
  ASSERT_OK(engine->Recv(0, &activations));  // the step is still there

  std::vector<std::vector<float>> gradients = {std::vector<float>(16, 0.5f),
                                               std::vector<float>(16, 0.5f),
                                               std::vector<float>(8, 0.5f)};
  auto send = [&](std::vector<size_t> sizes, size_t count, int replica) {
    std::vector<const float*> pointers;
    for (auto& g : gradients) pointers.push_back(g.data());
    EMBRT_Engine_SendGradients_Args args{};
    args.struct_size = EMBRT_Engine_SendGradients_Args_STRUCT_SIZE;
    args.engine = engine->raw();
    args.replica = replica;
    args.gradients = pointers.data();
    args.gradient_sizes = sizes.data();
    args.num_gradients = count;
    return plugin().Consume(api()->Engine_SendGradients(&args));
  };
  EXPECT_CODE(send({16, 16, 7}, 3, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(send({17, 16, 8}, 3, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(send({16, 16, 8}, 2, 0), EMBRT_CODE_INVALID_ARGUMENT);
  EXPECT_CODE(send({16, 16, 8}, 3, 3), EMBRT_CODE_INVALID_ARGUMENT);
  gradients[2][5] = NAN;
  EXPECT_CODE(send({16, 16, 8}, 3, 0), EMBRT_CODE_INVALID_ARGUMENT);
  gradients[2][5] = 0.5f;
  gradients[0][0] = INFINITY;
  EXPECT_CODE(send({16, 16, 8}, 3, 0), EMBRT_CODE_INVALID_ARGUMENT);
  gradients[0][0] = 0.5f;
  // Nothing was applied by the failed calls.
  std::vector<std::vector<float>> after0, after1;
  ASSERT_OK(engine->Retrieve(0, &after0));
  ASSERT_OK(engine->Retrieve(1, &after1));
  EXPECT_EQ(after0, before0);
  EXPECT_EQ(after1, before1);
  // The step can still be completed, and then it changes the tables.
  EXPECT_CODE(send({16, 16, 8}, 3, 0), EMBRT_CODE_OK);
  ASSERT_OK(engine->Synchronize());
  ASSERT_OK(engine->Retrieve(0, &after0));
  EXPECT_NE(after0, before0) << "a training step with gradient 0.5 left the table unchanged";
}

TEST_P(AbiConformanceTest, OutOfOrderCallsAreFailedPrecondition) {
  Rules("10");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  const ReplicaBatch batch = CanonicalBatches(1)[0];
  const reference::Gradients zeros = {std::vector<float>(16, 0.0f), std::vector<float>(16, 0.0f),
                                      std::vector<float>(8, 0.0f)};
  reference::Activations activations;

  EXPECT_CODE(engine->Recv(0, &activations), EMBRT_CODE_FAILED_PRECONDITION);  // no Enqueue
  EXPECT_CODE(engine->Send(0, zeros), EMBRT_CODE_FAILED_PRECONDITION);         // no step

  // Inference: no gradients allowed.
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch));
  EXPECT_CODE(engine->Enqueue(0, EMBRT_MODE_INFERENCE, batch),
              EMBRT_CODE_FAILED_PRECONDITION);  // unreceived step
  ASSERT_OK(engine->Recv(0, &activations));
  EXPECT_CODE(engine->Send(0, zeros), EMBRT_CODE_FAILED_PRECONDITION);
  EXPECT_CODE(engine->Recv(0, &activations), EMBRT_CODE_FAILED_PRECONDITION);  // received

  // Training: Enqueue, Recv, Send, in that order and once each.
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));
  EXPECT_CODE(engine->Send(0, zeros), EMBRT_CODE_FAILED_PRECONDITION);  // not received yet
  ASSERT_OK(engine->Recv(0, &activations));
  EXPECT_CODE(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch),
              EMBRT_CODE_FAILED_PRECONDITION);  // training step without gradients
  ASSERT_OK(engine->Send(0, zeros));
  EXPECT_CODE(engine->Send(0, zeros), EMBRT_CODE_FAILED_PRECONDITION);  // sent twice
  EXPECT_CODE(engine->Recv(0, &activations), EMBRT_CODE_FAILED_PRECONDITION);

  // And the engine still works.
  ASSERT_OK(engine->Enqueue(0, EMBRT_MODE_TRAINING, batch));
  ASSERT_OK(engine->Recv(0, &activations));
  ASSERT_OK(engine->Send(0, {{}, {}, {}}));  // NULL gradients: zero, allowed
  ASSERT_OK(engine->Synchronize());
}

// Every declared optimizer's slots, loaded in two chunks, come back as loaded.
TEST_P(AbiConformanceTest, LoadAndRetrieveRoundTripAndRejectBadRanges) {
  Rules("6, 12, 13");
  for (reference::Optimizer kind : caps().optimizers) {
    SCOPED_TRACE(std::string("optimizer ") + OptimizerName(kind));
    OptimizerSpec optimizer;
    optimizer.kind = kind;
    const ModelSpec model = Supported(CanonicalModel(optimizer, 1));
    const size_t num_slots = reference::SlotNames(kind).size();
    std::unique_ptr<Engine> engine = MakeEngine(model);
    ASSERT_NE(engine, nullptr);
    // Distinct values everywhere, loaded in two chunks per table.
    std::vector<std::vector<std::vector<float>>> loaded(2);
    for (int t = 0; t < 2; ++t) {
      for (size_t s = 0; s < num_slots; ++s) {
        std::vector<float> slot(32);
        for (int i = 0; i < 32; ++i) slot[i] = 1000.0f * t + 100.0f * s + 0.25f * i;
        loaded[t].push_back(slot);
      }
      ASSERT_OK(engine->Load(t, loaded[t], 0, 3));
      ASSERT_OK(engine->Load(t, loaded[t], 3, -1));
    }
    for (int t = 0; t < 2; ++t) {
      std::vector<std::vector<float>> retrieved;
      ASSERT_OK(engine->Retrieve(t, &retrieved));
      EXPECT_EQ(retrieved, loaded[t]) << "table " << t;
    }

    auto load = [&](int table, int shard, int64_t begin, int64_t count, size_t slots_given) {
      std::vector<float> buffer(64 * 4, 7.0f);
      std::vector<const float*> slots(slots_given, buffer.data());
      return engine->abi().LoadRaw(table, shard, begin, count, slots);
    };
    auto retrieve = [&](int table, int shard, int64_t begin, int64_t count, size_t slots_given) {
      std::vector<float> buffer(64 * 4 * 6, 7.0f);
      std::vector<float*> slots;
      for (size_t s = 0; s < slots_given; ++s) slots.push_back(buffer.data() + s * 256);
      return engine->abi().RetrieveRaw(table, shard, begin, count, slots);
    };
    const size_t n = num_slots;
    EXPECT_CODE(load(2, 0, 0, 1, n), EMBRT_CODE_INVALID_ARGUMENT);   // no table 2
    EXPECT_CODE(load(-1, 0, 0, 1, n), EMBRT_CODE_INVALID_ARGUMENT);  // no table -1
    EXPECT_CODE(load(0, 1, 0, 1, n), EMBRT_CODE_INVALID_ARGUMENT);   // not this host's shard
    EXPECT_CODE(load(0, 0, 7, 2, n), EMBRT_CODE_INVALID_ARGUMENT);   // rows 7..8 of 8
    EXPECT_CODE(load(1, 0, -1, 2, n), EMBRT_CODE_INVALID_ARGUMENT);  // negative begin
    EXPECT_CODE(load(1, 0, 0, -2, n), EMBRT_CODE_INVALID_ARGUMENT);  // negative count
    EXPECT_CODE(load(0, 0, 0, 1, n - 1), EMBRT_CODE_INVALID_ARGUMENT);  // a slot short
    EXPECT_CODE(load(0, 0, 0, 1, n + 1), EMBRT_CODE_INVALID_ARGUMENT);  // a slot too many
    EXPECT_CODE(retrieve(2, 0, 0, 1, n), EMBRT_CODE_INVALID_ARGUMENT);
    EXPECT_CODE(retrieve(1, 0, 15, 2, n), EMBRT_CODE_INVALID_ARGUMENT);  // rows 15..16 of 16
    EXPECT_CODE(retrieve(1, 0, 0, 1, n + 1), EMBRT_CODE_INVALID_ARGUMENT);
    // The failed loads changed nothing.
    for (int t = 0; t < 2; ++t) {
      std::vector<std::vector<float>> retrieved;
      ASSERT_OK(engine->Retrieve(t, &retrieved));
      EXPECT_EQ(retrieved, loaded[t]) << "table " << t << " after failed loads";
    }
  }
}

// Rule 7: a new engine's tables are zeros unless the plugin documents other start values; either
// way they are deterministic: two engines of one description hold the same bits.
TEST_P(AbiConformanceTest, NewEngineTablesAreDeterministic) {
  Rules("7");
  const ModelSpec model = SUPPORTED_CANONICAL(1);
  std::unique_ptr<Engine> first = MakeEngine(model);
  ASSERT_NE(first, nullptr);
  std::unique_ptr<Engine> second = MakeEngine(model);
  ASSERT_NE(second, nullptr);
  for (int t = 0; t < 2; ++t) {
    std::vector<std::vector<float>> a, b;
    ASSERT_OK(first->Retrieve(t, &a));
    ASSERT_OK(second->Retrieve(t, &b));
    EXPECT_EQ(a, b) << "table " << t << ": two new engines differ";
    for (const auto& slot : a) {
      for (float x : slot) ASSERT_TRUE(std::isfinite(x)) << "table " << t;
    }
  }
}

TEST_P(AbiConformanceTest, TwoReplicasFromTwoThreads) {
  Rules("5, 10");
  const ModelSpec model = Supported(CanonicalModel(AnyOptimizer(caps(), 0.01f), 2));
  std::unique_ptr<Engine> engine = MakeEngine(model);
  ASSERT_NE(engine, nullptr);
  reference::ScalarReference initial(model);
  initial.slot(0, 0) = reference::RowMajorIota(32);
  initial.slot(1, 0) = reference::RowMajorIota(32);
  ASSERT_OK(engine->LoadState(initial));
  const std::vector<ReplicaBatch> batches = CanonicalBatches(2);
  constexpr int kSteps = 6;
  std::vector<std::string> failures(2);
  auto run = [&](int replica) {
    for (int step = 0; step < kSteps; ++step) {
      const EMBRT_Mode mode = step % 3 == 2 ? EMBRT_MODE_INFERENCE : EMBRT_MODE_TRAINING;
      CallResult result = engine->Enqueue(replica, mode, batches[replica]);
      reference::Activations activations;
      if (result.ok()) result = engine->Recv(replica, &activations);
      if (result.ok() && mode == EMBRT_MODE_TRAINING) {
        result = engine->Send(replica, reference::HalfOf(activations));
      }
      if (!result.ok()) {
        failures[replica] = "replica " + std::to_string(replica) + " step " +
                            std::to_string(step) + ": " + ToString(result);
        return;
      }
    }
  };
  // Inference steps fall on the same step numbers for both replicas, as the ABI requires.
  std::thread second(run, 1);
  run(0);
  second.join();
  EXPECT_EQ(failures[0], "");
  EXPECT_EQ(failures[1], "");
  ASSERT_OK(engine->Synchronize());
}

}  // namespace
}  // namespace conformance
}  // namespace embrt
