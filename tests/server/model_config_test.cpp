// TF Serving model config files (protobuf text format) for several models.
#include <gtest/gtest.h>

#include <model_config.hpp>

#include "test_support.hpp"

namespace latent::test {
namespace {

TEST(ModelConfigFile, ReadsTfServingModelConfigList) {
  const auto configs = server::parse_model_config(R"(# two models
model_config_list {
  config {
    name: 'movies'
    base_path: "/models/movies"   # a comment after a field
    model_platform: "tensorflow"
  },
  config { name: "books" base_path: '/models/it\'s books' }
}
)",
                                                  "models.config");
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].name, "movies");
  EXPECT_EQ(configs[0].base_path, "/models/movies");
  EXPECT_EQ(configs[1].name, "books");
  EXPECT_EQ(configs[1].base_path, "/models/it's books");
  // "model_config_list: {" is the same in text format.
  EXPECT_EQ(server::parse_model_config(
                "model_config_list: { config: { name: 'a' base_path: '/a' } }", "x")
                .size(),
            1u);
}

TEST(ModelConfigFile, ErrorsNameTheFileAndLine) {
  struct Case {
    const char* text;
    std::vector<std::string_view> parts;
  };
  const std::vector<Case> cases = {
      {"model_config_list {\n  config {\n    name: 'a'\n    base_paht: '/a'\n  }\n}\n",
       {"m.config:4:", "unsupported field 'base_paht'"}},
      {"model_config_list {\n config { name: 'a' }\n}\n", {"m.config:2:", "without a base_path"}},
      {"model_config_list {\n config { base_path: '/a' }\n}\n", {"m.config:2:", "without a name"}},
      {"model_config_list {\n config { name: 'a\n base_path: '/a' }\n}\n",
       {"m.config:2:", "unterminated string"}},
      {"model_config_list {\n config { name: a base_path: '/a' }\n}\n",
       {"m.config:2:", "name must be a quoted string"}},
      {"model_config_list {\n config { name: 'a' base_path: '/a' }\n", {"missing '}'"}},
      {"models {\n}\n", {"m.config:1:", "expected 'model_config_list'"}},
      {"", {"empty model config"}},
      {"model_config_list {\n config { name: 'a' base_path: '/a' model_version_policy { all {} } "
       "}\n}\n",
       {"m.config:2:", "unsupported field 'model_version_policy'"}},
      {"model_config_list {\n config { name: 'a' base_path: '/a' }\n config { name: 'a' base_path: "
       "'/b' }\n}\n",
       {"m.config", "\"a\" given twice"}},
      {"model_config_list {\n config { name: 'a/b' base_path: '/a' }\n}\n", {"has '/'"}},
      {"model_config_list { config { name: 'a' base_path: '/a' } } extra", {"unexpected 'extra'"}},
      {"model_config_list {\n config { name: 'a' base_path: '/a'\n model_platform: 'tensorflw' "
       "}\n}\n",
       {"m.config:3:", "model_platform 'tensorflw'", "'tensorflow' or 'latent'"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    try {
      server::parse_model_config(c.text, "m.config");
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      for (auto part : c.parts)
        EXPECT_NE(std::string_view(e.what()).find(part), std::string_view::npos) << e.what();
    }
  }
}

TEST(ModelConfigFile, MissingFileIsAnIoError) {
  expect_error([] { server::read_model_config("/nonexistent/models.config"); }, ErrorKind::IO,
               {"/nonexistent/models.config"});
}

}  // namespace
}  // namespace latent::test
