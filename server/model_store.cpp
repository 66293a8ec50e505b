#include "model_store.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <shared_mutex>

#include <fmt/format.h>

#include <latent/error.hpp>

namespace latent::server {

namespace fs = std::filesystem;

namespace {

// Identifies one state of a version folder's model file: a retry of a
// failed version happens only when this changes (see Failure). The inode
// and change time tell apart a file replaced with one of the same size and
// modification time (`cp -p`, `rsync -t`, a re-download of a file that was
// corrupted in transfer).
struct FileSignature {
  fs::path path;
  std::uintmax_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  bool operator==(const FileSignature&) const = default;
};

// A failed attempt. File times have a coarse granularity (a kernel tick,
// up to a second on some file systems), so a file rewritten again right
// after an attempt read it can keep its signature: the failure is settled
// (not retried until the signature changes) only once an attempt that
// started kSettle after the signature was first seen failed too.
struct Failure {
  static constexpr std::chrono::seconds kSettle{2};
  FileSignature file;
  std::chrono::steady_clock::time_point first_seen;
  bool settled = false;
};

// TF Serving reports load failures with tensorflow::error::Code names.
const char* error_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidArgument:
      return "INVALID_ARGUMENT";
    case ErrorKind::NotFound:
      return "NOT_FOUND";
    case ErrorKind::Corruption:
      return "DATA_LOSS";
    case ErrorKind::IO:
      return "UNAVAILABLE";
    case ErrorKind::Unsupported:
      return "UNIMPLEMENTED";
  }
  return "UNKNOWN";
}

std::optional<std::int64_t> version_number(const std::string& name) {
  if (name.empty() || name.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), v);
  if (ec != std::errc() || end != name.data() + name.size() || v <= 0) return std::nullopt;
  return v;
}

// Numbered version folders under base, ascending. Errors (a base path that
// vanished) yield what could be read.
std::vector<std::int64_t> version_folders(const fs::path& base) {
  std::vector<std::int64_t> versions;
  std::error_code ec;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_directory(type_ec)) continue;
    if (auto v = version_number(it->path().filename().string())) versions.push_back(*v);
  }
  std::sort(versions.begin(), versions.end());
  return versions;
}

// The one *.latent file of a version folder; throws NotFound / InvalidArgument.
FileSignature model_file(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    // Hidden files are other tools' temporaries (rsync's .name.XXXXXX).
    const std::string name = it->path().filename().string();
    if (name.starts_with('.') || it->path().extension() != ".latent") continue;
    if (it->is_regular_file(type_ec)) found.push_back(it->path());
  }
  if (found.empty()) {
    throw Error(ErrorKind::NotFound,
                fmt::format("{}: no *.latent model file in this version folder", dir.string()));
  }
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    throw Error(ErrorKind::InvalidArgument,
                fmt::format("{}: {} *.latent files ({}, {}, ...); a version folder holds one model",
                            dir.string(), found.size(), found[0].filename().string(),
                            found[1].filename().string()));
  }
  FileSignature s;
  s.path = found[0];
  struct stat st {};
  if (::stat(s.path.c_str(), &st) == 0) {
    constexpr std::int64_t kNanos = 1'000'000'000;
    s.size = static_cast<std::uintmax_t>(st.st_size);
    s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * kNanos + st.st_mtim.tv_nsec;
    s.ctime_ns = static_cast<std::int64_t>(st.st_ctim.tv_sec) * kNanos + st.st_ctim.tv_nsec;
    s.device = static_cast<std::uint64_t>(st.st_dev);
    s.inode = static_cast<std::uint64_t>(st.st_ino);
  }
  return s;
}

}  // namespace

const char* to_string(VersionState state) noexcept {
  switch (state) {
    case VersionState::Loading:
      return "LOADING";
    case VersionState::Available:
      return "AVAILABLE";
    case VersionState::End:
      return "END";
  }
  return "UNKNOWN";
}

