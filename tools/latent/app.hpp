#pragma once
// The latent CLI as a library: the app with every subcommand, and running it
// with the CLI's error policy. main() is one call; tests build the same app.

#include <memory>

#include <CLI/CLI.hpp>

namespace latent::cli {

std::unique_ptr<CLI::App> make_app();

// Thrown by a command whose error was already printed (by rank 0 of a
// distributed run, for every rank): run() returns `code` and prints nothing.
struct Reported {
  int code = 1;
};

// Parses and runs; a latent::Error is one line on stderr and exit code 1,
// any other exception exit code 70.
int run(int argc, char** argv);

}  // namespace latent::cli
