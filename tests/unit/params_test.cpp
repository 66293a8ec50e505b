// Parameters: parsing one value's text, a ParamSpec's checks, a ParamTable
// bound to a config struct, and the check that every given name applies.
#include <latent/params.hpp>

#include <cstdint>

#include <gtest/gtest.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/param_table.hpp>

#include "test_support.hpp"

namespace latent::test {
namespace {

TEST(Params, ParsesTypedValues) {
  EXPECT_EQ(parse_param<int>("dim", "32"), 32);
  EXPECT_FLOAT_EQ(parse_param<float>("alpha", "2.5"), 2.5f);
  EXPECT_TRUE(parse_param<bool>("flag", "true"));
  EXPECT_FALSE(parse_param<bool>("flag", "0"));
  EXPECT_EQ(parse_param<std::uint64_t>("seed", "18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(Params({{"dim", "3"}}).get("dim"), "3");
  EXPECT_FALSE(Params().get("dim").has_value());
}

TEST(Params, BadTextNamesTheParameterAndValue) {
  expect_error([] { parse_param<int>("dim", "6x"); }, ErrorKind::InvalidArgument,
               {"parameter dim", "\"6x\"", "integer"});
  expect_error([] { parse_param<bool>("shuffle", "yes"); }, ErrorKind::InvalidArgument,
               {"shuffle", "\"yes\"", "true or false"});
  expect_error([] { parse_param<std::uint64_t>("seed", "-1"); }, ErrorKind::InvalidArgument,
               {"seed", "\"-1\""});
}

TEST(ParamSpec, RangesChoicesAndNames) {
  ParamSpec p;
  p.name = "learning-rate";
  p.type = ParamType::Float;
  p.min = 0;
  p.min_open = true;
  p.help = "Step";
  EXPECT_EQ(p.range_text(), "> 0");
  EXPECT_EQ(p.python_name(), "learning_rate");
  EXPECT_EQ(p.flag(), "--learning-rate");
  EXPECT_NO_THROW(p.check("0.5"));
  expect_error([&] { p.check("0"); }, ErrorKind::InvalidArgument,
               {"learning-rate", "\"0\"", "> 0"});
  expect_error([&] { p.check("nan"); }, ErrorKind::InvalidArgument, {"\"nan\""});
  expect_error([&] { p.check("inf"); }, ErrorKind::InvalidArgument, {"\"inf\""});
  p.max = 1;
  EXPECT_EQ(p.range_text(), "(0, 1]");

  ParamSpec c;
  c.name = "solver";
  c.type = ParamType::Choice;
  c.choices = {"cg", "cholesky"};
  EXPECT_NO_THROW(c.check("cg"));
  expect_error([&] { c.check("lu"); }, ErrorKind::InvalidArgument,
               {"solver", "\"lu\"", "cg, cholesky"});

  ParamSpec b;
  b.name = "shuffle";
  b.type = ParamType::Bool;
  b.default_value = "true";
  EXPECT_EQ(b.flag(), "--no-shuffle");
  b.default_value = "false";
  EXPECT_EQ(b.flag(), "--shuffle");
}

struct ToyConfig {
  int dim = 8;
  float rate = 0.5f;
  bool fast = false;
  std::uint64_t seed = 42;
};

TEST(ParamTable, DefaultsComeFromTheConfigAndValuesAreChecked) {
  const auto table = ParamTable<ToyConfig>()
                         .add("dim", &ToyConfig::dim, "Size", Range::between(1, 16))
                         .add("rate", &ToyConfig::rate, "Rate", Range::above(0))
                         .add("fast", &ToyConfig::fast, "Fast")
                         .common("seed", &ToyConfig::seed);
  const auto specs = table.specs();  // the common seed is not the model's own
  ASSERT_EQ(specs.size(), 3u);
  EXPECT_EQ(specs[0].default_value, "8");
  EXPECT_EQ(specs[1].default_value, "0.5");
  EXPECT_EQ(specs[2].default_value, "false");
  EXPECT_EQ(specs[2].type, ParamType::Bool);

  const ToyConfig c = table.read({{"dim", "4"}, {"fast", "true"}, {"seed", "7"}});
  EXPECT_EQ(c.dim, 4);
  EXPECT_FLOAT_EQ(c.rate, 0.5f);
  EXPECT_TRUE(c.fast);
  EXPECT_EQ(c.seed, 7u);
  expect_error(
      [&] {
        table.read({{"dim", "17"}});
      },
      ErrorKind::InvalidArgument, {"dim", "\"17\"", "[1, 16]"});
  expect_error(
      [&] {
        table.read({{"dim", "2.5"}});
      },
      ErrorKind::InvalidArgument, {"dim", "\"2.5\"", "integer"});
}

TEST(Params, ModelsCheckTheirParametersWithoutTraining) {
  EXPECT_NO_THROW(check_model_params("two-tower", {{"dim", "16"}}));
  expect_error(
      [] {
        check_model_params("two-tower", {{"alpha", "1"}});
      },
      ErrorKind::InvalidArgument,
      {"parameter alpha does not apply to model two-tower", "learning-rate"});
  expect_error(
      [] {
        check_model_params("two-tower", {{"dim", "0"}});
      },
      ErrorKind::InvalidArgument, {"dim", "[1, 4096]"});
  expect_error([] { check_model_params("svd", {}); }, ErrorKind::InvalidArgument,
               {"svd", "als, bpr, ease, gf-cf, popularity, two-tower"});
  // Common parameters: accepted by every model, checked the same way.
  EXPECT_NO_THROW(check_model_params("popularity", {{"seed", "3"}, {"threads", "2"}}));
  expect_error(
      [] {
        check_model_params("ease", {{"threads", "-1"}});
      },
      ErrorKind::InvalidArgument, {"threads", "[0, 4096]"});
  expect_error(
      [] {
        check_model_params("bpr", {{"rated-weight", "0.5"}});
      },
      ErrorKind::InvalidArgument, {"rated-weight does not apply to model bpr", "pair weights"});
}

TEST(Params, SeedPolicyIsTheSeedParameterElse42) {
  EXPECT_EQ(seed_of({}), 42u);
  EXPECT_EQ(seed_of({{"seed", "7"}}), 7u);
  expect_error([] { seed_of({{"seed", "x"}}); }, ErrorKind::InvalidArgument, {"seed", "\"x\""});
}

}  // namespace
}  // namespace latent::test
