#include <latent/report.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/json_depth.hpp>

#include "detail/blas.hpp"
#include "detail/csv.hpp"

namespace latent {

namespace {

double dot(std::span<const double> a, std::span<const double> b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Gram-Schmidt, twice for stability: v minus its projection on each of
// `basis`, then scaled to unit length. False when nothing is left of v.
bool orthonormalize(std::vector<double>& v, const std::vector<std::vector<double>>& basis) {
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& b : basis) {
      const double p = dot(v, b);
      for (std::size_t i = 0; i < v.size(); ++i) v[i] -= p * b[i];
    }
  }
  const double norm = std::sqrt(dot(v, v));
  if (!(norm > 1e-300)) return false;
  for (double& x : v) x /= norm;
  return true;
}

// A unit vector orthogonal to `basis`: the first standard basis vector
// that has something left after projection (there is one while basis
// spans fewer than d dimensions).
std::vector<double> orthogonal_unit(std::size_t d, const std::vector<std::vector<double>>& basis) {
  for (std::size_t j = 0; j < d; ++j) {
    std::vector<double> e(d, 0.0);
    e[j] = 1.0;
    if (orthonormalize(e, basis)) return e;
  }
  return std::vector<double>(d, 0.0);  // unreachable for basis.size() < d
}

// Eigen-decomposition of a small symmetric l x l matrix (row-major) by
// cyclic Jacobi rotations: eigenvalues descending, and the matching
// eigenvectors as the columns of the returned l x l matrix.
std::pair<std::vector<double>, std::vector<double>> symmetric_eigen(std::vector<double> a,
                                                                    std::size_t l) {
  std::vector<double> v(l * l, 0.0);
  for (std::size_t i = 0; i < l; ++i) v[i * l + i] = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (std::size_t p = 0; p < l; ++p)
      for (std::size_t q = p + 1; q < l; ++q) off += a[p * l + q] * a[p * l + q];
    if (off < 1e-30) break;
    for (std::size_t p = 0; p < l; ++p) {
      for (std::size_t q = p + 1; q < l; ++q) {
        const double apq = a[p * l + q];
        if (std::abs(apq) < 1e-300) continue;
        const double theta = (a[q * l + q] - a[p * l + p]) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1);
        const double sn = t * c;
        for (std::size_t k = 0; k < l; ++k) {  // A <- A J (columns p, q)
          const double akp = a[k * l + p], akq = a[k * l + q];
          a[k * l + p] = c * akp - sn * akq;
          a[k * l + q] = sn * akp + c * akq;
        }
        for (std::size_t k = 0; k < l; ++k) {  // A <- J' A (rows p, q)
          const double apk = a[p * l + k], aqk = a[q * l + k];
          a[p * l + k] = c * apk - sn * aqk;
          a[q * l + k] = sn * apk + c * aqk;
        }
        for (std::size_t k = 0; k < l; ++k) {  // V <- V J
          const double vkp = v[k * l + p], vkq = v[k * l + q];
          v[k * l + p] = c * vkp - sn * vkq;
          v[k * l + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<std::size_t> order(l);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return a[x * l + x] > a[y * l + y]; });
  std::vector<double> values(l);
  std::vector<double> vectors(l * l);
  for (std::size_t j = 0; j < l; ++j) {
    values[j] = a[order[j] * l + order[j]];
    for (std::size_t k = 0; k < l; ++k) vectors[k * l + j] = v[k * l + order[j]];
  }
  return {values, vectors};
}

}  // namespace

Projection principal_components(Matrix x, int components, int max_iterations, double tolerance) {
  const std::int64_t n = x.rows();
  const std::int64_t d = x.cols();
  if (n < 1 || d < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("principal components of an empty {}x{} matrix", n, d));
  }
  if (components < 1 || components > d) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("principal components: {} components of {}-dimensional rows, "
                            "expected 1 to {}",
                            components, d, d));
  }
  const auto du = static_cast<std::size_t>(d);
  const auto nd = static_cast<double>(n);
  std::vector<double> mean(du, 0.0);
  for (std::int64_t r = 0; r < n; ++r) {
    const auto row = x.row(r);
    for (std::size_t j = 0; j < du; ++j) mean[j] += row[j];
  }
  for (double& m : mean) m /= nd;
  double total = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    const auto row = x.row(r);
    for (std::size_t j = 0; j < du; ++j) {
      const double centred = row[j] - mean[j];
      total += centred * centred;
      row[j] = static_cast<float>(centred);
    }
  }

  // Subspace iteration with a few more vectors than asked for, and a
  // Rayleigh-Ritz step each time: Ritz vector k converges at the rate
  // lambda_{l+1} / lambda_k, so near-equal leading eigenvalues (common in
  // embeddings) do not stall it as plain power iteration would. Each
  // iteration is two sgemm passes over x: W = X V' (n x l) and
  // Y = W' X (l x d), with C = X'X / n never formed.
  const auto c = static_cast<std::size_t>(components);
  const std::size_t l = std::min<std::size_t>(du, c + 8);
  const auto li = static_cast<std::int64_t>(l);
  std::vector<std::vector<double>> basis;  // l orthonormal rows of length d
  for (std::size_t k = 0; k < l; ++k) {
    // A fixed, generic start: no axis-aligned vector, which could be
    // orthogonal to the leading eigenvector of a structured matrix.
    std::vector<double> v(du);
    for (std::size_t j = 0; j < du; ++j) {
      v[j] = std::sin(1.0 + static_cast<double>(j) * 0.7548776662 + static_cast<double>(k) * 1.9);
    }
    if (!orthonormalize(v, basis)) v = orthogonal_unit(du, basis);
    basis.push_back(std::move(v));
  }
  std::vector<float> v_rows(l * du);
  std::vector<float> w(static_cast<std::size_t>(n) * l);
  std::vector<float> ritz_w(static_cast<std::size_t>(n) * l);
  std::vector<float> y(l * du);
  std::vector<std::vector<double>> ritz(l, std::vector<double>(du));
  std::vector<std::vector<double>> previous;
  std::vector<double> values;
  Projection out;
  while (true) {
    ++out.iterations;
    for (std::size_t k = 0; k < l; ++k)
      for (std::size_t j = 0; j < du; ++j) v_rows[k * du + j] = static_cast<float>(basis[k][j]);
    detail::sgemm_nt(n, li, d, x.data(), d, v_rows.data(), d, w.data(), li);
    // B = V C V' = W'W / n, and its eigenvectors R: the Ritz vectors are R'V
    // and their projections W R.
    std::vector<double> b(l * l, 0.0);
    for (std::int64_t r = 0; r < n; ++r) {
      const float* wr = w.data() + static_cast<std::size_t>(r) * l;
      for (std::size_t p = 0; p < l; ++p)
        for (std::size_t q = p; q < l; ++q) b[p * l + q] += static_cast<double>(wr[p]) * wr[q];
    }
    for (std::size_t p = 0; p < l; ++p) {
      for (std::size_t q = p; q < l; ++q) b[q * l + p] = b[p * l + q] /= nd;
    }
    std::vector<double> rotation;
    std::tie(values, rotation) = symmetric_eigen(std::move(b), l);
    for (std::size_t k = 0; k < l; ++k) {
      std::fill(ritz[k].begin(), ritz[k].end(), 0.0);
      for (std::size_t i = 0; i < l; ++i) {
        const double rik = rotation[i * l + k];
        for (std::size_t j = 0; j < du; ++j) ritz[k][j] += rik * basis[i][j];
      }
    }
    for (std::int64_t r = 0; r < n; ++r) {
      const float* wr = w.data() + static_cast<std::size_t>(r) * l;
      float* out_row = ritz_w.data() + static_cast<std::size_t>(r) * l;
      for (std::size_t k = 0; k < l; ++k) {
        double sum = 0;
        for (std::size_t i = 0; i < l; ++i) sum += wr[i] * rotation[i * l + k];
        out_row[k] = static_cast<float>(sum);
      }
    }
    double change = previous.empty() ? 1.0 : 0.0;
    for (std::size_t k = 0; k < c && !previous.empty(); ++k) {
      change = std::max(change, 1.0 - std::abs(dot(ritz[k], previous[k])));
    }
    if (change < tolerance || out.iterations >= max_iterations) break;
    previous.assign(ritz.begin(), ritz.begin() + static_cast<std::ptrdiff_t>(c));
    // Y = (W R)' X: row k is C times Ritz vector k (times n), orthonormalised.
    detail::sgemm_tn(li, d, n, ritz_w.data(), li, x.data(), d, y.data(), d);
    basis.clear();
    for (std::size_t k = 0; k < l; ++k) {
      std::vector<double> next(y.begin() + static_cast<std::ptrdiff_t>(k * du),
                               y.begin() + static_cast<std::ptrdiff_t>((k + 1) * du));
      if (!orthonormalize(next, basis)) next = orthogonal_unit(du, basis);
      basis.push_back(std::move(next));
    }
  }

  out.axes = Matrix(components, d);
  out.points = Matrix(n, components);
  out.total_variance = total / nd;
  for (std::size_t k = 0; k < c; ++k) {
    std::vector<double>& v = ritz[k];
    const auto largest = std::max_element(
        v.begin(), v.end(), [](double a, double b) { return std::abs(a) < std::abs(b); });
    const double sign = *largest < 0 ? -1.0 : 1.0;
    for (std::size_t j = 0; j < du; ++j) {
      out.axes.row(static_cast<std::int64_t>(k))[j] = static_cast<float>(sign * v[j]);
    }
    double sum_squares = 0;
    for (std::int64_t r = 0; r < n; ++r) {
      const double coordinate = sign * ritz_w[static_cast<std::size_t>(r) * l + k];
      out.points.row(r)[k] = static_cast<float>(coordinate);
      sum_squares += coordinate * coordinate;
    }
    out.variance.push_back(sum_squares / nd);
  }
  return out;
}

