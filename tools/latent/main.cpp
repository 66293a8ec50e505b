// latent: train, query, inspect and export recommender models.
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <latent/error.hpp>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"latent: recommender models (two-tower, ALS, BPR, EASE, popularity): train, evaluate, query"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "latent 0.1.0");
  latent::cli::add_train(app);
  latent::cli::add_recommend(app);
  latent::cli::add_similar(app);
  latent::cli::add_pairs(app);
  latent::cli::add_embeddings(app);
  latent::cli::add_scores(app);
  latent::cli::add_info(app);
  latent::cli::add_evaluate(app);
  latent::cli::add_split(app);
  latent::cli::add_synth(app);
  latent::cli::add_tune(app);
  latent::cli::add_serve(app);
  latent::cli::add_quickstart(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
