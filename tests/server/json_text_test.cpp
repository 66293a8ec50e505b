// The hand-written JSON of :predict reads back exactly.
#include <gtest/gtest.h>

#include <limits>

#include <nlohmann/json.hpp>

#include <json_text.hpp>

namespace latent::test {
namespace {

TEST(JsonText, StringsReadBackUnchanged) {
  for (const std::string& s :
       {std::string("Star Wars (1977)"), std::string("say \"hi\" \\ back"),
        std::string("tab\there\nnew line\r"), std::string("ctl \x01\x1f end"),
        std::string("Am\xc3\xa9lie (2001)"), std::string("")}) {
    std::string text;
    server::append_json_string(text, s);
    EXPECT_EQ(nlohmann::json::parse(text).get<std::string>(), s) << text;
  }
}

TEST(JsonText, BytesThatAreNotUtf8BecomeReplacementCharacters) {
  // Latin-1 "Am\xe9lie", a lone continuation byte, a truncated 3-byte sequence,
  // an overlong '/', a surrogate, and valid 4-byte U+1F600.
  const std::string in = "Am\xe9lie \x80 \xe2\x82 \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80";
  std::string text;
  server::append_json_string(text, in);
  const std::string back = nlohmann::json::parse(text).get<std::string>();
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(back, "Am" + r + "lie " + r + " " + r + r + " " + r + r + " " + r + r + r +
                      " \xf0\x9f\x98\x80");
}

TEST(JsonText, FloatsReadBackToTheSameFloat) {
  for (const float v :
       {0.3f, -3.4258108f, 1e-30f, 1e-45f, 3.4028235e38f, -0.0f, 123456.78f, 7.0f}) {
    std::string text;
    server::append_json_float(text, v);
    EXPECT_EQ(static_cast<float>(nlohmann::json::parse(text).get<double>()), v) << text;
  }
  std::string text;
  server::append_json_float(text, 0.3f);
  EXPECT_EQ(text, "0.3");
  text.clear();
  server::append_json_float(text, std::numeric_limits<float>::infinity());
  EXPECT_EQ(text, "null");
}

}  // namespace
}  // namespace latent::test