Popularity item_popularity(const CsrMatrix& seen) {
  Popularity p;
  p.counts.assign(static_cast<std::size_t>(seen.cols()), 0);
  for (const std::int32_t item : seen.indices()) ++p.counts[static_cast<std::size_t>(item)];
  p.known_items = std::max<std::int64_t>(seen.cols() - 1, 0);
  for (std::int32_t i = 1; i < seen.cols(); ++i) {
    const std::int64_t count = p.counts[static_cast<std::size_t>(i)];
    p.interactions += count;
    p.items_without += count == 0;
    p.ranked.push_back(i);
  }
  std::stable_sort(p.ranked.begin(), p.ranked.end(), [&](std::int32_t a, std::int32_t b) {
    return p.counts[static_cast<std::size_t>(a)] > p.counts[static_cast<std::size_t>(b)];
  });
  const auto share_of_top = [&](double fraction) {
    if (p.interactions == 0) return 0.0;
    const auto top = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(std::ceil(fraction * static_cast<double>(p.known_items))));
    std::int64_t sum = 0;
    for (std::int64_t r = 0; r < top && r < p.known_items; ++r) {
      sum += p.counts[static_cast<std::size_t>(p.ranked[static_cast<std::size_t>(r)])];
    }
    return static_cast<double>(sum) / static_cast<double>(p.interactions);
  };
  p.top_1pct_share = share_of_top(0.01);
  p.top_10pct_share = share_of_top(0.10);
  return p;
}

