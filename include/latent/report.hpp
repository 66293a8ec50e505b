#pragma once
// The model report (`latent report`): what a person looks at to judge a
// trained model, gathered as one JSON document and rendered as one
// self-contained HTML page (inline script and styles, no network).
//
// The document holds:
// - "model": file, kind, config, vocabulary sizes, dim, training metadata;
// - "history": the per-epoch reports stored in the model file (loss,
//   sampled accuracy, train/test FactorizedTopK), empty for closed-form models;
// - "evaluations": the results of `latent evaluate --json` files, one per model;
// - "popularity": item popularity from the model's seen pairs (item_popularity);
// - "coverage": the share of the catalog in some user's top-K (recommendation_coverage);
// - "map": the most popular items' embeddings projected on their first two
//   principal components (principal_components), with ids, titles and counts.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <latent/interactions.hpp>
#include <latent/matrix.hpp>
#include <latent/recommender.hpp>

namespace latent {

// Principal component analysis of the rows of x (n x d; taken by value and
// centred in place: move it in to save a copy): the top `components`
// eigenvectors of the rows' covariance C = (1/n) Xc' Xc, by subspace
// iteration with components + 8 vectors (at most d) and a Rayleigh-Ritz step
// per iteration, on the implicit covariance (C is never formed): each
// iteration costs two sgemm passes over x, about 4 * n * d * (components + 8)
// flops. Stops when every wanted Ritz vector v moved by 1 - |cos| < tolerance
// in one iteration, or after max_iterations. Deterministic (a fixed start).
struct Projection {
  Matrix points;                 // n x components: each row's coordinates on the axes
  Matrix axes;                   // components x d, unit length, orthogonal; each axis
                                 // signed so its largest-magnitude entry is positive
  std::vector<double> variance;  // variance of the points along each axis, descending
  double total_variance = 0;     // of the rows over all d directions (trace of C)
  int iterations = 0;            // iterations run
};
// components in [1, d]; n >= 1. Axes whose variance is 0 (fewer independent
// directions than components) are still unit length and orthogonal to the
// others, with every point at 0 on them. Float precision: the sgemm passes
// are float32, so axes and variances are good to about 1e-6 relative.
// Throws InvalidArgument for components outside [1, d] or an empty x.
Projection principal_components(Matrix x, int components = 2, int max_iterations = 300,
                                double tolerance = 1e-8);

// Interactions per item: counts[i] is the number of users whose row of
// `seen` holds item i (seen is deduplicated, so one per user), for every
// item row (OOV row 0 included, normally 0).
struct Popularity {
  std::vector<std::int64_t> counts;  // seen.cols() entries
  std::int64_t interactions = 0;     // sum of counts over known items
  std::int64_t known_items = 0;      // seen.cols() - 1
  std::int64_t items_without = 0;    // known items with count 0
  // Share of the interactions on the ceil(1%) and ceil(10%) most popular
  // known items (at least one item each); 0 when there are no interactions.
  double top_1pct_share = 0;
  double top_10pct_share = 0;
  // Known item rows, most popular first (ties: lower row first).
  std::vector<std::int32_t> ranked;
};
Popularity item_popularity(const CsrMatrix& seen);

// The catalog coverage of the model's recommendations: every known user's
// top-k (through Recommender::recommend, `batch_users` users at a time),
// and the known items that appear in at least one of those lists.
struct RecommendationCoverage {
  int k = 0;  // after effective_k
  bool exclude_seen = true;
  std::int64_t users = 0;                       // known users ranked
  std::int64_t items_recommended = 0;           // distinct known items in some top-k
  double coverage = 0;                          // items_recommended / known items
  std::vector<std::int64_t> times_recommended;  // per item row: top-k lists holding it
};
// Throws as Recommender::recommend does (k < 1); batch_users must be >= 1.
RecommendationCoverage recommendation_coverage(const Recommender& model, int k, bool exclude_seen,
                                               int threads = 0, std::int64_t batch_users = 4096);

// Reads and checks a file written by `latent evaluate --json`: a JSON object
// whose "at_k" is a non-empty array of objects, each with an integer "k" >= 1
// and numeric (or null) metrics among recall, precision, ndcg, map,
// hit_rate and factorized_top_k; "model", when present, a string. Throws
// Error naming the file and what is wrong: NotFound / IO / InvalidArgument
// as reading it fails, InvalidArgument when it is not such JSON.
nlohmann::json read_evaluation_json(const std::filesystem::path& path);

struct ReportOptions {
  std::string model_file;  // shown as the model's name
  int k = 10;              // the coverage's top-k
  bool exclude_seen = true;
  // The map shows at most this many items, the most popular ones (>= 1).
  std::int64_t max_map_items = 5000;
  std::vector<std::filesystem::path> evaluations;  // `latent evaluate --json` files
  int threads = 0;
};

// The report document (see the top of this file). Throws as its parts do,
// and InvalidArgument for max_map_items < 1.
nlohmann::json build_report(const Recommender& model, const ReportOptions& options);

// The page: a self-contained HTML document whose inline script draws the
// report's charts as SVG from the document embedded as JSON. When its script
// has run without an exception the <body> carries data-rendered="true";
// an uncaught error is written into the page (#errors) and data-error.
std::string render_report_html(const nlohmann::json& report);

// Text for HTML element content or attribute values: & < > " ' escaped.
std::string html_escape(std::string_view text);
// JSON text that is safe inside <script type="application/json">: '<', '>'
// and '&' as \u escapes (so "</script>" or "<!--" in a title cannot end or
// alter the element), U+2028/U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
std::string json_for_script(const nlohmann::json& value);

}  // namespace latent
