#include "rest_api.hpp"

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <latent/error.hpp>
#include <latent/json_depth.hpp>

#include "json_text.hpp"
#include "openapi.hpp"

namespace latent::server {

using nlohmann::json;

namespace {

// A client error found while reading a request: status and message (and
// for a 405, the Allow header: the methods the path takes).
struct HttpError {
  int status;
  std::string message;
  std::string allow = {};
};

[[noreturn]] void fail(int status, std::string message) {
  throw HttpError{status, std::move(message)};
}

const char* json_type(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_float:
      return "a number with a fraction";
    default:
      return "a number";
  }
}

// JSON text of an answer. Ids come from users' files and may not be UTF-8
// (a Latin-1 CSV): such bytes become U+FFFD instead of an exception.
std::string dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// Scores and embeddings are float32: print each as its shortest decimal
// (0.3, not 0.30000001192092896) by handing JSON the double nearest to it.
double json_float(float f) {
  const std::string s = fmt::format("{}", f);
  return std::strtod(s.c_str(), nullptr);
}

json float_array(std::span<const float> values) {
  json out = json::array();
  for (float v : values) out.push_back(json_float(v));
  return out;
}

// An id: a JSON string, or an integer written as its decimal text
// (MovieLens user ids are numbers; TF clients send them as strings).
std::string id_value(const json& v, const std::string& where) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  fail(400, fmt::format("{} must be a string or integer id, got {}", where, json_type(v)));
}

std::vector<std::string> id_list(const json& v, const std::string& field, const Limits& limits) {
  if (!v.is_array())
    fail(400, fmt::format("\"{}\" must be a list of ids, got {}", field, json_type(v)));
  if (v.empty()) fail(400, fmt::format("\"{}\" is empty", field));
  if (v.size() > limits.max_ids) {
    fail(400, fmt::format("\"{}\" has {} ids; the limit is {} per request (--max_ids_per_request)",
                          field, v.size(), limits.max_ids));
  }
  std::vector<std::string> ids;
  ids.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i)
    ids.push_back(id_value(v[i], fmt::format("{}[{}]", field, i)));
  return ids;
}

// Refuses a body whose arrays and objects nest deeper than kMaxJsonDepth
// (json_depth.hpp; ours take 3) before it is parsed: a tree that deep costs
// memory and time for nothing, and code that walks it recursively could
// overflow the stack.
void check_nesting(std::string_view body) {
  if (json_depth(body) > kMaxJsonDepth) {
    fail(400, fmt::format("malformed JSON: arrays and objects nested deeper than {} levels",
                          kMaxJsonDepth));
  }
}

json parse_body(std::string_view body) {
  check_nesting(body);
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number beyond a double (1e999).
    fail(400, fmt::format("malformed JSON: {}", e.what()));
  }
  if (!doc.is_object())
    fail(400, fmt::format("the request body must be a JSON object, got {}", json_type(doc)));
  return doc;
}

void allow_fields(const json& doc, std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : doc.items()) {
    bool ok = false;
    for (auto a : allowed) ok = ok || key == a;
    if (!ok) {
      fail(400, fmt::format("unknown field \"{}\" (this endpoint takes: {})", key,
                            fmt::join(allowed, ", ")));
    }
  }
}

int read_k(const json& doc, int default_k, const Limits& limits) {
  if (!doc.contains("k")) return default_k;
  const json& v = doc["k"];
  if (!v.is_number_integer())
    fail(400, fmt::format("\"k\" must be an integer, got {}", json_type(v)));
  const auto k = v.get<std::int64_t>();
  if (k <= 0 || k > limits.max_k) {
    fail(400, fmt::format("\"k\" must be in [1, {}] (--max_k), got {}", limits.max_k, k));
  }
  return static_cast<int>(k);
}

bool read_bool(const json& doc, const char* field) {
  if (!doc.contains(field)) return false;
  const json& v = doc[field];
  if (!v.is_boolean())
    fail(400, fmt::format("\"{}\" must be true or false, got {}", field, json_type(v)));
  return v.get<bool>();
}

std::vector<std::int32_t> item_rows(const Recommender& model, const json& doc, const char* field,
                                    const Limits& limits) {
  std::vector<std::int32_t> rows;
  if (!doc.contains(field)) return rows;
  for (const auto& id : id_list(doc[field], field, limits)) {
    try {
      rows.push_back(model.item_row(id));
    } catch (const Error& e) {
      fail(400, fmt::format("\"{}\": {}", field, e.what()));
    }
  }
  return rows;
}

std::optional<std::int32_t> find_user(const Recommender& model, const std::string& id) {
  return model.model().users.find(id);
}

[[noreturn]] void unknown_user(const Recommender& model, const std::string& id, bool fold_in_hint) {
  fail(400,
       fmt::format("unknown user id \"{}\" (the model knows {} users){}", id,
                   model.model().users.num_known(),
                   fold_in_hint ? "; to recommend for a user who is not in the model, send their "
                                  "items in \"items\" to :recommend (fold-in)"
                                : ""));
}

