// latent synth: write a seeded synthetic "user,item" CSV (Zipf item
// popularity, lognormal user activity), MovieLens-20M-shaped by default.
#include <chrono>
#include <memory>
#include <string>

#include <fmt/format.h>

#include <latent/synth.hpp>

#include "commands.hpp"

namespace latent::cli {

namespace {

struct SynthFlags {
  SynthConfig config;
  std::string out;
};

void synth_command(const SynthFlags& f) {
  const auto t0 = std::chrono::steady_clock::now();
  const Interactions data = synthesize(f.config);
  write_synth_csv(f.out, data);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print("{} pairs of {} users and {} items written to {} in {:.2f} s\n", data.size(),
             f.config.users, f.config.items, f.out, seconds);
}

}  // namespace

void add_synth(CLI::App& app) {
  auto f = std::make_shared<SynthFlags>();
  auto* cmd = app.add_subcommand(
      "synth",
      "Write a seeded synthetic user,item CSV (Zipf item popularity, lognormal user "
      "activity; MovieLens-20M-shaped by default)");
  cmd->add_option("--out", f->out, "CSV file to write (header user,item; ids are row numbers)")
      ->required();
  cmd->add_option("--users", f->config.users, "Users (rows 1..N)")->capture_default_str();
  cmd->add_option("--items", f->config.items, "Items (rows 1..N)")->capture_default_str();
  cmd->add_option("--pairs", f->config.pairs, "Distinct (user, item) pairs in total")
      ->capture_default_str();
  cmd->add_option("--zipf", f->config.zipf, "Item popularity exponent: rank r has weight r^-A")
      ->capture_default_str();
  cmd->add_option("--activity-sigma", f->config.activity_sigma,
                  "Sigma of the lognormal pairs-per-user distribution")
      ->capture_default_str();
  cmd->add_option("--seed", f->config.seed, "Seed (same arguments, same file bytes)")
      ->capture_default_str();
  cmd->callback([f] { synth_command(*f); });
}

}  // namespace latent::cli
