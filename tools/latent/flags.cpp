#include "flags.hpp"

#include <unistd.h>

#include <cstdio>
#include <set>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/fit.hpp>
#include <latent/system_info.hpp>

#include "model_help.hpp"

namespace latent::cli {

namespace {

char parse_delimiter(const std::string& s) {
  if (s.empty()) return 0;
  if (s == "\\t" || s == "tab" || s == "\t") return '\t';
  if (s.size() == 1) return s[0];
  throw Error(ErrorKind::InvalidArgument,
              fmt::format("delimiter \"{}\" must be one character or \"tab\"", s));
}

}  // namespace

void DataFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--data", load.data,
                 "Data: a MovieLens directory (ml-100k, ml-latest), a CSV/TSV or user-lines "
                 "file, or a quoted glob of CSV/TSV part files read as one table "
                 "('logs/part-*.csv'); gzip files are read as such")
      ->required();
  cmd.add_option("--format", format,
                 "Data format: auto, ml-100k, ml-latest, csv, user-lines (\"user item item ...\" "
                 "lines; never detected by auto)")
      ->capture_default_str();
  cmd.add_option("--delimiter", delimiter,
                 "CSV field delimiter (one character, or 'tab'); sniffed when omitted");
  cmd.add_flag("--no-header", no_header, "The CSV file has no header row");
  cmd.add_option("--user-col", load.user_col, "User column: a header name or 0-based number");
  cmd.add_option("--item-col", load.item_col, "Item column: a header name or 0-based number");
  cmd.add_option("--rating-col", load.rating_col, "Rating column: a header name or 0-based number");
  cmd.add_option("--timestamp-col", load.timestamp_col,
                 "Timestamp column: a header name or 0-based number");
  cmd.add_option("--weight-col", load.weight_col,
                 "Weight column (scales each pair's loss): a header name or 0-based number");
  cmd.add_option("--items", load.items_file,
                 "Item metadata CSV/TSV joined on the item id (titles)");
  cmd.add_option("--items-id-col", load.items_id_col, "Item id column of --items");
  cmd.add_option("--items-title-col", load.items_title_col, "Title column of --items");
  rating_above_option = cmd.add_option("--rating-above", rating_above,
                                       "Keep rows with rating > T (all rows when omitted)");
  cmd.add_option("--item-key", item_key, "Items are keyed by: id, title")->capture_default_str();
}

LoadOptions DataFlags::options() const {
  LoadOptions o = load;
  o.format = parse_data_format(format);
  o.delimiter = parse_delimiter(delimiter);
  o.header = !no_header;
  if (rating_above_option != nullptr && rating_above_option->count() > 0)
    o.rating_above = rating_above;
  o.item_key = parse_item_key(item_key);
  return o;
}

void FeatureFlags::add_to(CLI::App& cmd) {
  for (auto [side, decl, file, id, example] :
       {std::tuple("user", &user, &user_file, &user_id, "age:numeric,gender:categorical"),
        std::tuple("item", &item, &item_file, &item_id, "genres:multi,year:numeric:buckets=10")}) {
    cmd.add_option(fmt::format("--{}-features", side), *decl,
                   fmt::format("Side features of the {}s to train on, NAME:TYPE[:OPTION=VALUE] "
                               "separated by commas ({}; types: categorical, multi, numeric, "
                               "timestamp, text); from --{}-features-file, or from MovieLens's "
                               "own attributes (docs/features.md)",
                               side, example, side));
    cmd.add_option(fmt::format("--{}-features-file", side), *file,
                   fmt::format("CSV/TSV with a header and one row per {} (gzip or not)", side));
    cmd.add_option(fmt::format("--{}-features-id", side), *id,
                   fmt::format("The {} id column of --{}-features-file: a header name or 0-based "
                               "number (default: the first column)",
                               side, side));
  }
  cmd.add_option("--context-features", context,
                 "Context features of each query, taken from each pair (timestamp:timestamp: "
                 "the time of the rating, as TFRS's context-features tutorial; another name "
                 "is the data's column of that name, as device:categorical); the user tower "
                 "reads them after the user features (docs/features.md)");
}

namespace {

std::optional<FeatureTable> side_table(const std::string& decl, const std::string& file,
                                       const std::string& id, FeatureSide side,
                                       const std::filesystem::path& data) {
  const char* who = side == FeatureSide::Users ? "user" : "item";
  if (decl.empty()) {
    if (!file.empty() || !id.empty()) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("--{}-features-file and --{}-features-id need --{}-features, the "
                              "columns to read (NAME:TYPE,...)",
                              who, who, who));
    }
    return std::nullopt;
  }
  return load_side_features(decl, side, file, id, data);
}

}  // namespace

FeatureFlags::Loaded FeatureFlags::load(const std::filesystem::path& data) const {
  return {side_table(user, user_file, user_id, FeatureSide::Users, data),
          side_table(item, item_file, item_id, FeatureSide::Items, data),
          parse_feature_columns(context)};
}

