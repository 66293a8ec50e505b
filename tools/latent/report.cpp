// latent report: one self-contained HTML page about a saved model (training
// curves, metrics@K of evaluated models side by side, item popularity,
// recommendation coverage, a 2-D map of the item embeddings). The data is
// gathered and the page rendered by the library (latent/report.hpp).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/recommender.hpp>
#include <latent/report.hpp>

#include "commands.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

struct ReportFlags {
  std::string model;
  std::vector<std::string> evaluations;
  std::string out;
  std::string json;
  int k = kDefaultK;
  bool include_seen = false;
  std::int64_t max_map_items = 5000;
  int threads = 0;
};

void report_command(const ReportFlags& f) {
  ReportOptions options;
  options.model_file = std::filesystem::path(f.model).filename().string();
  options.k = f.k;
  options.exclude_seen = !f.include_seen;
  options.max_map_items = f.max_map_items;
  options.threads = f.threads;
  options.evaluations.assign(f.evaluations.begin(), f.evaluations.end());
  if (f.max_map_items < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--max-map-items must be >= 1, got {}", f.max_map_items));
  }
  effective_k(f.k, 1);  // the k rule's error, before the model is read
  // Malformed evaluation files fail before the model is read.
  for (const auto& path : options.evaluations) read_evaluation_json(path);
  const Recommender model = Recommender::load(f.model);
  const nlohmann::json report = build_report(model, options);
  // Both files are written before either is moved into place.
  Output out(f.out);
  out.print("{}", render_report_html(report));
  std::optional<Output> json;
  if (!f.json.empty()) {
    json.emplace(f.json);
    json->print("{}\n", report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  out.commit();
  if (json) json->commit();
  const nlohmann::json& cov = report["coverage"];
  fmt::print(
      "report on {} written to {}: {} epochs, {} evaluations, coverage@{} {:.4f}, "
      "{} items on the map\n",
      f.model, f.out, report["history"].size(), report["evaluations"].size(), cov["k"].get<int>(),
      cov["coverage"].get<double>(), report["map"]["items"].get<std::int64_t>());
}

}  // namespace

void add_report(CLI::App& app) {
  auto f = std::make_shared<ReportFlags>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write one self-contained HTML page about a model: training curves, metrics@K "
      "of several models, item popularity, coverage, a map of the item embeddings");
  cmd->add_option("model", f->model, "Model file")->required();
  cmd->add_option("--evaluation", f->evaluations,
                  "JSON written by `latent evaluate --json FILE` (repeatable): one column each "
                  "in the metrics table")
      ->allow_extra_args(false);
  cmd->add_option("--out", f->out, "HTML file to write")->required();
  cmd->add_option("--json", f->json, "Also write the report's data as JSON to this file");
  cmd->add_option("--k", f->k, "Top-K of the coverage")->capture_default_str();
  cmd->add_flag("--include-seen", f->include_seen,
                "Coverage of top-K lists that keep the items each user saw in training");
  cmd->add_option("--max-map-items", f->max_map_items,
                  "The map shows at most this many items, the most popular")
      ->capture_default_str();
  cmd->add_option("--threads", f->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->callback([f] { report_command(*f); });
}

}  // namespace latent::cli
