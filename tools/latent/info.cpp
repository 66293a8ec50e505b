// latent info: what a saved model file holds (or, with --system, what
// machine latent runs on), for a person (aligned fields,
// the first ids of each vocabulary, the training history as a table) or,
// with --json, for a program (one JSON document).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <latent/error.hpp>
#include <latent/model_file.hpp>
#include <latent/recommender.hpp>
#include <latent/system_info.hpp>

#include "commands.hpp"
#include "output.hpp"

namespace latent::cli {

namespace {

using nlohmann::json;

constexpr std::int32_t kIdsShown = 5;     // after the OOV row
constexpr std::size_t kEpochsShown = 10;  // the first and last half of them

// The first ids of a vocabulary, the OOV row's first, each as a JSON string.
json first_ids(const Vocabulary& v) {
  json ids = json::array();
  const auto n = static_cast<std::int32_t>(std::min<std::size_t>(v.size(), kIdsShown + 1));
  for (std::int32_t row = 0; row < n; ++row) ids.push_back(std::string(v.id(row)));
  return ids;
}

json vocabulary_json(const Vocabulary& v) {
  return {{"known", v.num_known()},
          {"oov_rows", v.size() - v.num_known()},
          {"first_ids", first_ids(v)}};
}

// One of the model's indexes: its companion file, type, parameters and
// size, or why it is not used; null when there is none.
json index_json(const std::filesystem::path& file, const HnswIndex* index,
                const std::string& problem) {
  if (index != nullptr) {
    json j = index->describe();
    j["file"] = file.string();
    return j;
  }
  if (!problem.empty()) return {{"file", file.string()}, {"problem", problem}};
  return nullptr;
}

// An item-based model's item-to-item term (null: none).
json item_to_item_json(const ItemToItem& w) {
  if (w.empty()) return nullptr;
  const std::int64_t bytes =
      w.is_dense() ? w.nnz() * 4 : w.nnz() * 8 + static_cast<std::int64_t>(w.indptr().size()) * 8;
  return {{"storage", w.is_dense() ? "dense" : "sparse"}, {"weights", w.nnz()}, {"bytes", bytes}};
}

json describe(const std::string& path, const Recommender& model) {
  const ModelData& m = model.model();
  return {{"file", path},
          {"index", index_json(index_path_for(path), model.index(), model.index_problem())},
          {"similar_index", index_json(similar_index_path_for(path), model.similar_index(),
                                       model.similar_index_problem())},
          {"kind", m.kind},
          {"format_version", model_format_version(m)},
          {"dim", model.dim()},
          {"users", vocabulary_json(m.users)},
          {"items", vocabulary_json(m.items)},
          {"item_titles", !m.item_titles.empty()},
          {"seen_pairs", m.seen.nnz()},
          {"item_to_item", item_to_item_json(m.item_to_item)},
          {"rating_head", m.rating_head ? m.rating_head->shape_json() : json()},
          {"config", m.config},
          {"training", m.training}};
}

// A JSON value on one line: numbers as a person reads them (0.9, not
// 0.8999999761581421, the float a config holds), strings unquoted.
std::string readable(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:.6g}", v.get<double>());
  return v.dump();
}

// As many of the first ids as fit a line of about 80 characters.
std::string id_list(const json& vocabulary, std::size_t known) {
  std::string s;
  std::size_t shown = 0;  // known ids shown (the OOV row is not one)
  for (const auto& id : vocabulary["first_ids"]) {
    const std::string quoted = id.dump();  // quoted: ids may hold commas and spaces
    if (!s.empty() && s.size() + quoted.size() > 70) break;
    if (!s.empty()) {
      s += ", ";
      ++shown;
    }
    s += quoted;
  }
  if (known > shown) s += fmt::format(", ... ({} more)", known - shown);
  return s;
}

void print_fields(Output& out, const json& object) {
  std::size_t width = 0;
  for (const auto& [key, value] : object.items()) {
    if (!value.is_array()) width = std::max(width, key.size());
  }
  for (const auto& [key, value] : object.items()) {
    if (!value.is_array()) out.print("  {:<{}}  {}\n", key, width, readable(value));
  }
}

// The epochs as a table: epoch, seconds, loss and every metric recorded.
void print_epochs(Output& out, const json& epochs) {
  // seconds, loss and the like first, then the train metrics, then the
  // test ones, each by k (top_5 before top_10).
  std::vector<std::string> columns;
  auto add = [&](const std::string& name) {
    if (std::ranges::find(columns, name) == columns.end()) columns.push_back(name);
  };
  for (const auto& e : epochs) {
    for (const auto& [key, value] : e.items()) {
      if (!value.is_object() && key != "epoch") add(key);
    }
  }
  std::ranges::sort(columns, std::ranges::greater{});  // seconds, sampled_accuracy, loss
  for (const char* part : {"train", "test"}) {
    std::vector<std::pair<int, std::string>> metrics;
    for (const auto& e : epochs) {
      if (!e.contains(part) || !e[part].is_object()) continue;
      for (const auto& [k, _] : e[part].items()) {
        const auto at = k.find_last_of('_');
        metrics.emplace_back(at == std::string::npos ? 0 : std::atoi(k.c_str() + at + 1), k);
      }
    }
    std::ranges::sort(metrics);
    for (const auto& [_, k] : metrics) add(std::string(part) == "test" ? "test_" + k : k);
  }
  out.print("  {:>5}", "epoch");
  for (const auto& c : columns) out.print("  {:>{}}", c, std::max<std::size_t>(10, c.size()));
  out.print("\n");
  const std::size_t n = epochs.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (n > kEpochsShown && i == kEpochsShown / 2) {
      out.print("  {:>5}  ({} epochs not shown; all of them: latent info --json)\n", "...",
                n - kEpochsShown);
      i = n - kEpochsShown / 2;
    }
    const json& e = epochs[i];
    out.print("  {:>5}", readable(e.value("epoch", json())));
    for (const auto& c : columns) {
      json v;
      if (e.contains(c)) {
        v = e[c];
      } else if (c.starts_with("test_") && e.contains("test") && e["test"].contains(c.substr(5))) {
        v = e["test"][c.substr(5)];
      } else if (e.contains("train") && e["train"].contains(c)) {
        v = e["train"][c];
      }
      out.print("  {:>{}}", v.is_null() ? "-" : readable(v), std::max<std::size_t>(10, c.size()));
    }
    out.print("\n");
  }
}