// The top-k of query q, dropping padding (-1) when fewer items are eligible.
struct Row {
  json items = json::array();
  json scores = json::array();
};
Row top_row(const Recommender& model, const TopK& top, std::size_t q) {
  Row row;
  for (int r = 0; r < top.k; ++r) {
    const std::size_t idx = q * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
    if (top.items[idx] < 0) break;
    row.items.push_back(std::string(model.item_id(top.items[idx])));
    row.scores.push_back(json_float(top.scores[idx]));
  }
  return row;
}

// Whether searches on this model are merged with concurrent requests': on
// large catalogs searched exactly. A model with an approximate index answers
// a user in tens of microseconds on the request's own thread.
bool merges_searches(const Limits& limits, const Servable& s) {
  return s.model->index() == nullptr && s.model->model().items.size() >= limits.batch_min_items;
}

// Top-k for known users: merged with concurrent requests on large catalogs
// (when the options are the batcher's: k and exclude_seen).
TopK search_users(QueryBatcher& batcher, const Limits& limits, const Servable& s,
                  std::span<const std::int32_t> rows, RecommendOptions options) {
  options.threads = limits.search_threads;
  if (merges_searches(limits, s) && options.allow.empty() && options.deny.empty()) {
    return batcher.recommend(s.model, rows, options.k, options.exclude_seen);
  }
  return s.model->recommend(rows, options);
}

// "ef" of a request: the index's effort for this search (0 when absent: the
// index's own).
int read_ef(const json& doc) {
  if (!doc.contains("ef")) return 0;
  const json& v = doc["ef"];
  if (!v.is_number_integer())
    fail(400, fmt::format("\"ef\" must be an integer, got {}", json_type(v)));
  const auto ef = v.get<std::int64_t>();
  if (ef < 1 || ef > 100000) fail(400, fmt::format("\"ef\" must be in [1, 100000], got {}", ef));
  return static_cast<int>(ef);
}

// The parts of /v1/models/NAME[/versions/V][/metadata][:verb].
struct ModelPath {
  std::string name;
  std::optional<std::int64_t> version;
  bool metadata = false;
  std::string verb;  // after ':', empty for GET routes
  // A 400 to answer once the method is known to be right: a version that
  // is not a number, or a label. Not thrown here, as the transport parses
  // paths too (may_wait_for_merged_search), outside handle()'s try.
  std::string error;
};

// Never throws. nullopt when the path is no model URL.
std::optional<ModelPath> parse_model_path(std::string_view path) {
  constexpr std::string_view prefix = "/v1/models/";
  if (!path.starts_with(prefix)) return std::nullopt;
  std::string_view rest = path.substr(prefix.size());
  ModelPath p;
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    p.verb = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  std::vector<std::string_view> parts;
  while (true) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  if (parts.back() == "metadata" && parts.size() > 1) {
    p.metadata = true;
    parts.pop_back();
  }
  if (parts.empty() || parts[0].empty()) return std::nullopt;
  p.name = parts[0];
  if (parts.size() == 3 && parts[1] == "versions") {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(parts[2].data(), parts[2].data() + parts[2].size(), v);
    if (ec != std::errc() || end != parts[2].data() + parts[2].size() || v <= 0) {
      p.error = fmt::format("version \"{}\" is not a positive integer", parts[2]);
    } else {
      p.version = v;
    }
  } else if (parts.size() == 3 && parts[1] == "labels") {
    p.error = "version labels are not supported; use /versions/N or no version for the served one";
  } else if (parts.size() != 1) {
    return std::nullopt;
  }
  return p;
}

std::string model_list(const ModelStore& store) {
  return fmt::format("{}", fmt::join(store.model_names(), ", "));
}

Servable servable(const ModelStore& store, const ModelPath& p) {
  Servable s;
  switch (store.find(p.name, p.version, s)) {
    case Lookup::Found:
      return s;
    case Lookup::UnknownModel:
      fail(404,
           fmt::format("model \"{}\" is not served here (models: {})", p.name, model_list(store)));
    case Lookup::UnknownVersion: {
      Servable served;
      const bool any = store.find(p.name, std::nullopt, served) == Lookup::Found;
      fail(404, fmt::format("version {} of model \"{}\" is not available{}", *p.version, p.name,
                            any ? fmt::format(" (serving version {})", served.version)
                                : " (no version is loaded)"));
    }
    case Lookup::NoVersionAvailable: {
      const auto versions = store.status(p.name);
      std::string why = "no version folder with a model file has been found yet";
      if (!versions.empty() && !versions.front().error_message.empty()) {
        why = fmt::format("version {} failed to load: {}", versions.front().version,
                          versions.front().error_message);
      }
      fail(503, fmt::format("model \"{}\" has no version available: {}", p.name, why));
    }
  }
  fail(500, "unreachable lookup result");
}