std::size_t model_bytes(const Recommender& model) {
  const ModelData& m = model.model();
  std::size_t bytes =
      (m.user_embeddings.size() + m.item_embeddings.size() + m.item_queries.size()) * sizeof(float);
  bytes += static_cast<std::size_t>(m.seen.nnz()) * sizeof(std::int32_t) +
           static_cast<std::size_t>(m.seen.rows() + 1) * sizeof(std::int64_t);
  // An item-based model's term: an index and a weight per entry.
  bytes += static_cast<std::size_t>(m.item_to_item.nnz()) * (sizeof(std::int32_t) + sizeof(float)) +
           m.item_to_item.indptr().size() * sizeof(std::int64_t);
  for (const auto& id : m.users.ids()) bytes += id.size();
  for (const auto& id : m.items.ids()) bytes += id.size();
  for (const auto& t : m.item_titles) bytes += t.size();
  if (model.index() != nullptr) bytes += static_cast<std::size_t>(model.index()->bytes());
  if (model.similar_index() != nullptr) {
    // Its graph, and the unit item vectors it ranks by.
    bytes += static_cast<std::size_t>(model.similar_index()->bytes()) +
             m.item_embeddings.size() * sizeof(float);
  }
  return bytes;
}

struct ModelStore::Entry {
  ModelConfig config;
  // Guards everything below. Requests only read (shared), so a reader
  // preempted while holding it never stalls other requests; the poller
  // writes for a few pointer and map updates.
  mutable std::shared_mutex mutex;
  Servable served;
  std::map<std::int64_t, VersionStatus> versions;
  std::map<std::int64_t, Failure> failed;  // the last failed attempt of each version
  ModelCounters counters;
};

ModelStore::ModelStore(std::vector<ModelConfig> configs, Log log) : log_(std::move(log)) {
  check_model_configs(configs);
  if (!log_) log_ = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  for (auto& c : configs) {
    std::error_code ec;
    if (!fs::is_directory(c.base_path, ec)) {
      throw Error(ErrorKind::NotFound, fmt::format("model \"{}\": base path {} is not a directory",
                                                   c.name, c.base_path.string()));
    }
    auto e = std::make_unique<Entry>();
    e->config = std::move(c);
    entries_.push_back(std::move(e));
  }
}

ModelStore::~ModelStore() { stop_polling(); }

void ModelStore::poll() {
  std::lock_guard poll_lock(poll_mutex_);
  for (auto& e : entries_) poll_model(*e);
}

void ModelStore::poll_model(Entry& e) {
  // The highest version that loads is served: one that failed is skipped
  // (and retried when its file changes) while the next lower one serves, at
  // start-up as later; removing the served folder rolls back the same way.
  const auto versions = version_folders(e.config.base_path);
  for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
    {
      std::lock_guard lock(e.mutex);
      if (e.served.model && e.served.version == *v) return;
    }
    if (load_version(e, *v)) return;
  }
}

