// Copyright embrt authors.
//
// Quality bars of the trainer (tools/training/trainer.h) on the cpu backend: the synthetic
// click log against its teacher, the Criteo sample against the constant-CTR predictor, and
// synthetic MovieLens-format ratings against their noise floor.

#include "tools/training/trainer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/tools/temp_files.h"
#include "tools/training/random.h"

namespace embrt {
namespace training {
namespace {

std::string SourcePath(const std::string& relative) {
  return std::string(EMBRT_SOURCE_DIR) + "/" + relative;
}

TEST(TrainQualityTest, SyntheticClicksComeWithin002AucOfTheTeacher) {
  // A smaller, faster variant of the default run (the default: 10000-row cap, 20000 steps
  // of 1024): 26 fields capped at 300 rows, 1M examples.
  TrainOptions options;
  options.synthetic_options_given = true;
  options.synthetic.seed = 1;
  options.synthetic.max_cardinality = 300;
  options.steps = 2000;
  options.batch_size = 512;
  options.synthetic_eval_examples = 20000;
  options.progress = nullptr;
  absl::StatusOr<TrainReport> report = Train(options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->teacher.has_value());
  EXPECT_EQ(report->eval.examples, 20000);
  EXPECT_GT(report->teacher->auc, 0.8);  // the task is not trivial
  EXPECT_GT(report->eval.auc, report->teacher->auc - 0.02)
      << "model " << report->eval.auc << " teacher " << report->teacher->auc;
  EXPECT_EQ(report->steps, 2000);
  EXPECT_EQ(report->examples, 2000 * 512);
  ASSERT_FALSE(report->curve.eval.empty());
  EXPECT_LT(report->curve.eval.back().loss, report->curve.eval.front().loss);
}

TEST(TrainQualityTest, CriteoSampleBeatsTheConstantCtrPredictor) {
  const char* data = std::getenv("EMBRT_SHARED_DATA");
  if (data == nullptr) GTEST_SKIP() << "EMBRT_SHARED_DATA is not set";
  const std::string path = std::string(data) + "/criteo/train.txt";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << path << " is missing (the Criteo sample)";
  // First 800 lines to train, last 200 to evaluate.
  const std::string dir = testing_tools::MakeTempDir();
  std::ofstream train(dir + "/train.txt"), eval(dir + "/eval.txt");
  std::string line;
  int lines = 0, train_clicks = 0;
  std::vector<int> eval_labels;
  while (std::getline(in, line)) {
    ++lines;
    if (lines <= 800) {
      train << line << "\n";
      train_clicks += line[0] == '1';
    } else {
      eval << line << "\n";
      eval_labels.push_back(line[0] == '1');
    }
  }
  train.close();
  eval.close();
  ASSERT_EQ(lines, 1000);
  const double ctr = train_clicks / 800.0;
  double constant_log_loss = 0;
  for (int y : eval_labels) constant_log_loss -= y ? std::log(ctr) : std::log(1 - ctr);
  constant_log_loss /= eval_labels.size();

  TrainOptions options;
  options.config_path = SourcePath("examples/configs/criteo.textproto");
  options.format = DataFormat::kCriteo;
  options.data.data = dir + "/train.txt";
  options.data.eval_data = dir + "/eval.txt";
  options.epochs = 1;
  options.batch_size = 32;
  options.progress = nullptr;
  absl::StatusOr<TrainReport> report = Train(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->eval.examples, 200);
  EXPECT_EQ(report->examples, 800);
  EXPECT_EQ(report->bad_lines, 0);
  EXPECT_LT(report->eval.log_loss, constant_log_loss)
      << "constant CTR " << ctr << " gives " << constant_log_loss;
  EXPECT_GT(report->eval.auc, 0.6);
}

// Ratings from a known biased-MF model plus Gaussian noise of stddev 0.5, in ml-100k's
// `user item rating timestamp` format (943 users, 1682 items).
void WriteRatings(const std::string& path, int count, Random& noise_random,
                  const std::vector<float>& user_bias, const std::vector<float>& item_bias,
                  const std::vector<float>& user_factors, const std::vector<float>& item_factors,
                  int k) {
  std::ofstream out(path);
  for (int n = 0; n < count; ++n) {
    const int user = 1 + static_cast<int>(noise_random.NextU64() % 943);
    const int item = 1 + static_cast<int>(noise_random.NextU64() % 1682);
    double rating = 3.5 + user_bias[user] + item_bias[item];
    for (int d = 0; d < k; ++d) rating += user_factors[user * k + d] * item_factors[item * k + d];
    rating += 0.5 * noise_random.Normal();
    char text[64];
    std::snprintf(text, sizeof(text), "%d\t%d\t%.3f\t%d\n", user, item, rating, 880000000 + n);
    out << text;
  }
}

TEST(TrainQualityTest, SyntheticMovieLensRatingsApproachTheNoiseFloor) {
  const int k = 4;
  Random random(7);
  std::vector<float> user_bias(944), item_bias(1683), user_factors(944 * k),
      item_factors(1683 * k);
  for (float& b : user_bias) b = 0.3f * random.Normal();
  for (float& b : item_bias) b = 0.3f * random.Normal();
  for (float& v : user_factors) v = 0.4f * random.Normal();
  for (float& v : item_factors) v = 0.4f * random.Normal();
  const std::string dir = testing_tools::MakeTempDir();
  WriteRatings(dir + "/u.train", 200000, random, user_bias, item_bias, user_factors,
               item_factors, k);
  WriteRatings(dir + "/u.test", 10000, random, user_bias, item_bias, user_factors,
               item_factors, k);

  TrainOptions options;
  options.config_path = SourcePath("examples/configs/movielens.textproto");
  options.format = DataFormat::kMovieLens;
  options.data.data = dir + "/u.train";
  options.data.eval_data = dir + "/u.test";
  options.epochs = 8;
  options.progress = nullptr;
  absl::StatusOr<TrainReport> report = Train(options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->loss, "squared");
  EXPECT_EQ(report->eval.examples, 10000);
  // The noise alone gives RMSE 0.5; predicting the mean gives about 0.86.
  EXPECT_LT(report->eval.rmse, 0.56);
  EXPECT_GT(report->eval.rmse, 0.47);
  EXPECT_LT(report->eval.mae, 0.46);
}

}  // namespace
}  // namespace training
}  // namespace embrt