json status_json(const VersionStatus& s) {
  return {{"version", std::to_string(s.version)},
          {"state", to_string(s.state)},
          {"status", {{"error_code", s.error_code}, {"error_message", s.error_message}}}};
}

HttpResponse ok(const json& body) { return {200, dump(body), "application/json"}; }

// --- endpoints -------------------------------------------------------------

HttpResponse model_status(const ModelStore& store, const ModelPath& p) {
  if (!store.has_model(p.name)) {
    fail(404,
         fmt::format("model \"{}\" is not served here (models: {})", p.name, model_list(store)));
  }
  json list = json::array();
  for (const auto& s : store.status(p.name)) {
    if (!p.version || s.version == *p.version) list.push_back(status_json(s));
  }
  if (list.empty()) {
    fail(404, p.version ? fmt::format("model \"{}\" has no version {}", p.name, *p.version)
                        : fmt::format("model \"{}\" has no version folders yet", p.name));
  }
  return ok({{"model_version_status", list}});
}

json tensor(const char* dtype, std::initializer_list<int> dims, const char* name) {
  json d = json::array();
  for (int n : dims) d.push_back({{"size", std::to_string(n)}, {"name", ""}});
  return {
      {"dtype", dtype}, {"tensor_shape", {{"dim", d}, {"unknown_rank", false}}}, {"name", name}};
}

HttpResponse metadata(const ModelStore& store, const ModelPath& p, const Limits& limits) {
  const Servable s = servable(store, p);
  const ModelData& m = s.model->model();
  json signature = {
      {"inputs", {{"input_1", tensor("DT_STRING", {-1}, "serving_default_input_1:0")}}},
      {"outputs",
       {{"output_1", tensor("DT_FLOAT", {-1, limits.predict_k}, "StatefulPartitionedCall:0")},
        {"output_2", tensor("DT_STRING", {-1, limits.predict_k}, "StatefulPartitionedCall:1")}}},
      {"method_name", "tensorflow/serving/predict"}};
  json latent = {{"kind", m.kind},
                 {"users", m.users.num_known()},
                 {"items", m.items.num_known()},
                 {"dim", s.model->dim()},
                 {"item_titles", !m.item_titles.empty()}};
  return ok({{"model_spec",
              {{"name", p.name}, {"signature_name", ""}, {"version", std::to_string(s.version)}}},
             {"metadata",
              {{"signature_def", {{"signature_def", {{"serving_default", signature}}}}},
               {"latent", latent}}}});
}

// One user id of a predict request: a string/integer, or {"input_1": id}.
// A new user's or item's features, a JSON object of name: value, as
// feature values (FeatureTower::vector_of checks the names against the
// model's): a string as it is, a number or boolean as its JSON text, a list
// of strings joined by its column's separator (a multi column: "genres":
// ["Action", "Comedy"]), null as missing. `skip` names a field that is not
// a feature (a predict instance's "input_1").
std::vector<FeatureValue> feature_values(const json& v, const std::string& where,
                                         const std::optional<FeatureTower>& tower,
                                         std::string_view skip = {}) {
  if (!v.is_object()) {
    fail(400, fmt::format("{} must be an object of feature names and values, got {}", where,
                          json_type(v)));
  }
  std::vector<FeatureValue> out;
  for (const auto& [name, value] : v.items()) {
    if (name == skip) continue;
    const std::string at = fmt::format("{}.{}", where, name);
    if (value.is_string()) {
      out.push_back({name, value.get<std::string>()});
    } else if (value.is_number() || value.is_boolean()) {
      out.push_back({name, value.dump()});
    } else if (value.is_null()) {
      out.push_back({name, ""});
    } else if (value.is_array()) {
      const char sep = tower ? tower->encoder.separator_of(name) : '|';
      std::string joined;
      for (std::size_t k = 0; k < value.size(); ++k) {
        if (!value[k].is_string()) {
          fail(400, fmt::format("{}[{}] must be a string, got {}", at, k, json_type(value[k])));
        }
        if (k > 0) joined.push_back(sep);
        joined += value[k].get<std::string>();
      }
      out.push_back({name, std::move(joined)});
    } else {
      fail(400, fmt::format("{} must be a string, a number, a list of strings or null, got {}", at,
                            json_type(value)));
    }
  }
  return out;
}

bool tower_has_context(const Recommender& model) {
  return model.model().user_tower && model.model().user_tower->has_context();
}

// One :predict instance: a user id, or an object with "input_1" (the id)
// and/or the features of a user (cold start: used when the id is absent or
// unknown; for a known user of a model with context features, its context
// values make its query).
struct PredictInstance {
  std::string id;  // "" when only features were given
  bool has_features = false;
  json features;  // the object, read against the served model later
};

