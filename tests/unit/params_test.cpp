#include <latent/params.hpp>

#include <cstdint>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>

namespace latent {
namespace {

TEST(Params, ReadsTypedValuesAndKeepsDefaults) {
  Params p{{"dim", "32"}, {"alpha", "2.5"}, {"flag", "true"}, {"seed", "18446744073709551615"}};
  int dim = 64, epochs = 3;
  float alpha = 1;
  bool flag = false;
  std::uint64_t seed = 0;
  p.read("dim", dim);
  p.read("epochs", epochs);
  p.read("alpha", alpha);
  p.read("flag", flag);
  p.read("seed", seed);
  EXPECT_EQ(dim, 32);
  EXPECT_EQ(epochs, 3);
  EXPECT_FLOAT_EQ(alpha, 2.5f);
  EXPECT_TRUE(flag);
  EXPECT_EQ(seed, UINT64_MAX);
  EXPECT_NO_THROW(p.finish("m"));
}

TEST(Params, BadValuesAndUnknownNamesAreErrors) {
  Params p{{"dim", "6x"}};
  int dim = 0;
  try {
    p.read("dim", dim);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"6x\""), std::string::npos) << e.what();
  }
  Params q{{"alpah", "1"}};
  float alpha = 0;
  q.read("alpha", alpha);
  try {
    q.finish("als");
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("alpah"), std::string::npos) << m;
    EXPECT_NE(m.find("alpha"), std::string::npos) << m;
  }
}

TEST(Params, ModelsCheckTheirParametersWithoutTraining) {
  EXPECT_NO_THROW(check_model_params("two-tower", {{"dim", "16"}}));
  EXPECT_THROW(check_model_params("two-tower", {{"alpha", "1"}}), Error);
  EXPECT_THROW(check_model_params("two-tower", {{"dim", "0"}}), Error);
  EXPECT_THROW(check_model_params("svd", {}), Error);
}

}  // namespace
}  // namespace latent
