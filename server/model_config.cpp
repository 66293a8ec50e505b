#include "model_config.hpp"

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::server {

namespace {

struct Token {
  enum Type { Identifier, String, Symbol, End } type;
  std::string text;
  int line;
};

// Splits protobuf text format into identifiers, quoted strings and the
// symbols { } : , ; with their line numbers.
class Lexer {
 public:
  Lexer(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  Token next() {
    skip_space_and_comments();
    if (pos_ >= text_.size()) return {Token::End, "", line_};
    const char c = text_[pos_];
    if (c == '{' || c == '}' || c == ':' || c == ',' || c == ';') {
      ++pos_;
      return {Token::Symbol, std::string(1, c), line_};
    }
    if (c == '\'' || c == '"') return quoted(c);
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.') {
      const std::size_t start = pos_;
      while (pos_ < text_.size() &&
             (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
              text_[pos_] == '-' || text_[pos_] == '.')) {
        ++pos_;
      }
      return {Token::Identifier, std::string(text_.substr(start, pos_ - start)), line_};
    }
    throw error(line_, fmt::format("unexpected character '{}'", c));
  }

  Error error(int line, const std::string& what) const {
    return Error(ErrorKind::InvalidArgument, fmt::format("{}:{}: {}", source_, line, what));
  }

 private:
  void skip_space_and_comments() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  Token quoted(char quote) {
    const int line = line_;
    std::string value;
    ++pos_;
    while (true) {
      if (pos_ >= text_.size() || text_[pos_] == '\n') throw error(line, "unterminated string");
      const char c = text_[pos_++];
      if (c == quote) break;
      if (c == '\\') {
        if (pos_ >= text_.size()) throw error(line, "unterminated string");
        const char e = text_[pos_++];
        switch (e) {
          case 'n':
            value.push_back('\n');
            break;
          case 't':
            value.push_back('\t');
            break;
          case '\\':
          case '\'':
          case '"':
            value.push_back(e);
            break;
          default:
            throw error(line, fmt::format("unsupported escape '\\{}' in a string", e));
        }
      } else {
        value.push_back(c);
      }
    }
    return {Token::String, std::move(value), line};
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

class Parser {
 public:
  Parser(std::string_view text, const std::string& source) : lex_(text, source) { advance(); }

  std::vector<ModelConfig> parse() {
    std::vector<ModelConfig> configs;
    if (tok_.type == Token::End)
      throw lex_.error(tok_.line, "empty model config: expected model_config_list { ... }");
    expect_identifier("model_config_list");
    open_block("model_config_list");
    while (!is_symbol("}")) {
      if (tok_.type == Token::End)
        throw lex_.error(tok_.line, "missing '}' closing model_config_list");
      const int line = tok_.line;
      expect_identifier("config");
      open_block("config");
      configs.push_back(parse_config(line));
      skip_separator();
    }
    advance();  // '}'
    if (tok_.type != Token::End) {
      throw lex_.error(tok_.line,
                       fmt::format("unexpected '{}' after model_config_list", tok_.text));
    }
    return configs;
  }

 private:
  ModelConfig parse_config(int line) {
    ModelConfig c;
    std::set<std::string> fields;
    while (!is_symbol("}")) {
      if (tok_.type == Token::End) throw lex_.error(line, "missing '}' closing this config");
      if (tok_.type != Token::Identifier) {
        throw lex_.error(tok_.line, fmt::format("expected a field name, got '{}'", tok_.text));
      }
      const Token field = tok_;
      advance();
      if (field.text != "name" && field.text != "base_path" && field.text != "model_platform") {
        throw lex_.error(field.line,
                         fmt::format("unsupported field '{}' in config (latent reads name, "
                                     "base_path, model_platform; it always serves the highest "
                                     "version)",
                                     field.text));
      }
      if (!fields.insert(field.text).second) {
        throw lex_.error(field.line, fmt::format("field '{}' given twice", field.text));
      }
      if (!is_symbol(":"))
        throw lex_.error(tok_.line, fmt::format("expected ':' after {}", field.text));
      advance();
      if (tok_.type != Token::String) {
        throw lex_.error(tok_.line, fmt::format("{} must be a quoted string", field.text));
      }
      if (field.text == "name") c.name = tok_.text;
      if (field.text == "base_path") c.base_path = tok_.text;
      // TF Serving's configs say "tensorflow"; either way the files are
      // latent model files. Anything else is a typo or another server's.
      if (field.text == "model_platform" && tok_.text != "tensorflow" && tok_.text != "latent") {
        throw lex_.error(tok_.line, fmt::format("model_platform '{}' is not one latent serves "
                                                "('tensorflow' or 'latent'; the files are latent "
                                                "model files either way)",
                                                tok_.text));
      }
      advance();
      skip_separator();
    }
    advance();  // '}'
    if (c.name.empty()) throw lex_.error(line, "config without a name");
    if (c.base_path.empty())
      throw lex_.error(line, fmt::format("config '{}' without a base_path", c.name));
    return c;
  }

  void advance() { tok_ = lex_.next(); }
  bool is_symbol(const char* s) const { return tok_.type == Token::Symbol && tok_.text == s; }
  void skip_separator() {
    if (is_symbol(",") || is_symbol(";")) advance();
  }
  void expect_identifier(const char* name) {
    if (tok_.type != Token::Identifier || tok_.text != name) {
      throw lex_.error(tok_.line, fmt::format("expected '{}', got '{}'", name, tok_.text));
    }
    advance();
  }
  void open_block(const char* name) {
    if (is_symbol(":")) advance();
    if (!is_symbol("{")) throw lex_.error(tok_.line, fmt::format("expected '{{' after {}", name));
    advance();
  }

  Lexer lex_;
  Token tok_{Token::End, "", 1};
};

}  // namespace

void check_model_configs(const std::vector<ModelConfig>& configs) {
  if (configs.empty()) throw Error(ErrorKind::InvalidArgument, "no models to serve");
  std::set<std::string> names;
  for (const auto& c : configs) {
    if (c.name.empty()) throw Error(ErrorKind::InvalidArgument, "a model name is empty");
    for (char ch : c.name) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') {
        throw Error(ErrorKind::InvalidArgument,
                    fmt::format("model name \"{}\" has '{}': use letters, digits, '-', '_', '.'",
                                c.name, ch));
      }
    }
    if (!names.insert(c.name).second) {
      throw Error(ErrorKind::InvalidArgument, fmt::format("model name \"{}\" given twice", c.name));
    }
  }
}

std::vector<ModelConfig> parse_model_config(std::string_view text, const std::string& source) {
  auto configs = Parser(text, source).parse();
  try {
    check_model_configs(configs);
  } catch (const Error& e) {
    throw Error(ErrorKind::InvalidArgument, fmt::format("{}: {}", source, e.what()));
  }
  return configs;
}

std::vector<ModelConfig> read_model_config(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(ErrorKind::IO, fmt::format("{}: cannot read the model config file", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_model_config(text.str(), path.string());
}

}  // namespace latent::server