PredictInstance predict_instance(const json& v, std::size_t i) {
  if (v.is_object()) {
    PredictInstance out;
    if (v.contains("input_1"))
      out.id = id_value(v["input_1"], fmt::format("instances[{}].input_1", i));
    out.has_features = v.size() > (v.contains("input_1") ? 1u : 0u);
    if (!out.has_features && out.id.empty()) {
      fail(400, fmt::format("instances[{}]: an object instance holds \"input_1\" (the user id) "
                            "or a new user's features",
                            i));
    }
    if (out.has_features) out.features = v;
    return out;
  }
  return {id_value(v, fmt::format("instances[{}]", i)), false, {}};
}

// A :predict request of (user, item) pairs, as a TFRS ranking model's
// SavedModel takes them: row format instances {"input_1": user, "input_2":
// item}, or columnar {"inputs": {"input_1": [...], "input_2": [...]}}.
// The answer is one score per pair, [score] each as TF Serving gives a
// model of one output: the predicted rating of a model trained with the
// rating task, else the score its top-k lists rank by.
HttpResponse predict_pairs(const ModelStore& store, const ModelPath& p, const json& doc, bool rows,
                           const Limits& limits) {
  std::vector<std::string> users, items;
  if (rows) {
    const json& inst = doc["instances"];
    for (std::size_t i = 0; i < inst.size(); ++i) {
      const json& v = inst[i];
      if (!v.is_object() || v.size() != 2 || !v.contains("input_1") || !v.contains("input_2")) {
        fail(400, fmt::format("instances[{}]: a request of pairs holds {{\"input_1\": user, "
                              "\"input_2\": item}} in every instance",
                              i));
      }
      users.push_back(id_value(v["input_1"], fmt::format("instances[{}].input_1", i)));
      items.push_back(id_value(v["input_2"], fmt::format("instances[{}].input_2", i)));
    }
  } else {
    const json& in = doc["inputs"];
    if (in.size() != 2) {
      fail(400,
           "\"inputs\" of pairs must hold exactly \"input_1\" (the user ids) and "
           "\"input_2\" (the item ids)");
    }
    users = id_list(in["input_1"], "inputs.input_1", limits);
    items = id_list(in["input_2"], "inputs.input_2", limits);
    if (users.size() != items.size()) {
      fail(400, fmt::format("\"inputs\" has {} users for {} items: give one item per user",
                            users.size(), items.size()));
    }
  }
  const Servable s = servable(store, p);
  std::vector<std::int32_t> user_rows, item_rows;
  for (std::size_t q = 0; q < users.size(); ++q) {
    const auto row = find_user(*s.model, users[q]);
    if (!row) unknown_user(*s.model, users[q], false);
    user_rows.push_back(*row);
    try {
      item_rows.push_back(s.model->item_row(items[q]));
    } catch (const Error& e) {
      fail(400, fmt::format("{}[{}]: {}", rows ? "instances" : "inputs.input_2", q, e.what()));
    }
  }
  const std::vector<float> scores = s.model->predict(user_rows, item_rows, limits.search_threads);
  std::string out = rows ? "{\"predictions\":[" : "{\"outputs\":[";
  for (std::size_t q = 0; q < scores.size(); ++q) {
    if (q > 0) out.push_back(',');
    out.push_back('[');
    append_json_float(out, scores[q]);
    out.push_back(']');
  }
  out += "]}";
  return HttpResponse{200, std::move(out)};
}

// Whether a :predict request is of (user, item) pairs: its first instance
// (of a non-empty list), or its columnar inputs, give an "input_2".
bool is_pairs_request(const json& doc, bool rows) {
  if (rows) {
    const json& inst = doc["instances"];  // a list of at least one (checked)
    return inst[0].is_object() && inst[0].contains("input_2");
  }
  const json& in = doc["inputs"];
  return in.is_object() && in.contains("input_2");
}