RecommendationCoverage recommendation_coverage(const Recommender& model, int k, bool exclude_seen,
                                               int threads, std::int64_t batch_users) {
  if (batch_users < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("coverage: batch_users must be >= 1, got {}", batch_users));
  }
  const ModelData& m = model.model();
  RecommendationCoverage out;
  out.k = effective_k(k, m.items.num_known());
  out.exclude_seen = exclude_seen;
  out.times_recommended.assign(static_cast<std::size_t>(m.items.size()), 0);
  const std::vector<std::int32_t> users = model.known_user_rows();
  out.users = static_cast<std::int64_t>(users.size());
  for (std::size_t first = 0; first < users.size();
       first += static_cast<std::size_t>(batch_users)) {
    const std::size_t count = std::min(users.size() - first, static_cast<std::size_t>(batch_users));
    const TopK top =
        model.recommend(std::span(users).subspan(first, count), out.k, exclude_seen, threads);
    for (const std::int32_t item : top.items) {
      if (item > 0) ++out.times_recommended[static_cast<std::size_t>(item)];
    }
  }
  out.items_recommended = std::count_if(out.times_recommended.begin() + 1,
                                        out.times_recommended.end(), [](auto t) { return t > 0; });
  if (m.items.num_known() > 0) {
    out.coverage =
        static_cast<double>(out.items_recommended) / static_cast<double>(m.items.num_known());
  }
  return out;
}