void info(const std::string& path, bool as_json) {
  const Recommender model = Recommender::load(path);
  const json d = describe(path, model);
  Output out("");
  if (as_json) {
    out.print("{}\n", d.dump(2));
    out.commit();
    return;
  }
  const auto users = d["users"]["known"].get<std::size_t>();
  const auto items = d["items"]["known"].get<std::size_t>();
  out.print("file: {}\nkind: {}\nformat version: {}\n", path, readable(d["kind"]),
            d["format_version"].get<int>());
  out.print("users: {} (+1 OOV row), items: {} (+1 OOV row), dim: {}\n", users, items, model.dim());
  out.print("user ids: {}\nitem ids: {}\n", id_list(d["users"], users), id_list(d["items"], items));
  out.print(
      "  (every id in row order: latent embeddings MODEL --out-dir DIR writes users.tsv, "
      "items.tsv)\n");
  out.print("item titles: {}\nseen pairs: {}\n", d["item_titles"].get<bool>() ? "yes" : "no",
            readable(d["seen_pairs"]));
  if (const json& h = d["rating_head"]; !h.is_null()) {
    // The widths from the input (user and item vectors) to the rating.
    std::vector<std::int64_t> widths{2 * h["dim"].get<std::int64_t>()};
    for (const json& w : h["hidden"]) widths.push_back(w.get<std::int64_t>());
    widths.push_back(1);
    out.print("rating head: {} (latent predict scores pairs with it)\n", fmt::join(widths, " -> "));
  }
  if (const json& w = d["item_to_item"]; !w.is_null()) {
    out.print("item-to-item term: {} weights, {} ({:.1f} MiB)\n", readable(w["storage"]),
              readable(w["weights"]), w["bytes"].get<double>() / (1 << 20));
  }
  const auto print_index = [&](std::string_view name, const json& index, std::string_view what) {
    if (index.is_null()) {
      out.print("{}: none ({} read every item; latent index builds one)\n", name, what);
    } else if (index.contains("problem")) {
      out.print("{}: not used ({} read every item): {}\n", name, what, readable(index["problem"]));
    } else {
      out.print("{}: {} (m {}, ef_construction {}, ef {}, {} levels), {:.1f} MiB, {}\n", name,
                readable(index["type"]), readable(index["m"]), readable(index["ef_construction"]),
                readable(index["ef"]), readable(index["levels"]),
                index["bytes"].get<double>() / 1048576.0, readable(index["file"]));
    }
  };
  print_index("index", d["index"], "recommendations");
  print_index("similar-items index", d["similar_index"], "similar items and pairs");
  out.print("config:\n");
  print_fields(out, d["config"]);
  out.print("training:\n");
  print_fields(out, d["training"]);
  if (d["training"].contains("epochs") && !d["training"]["epochs"].empty()) {
    print_epochs(out, d["training"]["epochs"]);
  }
  out.commit();
}

// The machine: CPU, the kernels of the dense products and of latent's own
// loops, threads, and a warning when the kernels are older than the CPU.
void system(bool as_json) {
  const SystemInfo s = system_info();
  Output out("");
  if (as_json) {
    out.print("{}\n", s.to_json().dump(2));
  } else {
    out.print("cpu: {} ({})\n", s.cpu,
              s.simd.empty() ? "no AVX" : fmt::format("{}", fmt::join(s.simd, " ")));
    const std::string who =
        s.blas_chosen_by == "latent"
            ? fmt::format(" (chosen by latent for this CPU; OpenBLAS picked {})",
                          s.blas_openblas_pick)
        : s.blas_chosen_by == "OPENBLAS_CORETYPE" ? " (as OPENBLAS_CORETYPE asks)"
                                                  : "";
    out.print("dense products: {}, {} kernels{}, 1 thread under each of latent's\n", s.blas,
              s.blas_kernels, who);
    out.print("latent's own loops: {} clone\n", s.latent_kernels);
    out.print("threads: {} (--threads 0), {} hardware threads\n", s.default_threads,
              s.hardware_threads);
    out.print("waiting threads: {}\n", s.openmp_wait);
    for (const auto& w : s.warnings) out.print("warning: {}\n", w);
  }
  out.commit();
}

}  // namespace

void add_info(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto machine = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("info", "Describe a saved model, or this machine (--system)");
  cmd->add_option("model", *model, "Model file");
  cmd->add_flag("--system", *machine,
                "Describe this machine instead: the CPU, the kernels and threads latent uses");
  cmd->add_flag("--json", *as_json,
                "Print one JSON document instead (for a model: config, "
                "training history, vocabulary sizes)");
  cmd->callback([=] {
    if (*machine) {
      if (!model->empty()) {
        throw Error(ErrorKind::InvalidArgument, "give a model file or --system, not both");
      }
      system(*as_json);
      return;
    }
    if (model->empty()) {
      throw Error(ErrorKind::InvalidArgument, "give a model file (or --system for this machine)");
    }
    info(*model, *as_json);
  });
}

}  // namespace latent::cli