HttpResponse predict(const ModelStore& store, const ModelPath& p, std::string_view body,
                     const Limits& limits, QueryBatcher& batcher) {
  const json doc = parse_body(body);
  allow_fields(doc, {"signature_name", "instances", "inputs"});
  if (doc.contains("signature_name")) {
    const json& sig = doc["signature_name"];
    if (!sig.is_string() ||
        (sig.get<std::string>() != "serving_default" && !sig.get<std::string>().empty())) {
      fail(400, fmt::format("unknown signature_name {} (this model has \"serving_default\")",
                            sig.dump()));
    }
  }
  const bool rows = doc.contains("instances");
  const bool columns = doc.contains("inputs");
  if (rows && columns)
    fail(400,
         "the request has both \"instances\" (row format) and \"inputs\" (columnar format); send "
         "one");
  if (!rows && !columns)
    fail(400, "the request needs \"instances\" (row format) or \"inputs\" (columnar format)");
  // The row format's list, checked once for both kinds of request.
  if (rows) {
    const json& inst = doc["instances"];
    if (!inst.is_array())
      fail(400, fmt::format("\"instances\" must be a list, got {}", json_type(inst)));
    if (inst.empty()) fail(400, "\"instances\" is empty");
    if (inst.size() > limits.max_ids) {
      fail(400, fmt::format(
                    "\"instances\" has {} ids; the limit is {} per request (--max_ids_per_request)",
                    inst.size(), limits.max_ids));
    }
  }
  if (is_pairs_request(doc, rows)) return predict_pairs(store, p, doc, rows, limits);
  std::vector<std::string> ids;
  std::vector<PredictInstance> instances;
  if (rows) {
    const json& inst = doc["instances"];
    for (std::size_t i = 0; i < inst.size(); ++i) {
      instances.push_back(predict_instance(inst[i], i));
      ids.push_back(instances.back().id);
    }
  } else {
    const json& in = doc["inputs"];
    if (in.is_object()) {
      if (in.size() != 1 || !in.contains("input_1")) {
        fail(400, "\"inputs\" as an object must hold exactly \"input_1\" (the user ids)");
      }
      ids = id_list(in["input_1"], "inputs.input_1", limits);
    } else {
      ids = id_list(in, "inputs", limits);
    }
  }
  const Servable s = servable(store, p);
  std::vector<std::int32_t> user_rows;
  user_rows.reserve(ids.size());
  // Instances that are new users given by their features: each its own
  // search, its answer put in the place of its row afterwards.
  std::vector<std::pair<std::size_t, std::vector<FeatureValue>>> cold, in_context;
  for (std::size_t q = 0; q < ids.size(); ++q) {
    const auto row = ids[q].empty() ? std::nullopt : find_user(*s.model, ids[q]);
    if (!row && q < instances.size() && instances[q].has_features) {
      if (!s.model->model().user_tower) {
        std::string name;
        for (const auto& [key, value] : instances[q].features.items()) {
          if (key != "input_1") name = key;
        }
        fail(400, fmt::format("instances[{}]: \"{}\" is not an input of this model: an object "
                              "instance holds \"input_1\" (the user id), and the model has no "
                              "user features",
                              q, name));
      }
      cold.emplace_back(q, feature_values(instances[q].features, fmt::format("instances[{}]", q),
                                          s.model->model().user_tower, "input_1"));
      user_rows.push_back(0);
      continue;
    }
    if (!row) unknown_user(*s.model, ids[q], true);
    user_rows.push_back(*row);
    // A known user of a model with context features: the instance's
    // context values (its other features are the stored vector's) make its
    // query, its own search.
    if (q < instances.size() && instances[q].has_features && tower_has_context(*s.model)) {
      std::vector<FeatureValue> context;
      for (FeatureValue& v : feature_values(instances[q].features, fmt::format("instances[{}]", q),
                                            s.model->model().user_tower, "input_1")) {
        if (s.model->model().user_tower->is_context(v.name)) {
          context.push_back(std::move(v));
        }
      }
      if (!context.empty()) in_context.emplace_back(q, std::move(context));
    }
  }
  RecommendOptions options;
  options.k = limits.predict_k;
  TopK top = search_users(batcher, limits, s, user_rows, options);
  const auto put = [&](std::size_t q, const TopK& one) {
    std::copy(one.items.begin(), one.items.end(),
              top.items.begin() + static_cast<std::ptrdiff_t>(q) * top.k);
    std::copy(one.scores.begin(), one.scores.end(),
              top.scores.begin() + static_cast<std::ptrdiff_t>(q) * top.k);
  };
  for (const auto& [q, features] : cold) put(q, s.model->recommend_for_features(features, options));
  for (const auto& [q, context] : in_context) {
    put(q, s.model->recommend_in_context(user_rows[q], context, options));
  }
  // Written as text, not as a json tree: this is the hot path (json_text.hpp).
  std::string out;
  out.reserve(64 + ids.size() * static_cast<std::size_t>(top.k) * 48);
  auto append_scores = [&](std::size_t q) {
    out.push_back('[');
    for (int r = 0; r < top.k; ++r) {
      const std::size_t idx = q * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
      if (top.items[idx] < 0) break;  // fewer eligible items than k
      if (r > 0) out.push_back(',');
      append_json_float(out, top.scores[idx]);
    }
    out.push_back(']');
  };
  auto append_items = [&](std::size_t q) {
    out.push_back('[');
    for (int r = 0; r < top.k; ++r) {
      const std::size_t idx = q * static_cast<std::size_t>(top.k) + static_cast<std::size_t>(r);
      if (top.items[idx] < 0) break;
      if (r > 0) out.push_back(',');
      append_json_string(out, s.model->item_id(top.items[idx]));
    }
    out.push_back(']');
  };
  if (rows) {
    out += "{\"predictions\":[";
    for (std::size_t q = 0; q < ids.size(); ++q) {
      if (q > 0) out.push_back(',');
      out += "{\"output_1\":";
      append_scores(q);
      out += ",\"output_2\":";
      append_items(q);
      out.push_back('}');
    }
    out += "]}";
  } else {
    out += "{\"outputs\":{\"output_1\":[";
    for (std::size_t q = 0; q < ids.size(); ++q) {
      if (q > 0) out.push_back(',');
      append_scores(q);
    }
    out += "],\"output_2\":[";
    for (std::size_t q = 0; q < ids.size(); ++q) {
      if (q > 0) out.push_back(',');
      append_items(q);
    }
    out += "]}}";
  }
  return {200, std::move(out), "application/json"};
}