nlohmann::json read_evaluation_json(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::string text;
  try {
    text = detail::read_file(path);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("evaluation file {}", e.what()));
  }
  const auto wrong = [&](const std::string& why) {
    return Error(
        ErrorKind::InvalidArgument,
        fmt::format("evaluation file {}: not a result of `latent evaluate --json`: {}", name, why));
  };
  if (json_depth(text) > kMaxJsonDepth) {
    throw wrong(fmt::format("nested deeper than {} levels", kMaxJsonDepth));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("evaluation file {}: not valid JSON: {}", name, e.what()));
  }
  if (!j.is_object()) throw wrong("the top level is not an object");
  if (j.contains("model") && !j["model"].is_string()) throw wrong("\"model\" is not a string");
  if (!j.contains("at_k") || !j["at_k"].is_array() || j["at_k"].empty()) {
    throw wrong("no \"at_k\" array of metrics");
  }
  static constexpr std::array<const char*, 6> kMetrics = {
      "recall", "precision", "ndcg", "map", "hit_rate", "factorized_top_k"};
  for (std::size_t i = 0; i < j["at_k"].size(); ++i) {
    const nlohmann::json& row = j["at_k"][i];
    if (!row.is_object()) throw wrong(fmt::format("at_k[{}] is not an object", i));
    if (!row.contains("k") || !row["k"].is_number_integer() || row["k"].get<std::int64_t>() < 1) {
      throw wrong(fmt::format("at_k[{}] has no integer \"k\" >= 1", i));
    }
    int metrics = 0;
    for (const char* metric : kMetrics) {
      if (!row.contains(metric)) continue;
      if (!row[metric].is_number() && !row[metric].is_null()) {
        throw wrong(fmt::format("at_k[{}].{} is not a number", i, metric));
      }
      ++metrics;
    }
    if (metrics == 0) {
      throw wrong(
          fmt::format("at_k[{}] has none of recall, precision, ndcg, map, hit_rate, "
                      "factorized_top_k",
                      i));
    }
  }
  if (j.contains("coverage") && !j["coverage"].is_number() && !j["coverage"].is_null()) {
    throw wrong("\"coverage\" is not a number");
  }
  return j;
}

namespace {

// The long-tail curve at about `points` ranks (every rank of a small
// catalog): [rank, count at that rank, share of interactions on ranks
// 1..rank], from [0, -, 0].
nlohmann::json long_tail(const Popularity& p, std::int64_t points = 400) {
  nlohmann::json curve = nlohmann::json::array();
  const std::int64_t n = p.known_items;
  std::int64_t sum = 0;
  std::int64_t next = 1;
  for (std::int64_t r = 1; r <= n; ++r) {
    const std::int64_t count =
        p.counts[static_cast<std::size_t>(p.ranked[static_cast<std::size_t>(r - 1)])];
    sum += count;
    if (r == next || r == n) {
      const double share =
          p.interactions > 0 ? static_cast<double>(sum) / static_cast<double>(p.interactions) : 0;
      curve.push_back({r, count, share});
      next = std::max(r + 1, static_cast<std::int64_t>(std::ceil(static_cast<double>(n) *
                                                                 static_cast<double>(curve.size()) /
                                                                 static_cast<double>(points))));
    }
  }
  return curve;
}

nlohmann::json map_json(const Recommender& model, const Popularity& popularity,
                        std::int64_t max_items) {
  const ModelData& m = model.model();
  const std::int64_t shown = std::min<std::int64_t>(max_items, popularity.known_items);
  nlohmann::json out{{"items", shown},
                     {"known_items", popularity.known_items},
                     {"max_items", max_items},
                     {"capped", shown < popularity.known_items}};
  if (shown == 0 || m.item_embeddings.cols() == 0) return out;
  const std::int64_t d = m.item_embeddings.cols();
  Matrix rows(shown, d);
  for (std::int64_t r = 0; r < shown; ++r) {
    const auto src = m.item_embeddings.row(popularity.ranked[static_cast<std::size_t>(r)]);
    std::copy(src.begin(), src.end(), rows.row(r).begin());
  }
  const int components = static_cast<int>(std::min<std::int64_t>(2, d));
  const Projection pca = principal_components(std::move(rows), components);
  nlohmann::json x = nlohmann::json::array();
  nlohmann::json y = nlohmann::json::array();
  nlohmann::json ids = nlohmann::json::array();
  nlohmann::json titles = nlohmann::json::array();
  nlohmann::json counts = nlohmann::json::array();
  for (std::int64_t r = 0; r < shown; ++r) {
    const std::int32_t item = popularity.ranked[static_cast<std::size_t>(r)];
    x.push_back(pca.points.row(r)[0]);
    y.push_back(components > 1 ? pca.points.row(r)[1] : 0.0f);
    ids.push_back(std::string(model.item_id(item)));
    titles.push_back(std::string(model.item_title(item)));
    counts.push_back(popularity.counts[static_cast<std::size_t>(item)]);
  }
  out["variance"] = pca.variance;
  out["total_variance"] = pca.total_variance;
  out["pca_iterations"] = pca.iterations;
  out["x"] = std::move(x);
  out["y"] = std::move(y);
  out["ids"] = std::move(ids);
  out["titles"] = std::move(titles);
  out["counts"] = std::move(counts);
  return out;
}

}  // namespace

