#include "app.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/model_spec.hpp>

#include "commands.hpp"
#include "model_help.hpp"
#include "output.hpp"

namespace latent::cli {

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>(
      fmt::format("latent: recommender models ({}): train, evaluate, query, serve",
                  fmt::join(model_names(), ", ")));
  app->require_subcommand(1);
  app->set_version_flag("--version", "latent 0.1.0");
  add_train(*app);
  add_recommend(*app);
  add_similar(*app);
  add_pairs(*app);
  add_embeddings(*app);
  add_predict(*app);
  add_scores(*app);
  add_info(*app);
  add_index(*app);
  add_evaluate(*app);
  add_split(*app);
  add_synth(*app);
  add_tune(*app);
  add_report(*app);
  add_serve(*app);
  add_quickstart(*app);
  add_models(*app);
  return app;
}

namespace {

// Optimal string alignment distance (edits, with adjacent transpositions).
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

// The candidate nearest to `word` when it is near enough to be a typo.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

// What was meant by an argument the parser refused: an unknown command or
// --flag, named with the nearest real one ("did you mean --epochs?"). Empty
// when every word is known, so the parser's own message stands.
std::string unknown_argument(const CLI::App& app, int argc, char** argv) {
  if (argc < 2) return {};
  const std::string_view first = argv[1];
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  if (!first.starts_with("-") &&
      std::find(commands.begin(), commands.end(), first) == commands.end()) {
    const std::string guess = nearest(first, commands);
    return fmt::format("unknown command \"{}\"{}", first,
                       guess.empty() ? fmt::format("; commands: {}", fmt::join(commands, ", "))
                                     : fmt::format("; did you mean {}?", guess));
  }
  const CLI::App* command = &app;
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == first) command = sub;
  }
  std::vector<std::string> flags;
  for (const CLI::App* scope : {&app, command}) {
    for (const CLI::Option* opt : scope->get_options({})) {
      for (const auto& name : opt->get_lnames()) flags.push_back("--" + name);
    }
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (!arg.starts_with("--")) continue;
    arg = arg.substr(0, arg.find('='));
    if (std::find(flags.begin(), flags.end(), arg) != flags.end()) continue;
    const std::string guess = nearest(arg, flags);
    return fmt::format("unknown option {}{}", arg,
                       guess.empty() ? std::string() : fmt::format("; did you mean {}?", guess));
  }
  return {};
}

}  // namespace

int run(int argc, char** argv) {
  const auto app = make_app();
  try {
    app->parse(argc, argv);
    // Output to a full disk or /dev/full fails when the buffer is flushed:
    // that is an error too, not exit 0 with the output lost.
    check_stdout();
  } catch (const CLI::ParseError& e) {
    // --help and --version arrive as "errors" with exit code 0; CLI11 prints them.
    if (e.get_exit_code() == 0) return app->exit(e);
    // Every other one (a value out of range, an unknown flag) is a user
    // error like any other: one line, exit 1.
    std::string message = unknown_argument(*app, argc, argv);
    if (message.empty()) message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fflush(stdout);
    fmt::print(stderr, "latent: error: {} (see --help)\n", message);
    return 1;
  } catch (const Reported& r) {
    return r.code;
  } catch (const latent::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "latent: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "latent: internal error: {}\n", e.what());
    return 70;
  }
  return 0;
}

}  // namespace latent::cli