HttpResponse recommend(const ModelStore& store, const ModelPath& p, std::string_view body,
                       const Limits& limits, QueryBatcher& batcher) {
  const json doc = parse_body(body);
  allow_fields(doc, {"users", "items", "user_features", "context", "k", "exclude_seen", "allow",
                     "deny", "exact", "ef"});
  RecommendOptions options;
  options.k = read_k(doc, 10, limits);
  options.exclude_seen = read_bool(doc, "exclude_seen");
  options.exact = read_bool(doc, "exact");
  options.ef = read_ef(doc);
  options.threads = limits.search_threads;
  std::vector<std::string> users;
  if (doc.contains("users")) users = id_list(doc["users"], "users", limits);
  const bool has_items = doc.contains("items");
  const bool has_features = doc.contains("user_features");
  if (users.empty() && !has_items && !has_features) {
    fail(400,
         "give \"users\" (ids of users in the model), \"items\" (the items of a new user, for "
         "fold-in) or \"user_features\" (a new user's features)");
  }
  if (has_items && has_features) {
    fail(400, "\"items\" and \"user_features\" each describe a new user: send one");
  }
  const bool one_new = has_items || has_features;
  if (one_new && users.size() > 1) {
    fail(400, fmt::format("\"{}\" describe one new user: send them with at most one user, got "
                          "{} users",
                          has_items ? "items" : "user_features", users.size()));
  }
  if (has_items && doc.contains("context")) {
    fail(400,
         "\"context\" makes the query of a user the model knows or describes by "
         "\"user_features\", not of a fold-in user (\"items\")");
  }
  const Servable s = servable(store, p);
  const Recommender& model = *s.model;
  options.allow = item_rows(model, doc, "allow", limits);
  options.deny = item_rows(model, doc, "deny", limits);
  // The request's context (the time of the request, for a model trained
  // with context features): each known user's query in it, and a new
  // user's features with it. An empty one leaves the context missing, as
  // the stored vectors have it.
  std::vector<FeatureValue> context;
  if (doc.contains("context")) {
    context = feature_values(doc["context"], "\"context\"", model.model().user_tower);
  }
  if (!context.empty()) {
    const auto& tower = model.model().user_tower;
    if (!tower || !tower->has_context()) {
      fail(400, fmt::format("\"context\": the model has no context features (such as \"{}\"): "
                            "it was trained without --context-features",
                            context.front().name));
    }
    for (const FeatureValue& v : context) {
      if (!tower->is_context(v.name)) {
        std::vector<std::string> names;
        for (const ColumnEncoding& c : tower->encoder.columns()) {
          if (c.column.context) names.push_back(c.column.name);
        }
        fail(400, fmt::format("\"context\": \"{}\" is not one of the model's context features: "
                              "{}",
                              v.name, fmt::join(names, ", ")));
      }
    }
  }
  json out = {{"model_version", std::to_string(s.version)}};
  json recs = json::array();
  std::vector<std::int32_t> user_rows;
  for (const auto& id : users) {
    const auto row = find_user(model, id);
    if (!row) {
      if (one_new) break;  // the one user is new: fold-in or features below
      unknown_user(model, id, true);
    }
    user_rows.push_back(*row);
  }
  if (!user_rows.empty() && !context.empty()) {
    // Each user's query in the context: a search of its own.
    for (std::size_t q = 0; q < users.size(); ++q) {
      const TopK top = model.recommend_in_context(user_rows[q], context, options);
      Row r = top_row(model, top, 0);
      recs.push_back({{"user", users[q]},
                      {"source", "context"},
                      {"items", std::move(r.items)},
                      {"scores", std::move(r.scores)}});
    }
  } else if (!user_rows.empty()) {
    // One search for the batch of users.
    const TopK top = search_users(batcher, limits, s, user_rows, options);
    for (std::size_t q = 0; q < users.size(); ++q) {
      Row r = top_row(model, top, q);
      recs.push_back({{"user", users[q]},
                      {"source", "model"},
                      {"items", std::move(r.items)},
                      {"scores", std::move(r.scores)}});
    }
  } else if (has_features) {
    std::vector<FeatureValue> features =
        feature_values(doc["user_features"], "\"user_features\"", model.model().user_tower);
    features.insert(features.end(), context.begin(), context.end());
    const TopK top = model.recommend_for_features(features, options);
    Row r = top_row(model, top, 0);
    recs.push_back({{"user", users.empty() ? json(nullptr) : json(users[0])},
                    {"source", "features"},
                    {"items", std::move(r.items)},
                    {"scores", std::move(r.scores)}});
  } else {
    const auto items = item_rows(model, doc, "items", limits);
    const TopK top = model.recommend_for_items(items, options);
    Row r = top_row(model, top, 0);
    recs.push_back({{"user", users.empty() ? json(nullptr) : json(users[0])},
                    {"source", "fold-in"},
                    {"items", std::move(r.items)},
                    {"scores", std::move(r.scores)}});
  }
  out["recommendations"] = std::move(recs);
  return ok(out);
}