nlohmann::json build_report(const Recommender& model, const ReportOptions& options) {
  if (options.max_map_items < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("the map's item limit must be >= 1, got {}", options.max_map_items));
  }
  effective_k(options.k, 1);  // the k rule's error before any work
  // Every evaluation file is checked before the model's work starts.
  nlohmann::json evaluations = nlohmann::json::array();
  for (const auto& path : options.evaluations) {
    nlohmann::json result = read_evaluation_json(path);
    evaluations.push_back({{"file", path.filename().string()},
                           {"label", path.stem().string()},
                           {"result", std::move(result)}});
  }
  const ModelData& m = model.model();
  nlohmann::json training = m.training.is_object() ? m.training : nlohmann::json::object();
  nlohmann::json history = training.value("epochs", nlohmann::json::array());
  training.erase("epochs");

  const Popularity popularity = item_popularity(m.seen);
  const RecommendationCoverage coverage =
      recommendation_coverage(model, options.k, options.exclude_seen, options.threads);
  // How concentrated the recommendations are on the popular items: the
  // share of top-k slots that go to the 10% most popular.
  const auto top10 = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(0.1 * static_cast<double>(popularity.known_items))));
  std::int64_t slots = 0;
  std::int64_t slots_on_top10 = 0;
  for (std::size_t r = 0; r < popularity.ranked.size(); ++r) {
    const auto t = coverage.times_recommended[static_cast<std::size_t>(popularity.ranked[r])];
    slots += t;
    if (static_cast<std::int64_t>(r) < top10) slots_on_top10 += t;
  }

  return {
      {"format", "latent-report"},
      {"version", 1},
      {"model",
       {{"file", options.model_file},
        {"kind", m.kind},
        {"config", m.config},
        {"users", m.users.num_known()},
        {"items", m.items.num_known()},
        {"dim", m.item_embeddings.cols()},
        {"titles", !m.item_titles.empty()},
        {"training", std::move(training)}}},
      {"history", std::move(history)},
      {"evaluations", std::move(evaluations)},
      {"popularity",
       {{"source", "seen pairs stored in the model file"},
        {"interactions", popularity.interactions},
        {"known_items", popularity.known_items},
        {"items_without", popularity.items_without},
        {"top_1pct_share", popularity.top_1pct_share},
        {"top_10pct_share", popularity.top_10pct_share},
        {"curve", long_tail(popularity)}}},
      {"coverage",
       {{"k", coverage.k},
        {"exclude_seen", coverage.exclude_seen},
        {"users", coverage.users},
        {"items_recommended", coverage.items_recommended},
        {"known_items", popularity.known_items},
        {"coverage", coverage.coverage},
        {"slots", slots},
        {"top_10pct_slot_share",
         slots > 0 ? static_cast<double>(slots_on_top10) / static_cast<double>(slots) : 0.0}}},
      {"map", map_json(model, popularity, options.max_map_items)},
  };
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string json_for_script(const nlohmann::json& value) {
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // Outside strings these characters do not occur in JSON text, so each
    // one met is inside a string, where an escape means the same.
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < text.size() && text[i + 1] == '\x80' &&
               (text[i + 2] == '\xA8' || text[i + 2] == '\xA9')) {
      out += text[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace latent