std::vector<FeatureValue> parse_feature_values(const std::vector<std::string>& args,
                                               const std::string& flag) {
  std::vector<FeatureValue> out;
  for (const std::string& a : args) {
    const auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error(ErrorKind::InvalidArgument,
                  fmt::format("{} \"{}\": expected NAME=VALUE (such as age=25)", flag, a));
    }
    out.push_back({a.substr(0, eq), a.substr(eq + 1)});
  }
  return out;
}

void ModelFlags::add_to(CLI::App& cmd) {
  model_option_ =
      cmd.add_option("--model", model, fmt::format("Model: {}", fmt::join(model_names(), ", ")))
          ->capture_default_str();
  // One flag per name across models; the help footer lists them by model,
  // so the flags themselves stay out of the generic option list.
  std::set<std::string> added;
  for (const ModelSpec* spec : model_specs()) {
    for (const ParamSpec& p : spec->all_params()) {
      const std::string flag = p.flag();
      if (!added.insert(flag).second) continue;
      if (p.type == ParamType::Bool) {
        const bool negated = flag.rfind("--no-", 0) == 0;
        given_.push_back({cmd.add_flag(flag)->group(""), p.name, negated ? "false" : "true"});
      } else {
        given_.push_back({cmd.add_option(flag, values_[p.name])->group(""), p.name, ""});
      }
    }
  }
  cmd.footer(model_params_help());
}

Params ModelFlags::params() const {
  Params p;
  for (const auto& g : given_) {
    if (g.option->count() > 0) p.set(g.name, g.value.empty() ? values_.at(g.name) : g.value);
  }
  return p;
}

void RankingFlags::add_to(CLI::App& cmd) {
  cmd.add_flag("--exclude-rated", exclude_rated,
               "Also leave out of the ranking the items each user rated at or below "
               "--rating-above (seen, as --exclude-seen leaves them out; the usual protocol, and "
               "other libraries' figures, rank them)");
}

void RankingFlags::check(const DataFlags& data) const {
  if (exclude_rated && !data.options().rating_above) {
    throw Error(ErrorKind::InvalidArgument,
                "--exclude-rated leaves out the items rated at or below --rating-above, and no "
                "--rating-above was given");
  }
}

const Interactions* RankingFlags::also_excluded(const Dataset& data) const {
  return exclude_rated ? &data.seen_only : nullptr;
}

void SplitFlags::add_to(CLI::App& cmd, bool with_files) {
  choosers.push_back(
      cmd.add_option("--split", method, "How to split off the test part: random, per-user, last-k")
          ->capture_default_str());
  choosers.push_back(cmd.add_option("--test-fraction", fraction,
                                    "Fraction held out for test: of all pairs (random) or of "
                                    "each user's items (per-user)")
                         ->capture_default_str());
  choosers.push_back(
      cmd.add_option("--last-k", last_k, "Interactions per user held out by time (last-k)")
          ->capture_default_str());
  if (with_files) {
    choosers.push_back(
        cmd.add_option("--split-in", split_in,
                       "Read the split from DIR/train.csv and DIR/test.csv instead of splitting"));
    cmd.add_option("--split-out", split_out, "Also write the split to DIR/train.csv, DIR/test.csv");
  }
}

void SplitFlags::refuse_choosers(std::string_view replacement) const {
  for (const CLI::Option* chooser : choosers) {
    if (chooser->count() == 0) continue;
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{} chooses how to split --data, and {} gives the test part instead "
                            "of a split: use one or the other",
                            chooser->get_name(), replacement));
  }
}

SplitSpec SplitFlags::spec(std::uint64_t seed) const {
  SplitSpec s;
  s.method = parse_split_method(method);
  s.fraction = fraction;
  s.k = last_k;
  s.seed = seed;
  return s;
}

Split SplitFlags::make(const Dataset& data, std::uint64_t seed) const {
  Split s;
  if (!split_in.empty()) {
    s = read_split(split_in, data.users, data.items);
    require_train_for_test_users(s, data.users);
  } else {
    s = make_split(data.interactions, spec(seed), data.users);
  }
  if (!split_out.empty()) write_split(split_out, s, data.users, data.items);
  return s;
}

void ProgressFlags::add_to(CLI::App& cmd) {
  auto* q = cmd.add_flag("-q,--quiet", quiet, "No progress output");
  cmd.add_flag("-v,--verbose", verbose,
               "A progress line for every epoch, after one on the kernels and threads in use")
      ->excludes(q);
}

ProgressBar ProgressFlags::bar() const {
  if (!verbose) return ProgressBar(stderr);
  fmt::print(stderr, "latent: {}\n", system_info().summary());
  return ProgressBar(stderr, isatty(fileno(stderr)) != 0, 0.0);
}

}  // namespace latent::cli