bool ModelStore::load_version(Entry& e, std::int64_t target) {
  const fs::path dir = e.config.base_path / std::to_string(target);
  FileSignature file;
  std::shared_ptr<const Recommender> loaded;
  const auto started = std::chrono::steady_clock::now();
  try {
    file = model_file(dir);
    {
      std::lock_guard lock(e.mutex);
      auto failed = e.failed.find(target);
      // Unchanged since it failed: not retried.
      if (failed != e.failed.end() && failed->second.settled && failed->second.file == file)
        return false;
      e.versions[target] = VersionStatus{target, VersionState::Loading, "OK", ""};
    }
    loaded = std::make_shared<const Recommender>(Recommender::load(file.path));
  } catch (const std::exception& ex) {
    const auto* err = dynamic_cast<const Error*>(&ex);
    const std::string code = err ? error_code(err->kind()) : "UNKNOWN";
    bool fresh = false;
    {
      std::lock_guard lock(e.mutex);
      auto failed = e.failed.find(target);
      fresh = failed == e.failed.end() || !(failed->second.file == file);
      Failure& f = e.failed[target];
      if (fresh) f = Failure{file, started, false};
      f.settled = started - f.first_seen >= Failure::kSettle;
      e.versions[target] = VersionStatus{target, VersionState::End, code, ex.what()};
      if (fresh) ++e.counters.loads_failed;
    }
    if (fresh) {
      log_(fmt::format(
          "model \"{}\" version {} failed to load{}: {}", e.config.name, target,
          e.served.model ? fmt::format(" (version {} keeps serving)", e.served.version) : "",
          ex.what()));
    }
    return false;
  }
  const std::size_t bytes = model_bytes(*loaded);
  std::string search = loaded->index() != nullptr ? fmt::format(", hnsw index (ef {})",
                                                                loaded->index()->params().ef_search)
                       : loaded->index_problem().empty()
                           ? ""
                           : fmt::format(", searching every item: its index is not used: {}",
                                         loaded->index_problem());
  if (loaded->similar_index() != nullptr) {
    search += fmt::format(", similar-items hnsw index (ef {})",
                          loaded->similar_index()->params().ef_search);
  } else if (!loaded->similar_index_problem().empty()) {
    search += fmt::format(", similar items search every item: their index is not used: {}",
                          loaded->similar_index_problem());
  }
  std::int64_t previous = 0;
  {
    std::lock_guard lock(e.mutex);
    if (e.served.model) {
      previous = e.served.version;
      e.versions[previous].state = VersionState::End;  // unloaded: replaced, not failed
    }
    e.served = Servable{target, std::move(loaded)};
    e.versions[target] = VersionStatus{target, VersionState::Available, "OK", ""};
    e.failed.erase(target);
    ++e.counters.loads_succeeded;
    e.counters.served_version = target;
    e.counters.model_bytes = bytes;
  }
  log_(fmt::format("model \"{}\" version {} is serving ({}){}{}", e.config.name, target,
                   file.path.string(),
                   previous ? fmt::format(", replacing version {}", previous) : "", search));
  return true;
}

void ModelStore::start_polling(std::chrono::milliseconds interval) {
  stop_polling();
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = false;
  }
  poller_ = std::thread([this, interval] {
    std::unique_lock lock(thread_mutex_);
    while (!wake_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      poll();
      lock.lock();
    }
  });
}

void ModelStore::stop_polling() {
  {
    std::lock_guard lock(thread_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (poller_.joinable()) poller_.join();
}

std::vector<std::string> ModelStore::model_names() const {
  std::vector<std::string> names;
  for (const auto& e : entries_) names.push_back(e->config.name);
  return names;
}

ModelStore::Entry* ModelStore::entry(std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->config.name == name) return e.get();
  }
  return nullptr;
}

bool ModelStore::has_model(std::string_view name) const { return entry(name) != nullptr; }

Lookup ModelStore::find(std::string_view name, std::optional<std::int64_t> version,
                        Servable& out) const {
  const Entry* e = entry(name);
  if (e == nullptr) return Lookup::UnknownModel;
  std::shared_lock lock(e->mutex);
  if (!e->served.model) return version ? Lookup::UnknownVersion : Lookup::NoVersionAvailable;
  if (version && *version != e->served.version) return Lookup::UnknownVersion;
  out = e->served;
  return Lookup::Found;
}

std::vector<VersionStatus> ModelStore::status(std::string_view name) const {
  std::vector<VersionStatus> out;
  const Entry* e = entry(name);
  if (e == nullptr) return out;
  std::shared_lock lock(e->mutex);
  for (auto it = e->versions.rbegin(); it != e->versions.rend(); ++it) out.push_back(it->second);
  return out;
}

ModelCounters ModelStore::counters(std::string_view name) const {
  const Entry* e = entry(name);
  if (e == nullptr) return {};
  std::shared_lock lock(e->mutex);
  return e->counters;
}

}  // namespace latent::server