HttpResponse similar(const ModelStore& store, const ModelPath& p, std::string_view body,
                     const Limits& limits) {
  const json doc = parse_body(body);
  allow_fields(doc, {"item", "item_features", "k", "exact", "ef"});
  SimilarOptions options;
  options.k = read_k(doc, 10, limits);
  options.exact = read_bool(doc, "exact");
  options.ef = read_ef(doc);
  options.threads = limits.search_threads;
  if (doc.contains("item") == doc.contains("item_features")) {
    fail(400,
         "give \"item\" (the id or title of the item to find neighbours of) or "
         "\"item_features\" (a new item's features)");
  }
  if (doc.contains("item_features")) {
    const Servable s = servable(store, p);
    const TopK top = s.model->similar_to_features(
        feature_values(doc["item_features"], "\"item_features\"", s.model->model().item_tower),
        options);
    Row r = top_row(*s.model, top, 0);
    return ok({{"model_version", std::to_string(s.version)},
               {"item", nullptr},
               {"items", std::move(r.items)},
               {"scores", std::move(r.scores)}});
  }
  const std::string id = id_value(doc["item"], "\"item\"");
  const Servable s = servable(store, p);
  std::int32_t row = 0;
  try {
    row = s.model->item_row(id);
  } catch (const Error& e) {
    fail(400, fmt::format("\"item\": {}", e.what()));
  }
  const TopK top = s.model->similar_items(row, options);
  Row r = top_row(*s.model, top, 0);
  return ok({{"model_version", std::to_string(s.version)},
             {"item", std::string(s.model->item_id(row))},
             {"items", std::move(r.items)},
             {"scores", std::move(r.scores)}});
}

HttpResponse embeddings(const ModelStore& store, const ModelPath& p, std::string_view body,
                        const Limits& limits) {
  const json doc = parse_body(body);
  allow_fields(doc, {"users", "items"});
  if (!doc.contains("users") && !doc.contains("items"))
    fail(400, "give \"users\" and/or \"items\" (lists of ids)");
  std::vector<std::string> users, items;
  if (doc.contains("users")) users = id_list(doc["users"], "users", limits);
  if (doc.contains("items")) items = id_list(doc["items"], "items", limits);
  const Servable s = servable(store, p);
  const ModelData& m = s.model->model();
  json out = {{"model_version", std::to_string(s.version)}, {"dim", s.model->dim()}};
  if (!users.empty()) {
    json vectors = json::array();
    for (const auto& id : users) {
      const auto row = find_user(*s.model, id);
      if (!row) unknown_user(*s.model, id, false);
      vectors.push_back(float_array(m.user_embeddings.row(*row)));
    }
    out["users"] = users;
    out["user_embeddings"] = std::move(vectors);
  }
  if (!items.empty()) {
    const auto rows = item_rows(*s.model, doc, "items", limits);
    json vectors = json::array();
    for (auto row : rows) vectors.push_back(float_array(m.item_embeddings.row(row)));
    out["items"] = items;
    out["item_embeddings"] = std::move(vectors);
  }
  return ok(out);
}

HttpResponse health(const ModelStore& store) {
  json models = json::object();
  std::vector<std::string> missing;
  for (const auto& name : store.model_names()) {
    Servable s;
    if (store.find(name, std::nullopt, s) == Lookup::Found) {
      models[name] = std::to_string(s.version);
    } else {
      models[name] = nullptr;
      missing.push_back(name);
    }
  }
  if (!missing.empty()) {
    return {
        503,
        dump({{"status", "unavailable"},
              {"models", models},
              {"error", fmt::format("no version available for: {}", fmt::join(missing, ", "))}}),
        "application/json"};
  }
  return ok({{"status", "ok"}, {"models", models}});
}

Endpoint endpoint_of(const ModelPath& p) {
  if (p.verb == "predict") return Endpoint::Predict;
  if (p.verb == "recommend") return Endpoint::Recommend;
  if (p.verb == "similar") return Endpoint::Similar;
  if (p.verb == "embeddings") return Endpoint::Embeddings;
  if (!p.verb.empty()) return Endpoint::Other;
  return p.metadata ? Endpoint::Metadata : Endpoint::Status;
}

// A wrong method is a 405 whose Allow header names the right ones (RFC 9110
// requires it; clients and API testers read it). A GET path takes HEAD too:
// the transport sends the GET answer's header without its content.
void require_method(std::string_view method, std::string_view want, std::string_view path) {
  if (method == want || (want == "GET" && method == "HEAD")) return;
  throw HttpError{405, fmt::format("{} {}: this endpoint takes {}", method, path, want),
                  want == "GET" ? "GET, HEAD" : std::string(want)};
}

}  // namespace

