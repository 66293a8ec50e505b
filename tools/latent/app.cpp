#include "app.hpp"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

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
  add_scores(*app);
  add_info(*app);
  add_evaluate(*app);
  add_split(*app);
  add_synth(*app);
  add_tune(*app);
  add_serve(*app);
  add_quickstart(*app);
  add_models(*app);
  return app;
}

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
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    std::fflush(stdout);
    fmt::print(stderr, "latent: error: {} (see --help)\n", message);
    return 1;
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
