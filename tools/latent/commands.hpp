#pragma once
// The latent CLI's subcommands. Each add_* registers one subcommand on the
// app with its flags and a callback that calls the library; main() turns a
// latent::Error into one line on stderr and exit code 1.

#include <filesystem>

#include <CLI/CLI.hpp>

#include <latent/recommender.hpp>

namespace latent::cli {

void add_train(CLI::App& app);
void add_recommend(CLI::App& app);
void add_similar(CLI::App& app);
void add_pairs(CLI::App& app);
void add_embeddings(CLI::App& app);
void add_predict(CLI::App& app);
void add_scores(CLI::App& app);
void add_info(CLI::App& app);
void add_quickstart(CLI::App& app);
void add_evaluate(CLI::App& app);
void add_split(CLI::App& app);
void add_synth(CLI::App& app);
void add_tune(CLI::App& app);
void add_serve(CLI::App& app);
void add_report(CLI::App& app);
void add_index(CLI::App& app);

// A saved model for the commands that query it: Recommender::load, with a
// warning on stderr when its companion index cannot be used (index.cpp).
Recommender load_for_queries(const std::filesystem::path& path);

}  // namespace latent::cli