void Limits::validate() const {
  if (max_k < 1)
    throw Error(ErrorKind::InvalidArgument, fmt::format("--max_k must be >= 1, got {}", max_k));
  if (max_ids < 1) throw Error(ErrorKind::InvalidArgument, "--max_ids_per_request must be >= 1");
  if (predict_k < 1 || predict_k > max_k) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--predict_k must be in [1, --max_k = {}], got {}", max_k, predict_k));
  }
  if (batch_min_items < 0) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--batch_min_items must be >= 0, got {}", batch_min_items));
  }
  if (search_threads < 1) {
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("--search_threads must be >= 1, got {}", search_threads));
  }
}

HttpResponse error_response(int status, std::string_view message) {
  // The message may quote the request's bytes (a JSON parse error does).
  return {status, dump({{"error", message}}), "application/json"};
}

HttpResponse exception_response(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    HttpResponse out = error_response(e.status, e.message);
    out.allow = e.allow;
    return out;
  } catch (const Error& e) {
    // Unsupported: what this model cannot do (similar items of a popularity
    // model), a property of the request against the served model.
    if (e.kind() == ErrorKind::InvalidArgument || e.kind() == ErrorKind::NotFound ||
        e.kind() == ErrorKind::Unsupported) {
      return error_response(400, e.what());
    }
    return error_response(500,
                          fmt::format("internal error ({}): {}", to_string(e.kind()), e.what()));
  } catch (const std::exception& e) {
    return error_response(500, fmt::format("internal error: {}", e.what()));
  } catch (...) {
    return error_response(500, "internal error: unknown exception");
  }
}

RestApi::RestApi(const ModelStore& store, Metrics& metrics, Limits limits)
    : store_(store), metrics_(metrics), limits_(limits), batcher_(0) {
  limits_.validate();
}

HttpResponse RestApi::handle(std::string_view method, std::string_view path,
                             std::string_view body) const {
  const auto start = std::chrono::steady_clock::now();
  Endpoint endpoint = Endpoint::Other;
  HttpResponse response;
  try {
    response = route(method, path, body, endpoint);
  } catch (...) {
    response = exception_response(std::current_exception());
  }
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  metrics_.record(endpoint, response.status, elapsed.count());
  return response;
}

bool RestApi::may_wait_for_merged_search(std::string_view method, std::string_view path) const {
  if (method != "POST") return false;
  const auto p = parse_model_path(path);
  if (!p || p->metadata || !p->error.empty()) return false;
  const Endpoint endpoint = endpoint_of(*p);
  if (endpoint != Endpoint::Predict && endpoint != Endpoint::Recommend) return false;
  Servable s;
  return store_.find(p->name, p->version, s) == Lookup::Found && merges_searches(limits_, s);
}

HttpResponse RestApi::route(std::string_view method, std::string_view path, std::string_view body,
                            Endpoint& endpoint) const {
  if (path == "/metrics") {
    endpoint = Endpoint::Metrics;
    require_method(method, "GET", path);
    return {200, metrics_.render(store_, batcher_), "text/plain; version=0.0.4"};
  }
  if (path == "/healthz") {
    endpoint = Endpoint::Health;
    require_method(method, "GET", path);
    return health(store_);
  }
  if (path == "/openapi.yaml") {
    endpoint = Endpoint::OpenApi;
    require_method(method, "GET", path);
    // RFC 9512's media type for YAML; API tools also go by the .yaml suffix.
    return {200, std::string(openapi_yaml()), "application/yaml"};
  }
  const auto p = parse_model_path(path);
  if (!p) {
    fail(404, fmt::format("no endpoint {} {} (see /v1/models/NAME, /metrics, /healthz, "
                          "/openapi.yaml)",
                          method, path));
  }
  endpoint = endpoint_of(*p);
  if (!p->verb.empty()) {
    if (p->metadata) fail(404, fmt::format("no endpoint {} {}", method, path));
    // An unknown verb is a 404 for every method, before the method is
    // checked: a 405 would name POST in Allow, and POST is a 404 too.
    if (endpoint == Endpoint::Other) {
      fail(404, fmt::format(
                    "unknown method \":{}\" (methods: :predict, :recommend, :similar, :embeddings)",
                    p->verb));
    }
    require_method(method, "POST", path);
    if (!p->error.empty()) fail(400, p->error);
    switch (endpoint) {
      case Endpoint::Predict:
        return predict(store_, *p, body, limits_, batcher_);
      case Endpoint::Recommend:
        return recommend(store_, *p, body, limits_, batcher_);
      case Endpoint::Similar:
        return similar(store_, *p, body, limits_);
      case Endpoint::Embeddings:
        return embeddings(store_, *p, body, limits_);
      default:
        fail(500, fmt::format("unrouted endpoint {}", to_string(endpoint)));
    }
  }
  require_method(method, "GET", path);
  if (!p->error.empty()) fail(400, p->error);
  return p->metadata ? metadata(store_, *p, limits_) : model_status(store_, *p);
}

}  // namespace latent::server
