#pragma once
// ModelStore: the models a server serves, one per configured name, each from
// a base path of numbered version folders (BASE/1/, BASE/2/, ...) holding one
// `*.latent` model file, as TensorFlow Serving lays out SavedModels.
//
// poll() serves the highest version folder that loads: a new one is loaded
// completely (file read, checksum verified, index built) on the polling thread, and
// only then swapped in; requests that already hold the old model finish on
// it (std::shared_ptr keeps it alive), new requests get the new one. A
// version that fails to load is reported in status() with its error while
// the previous version keeps serving; it is retried when its model file
// changes (size or modification time), so a file still being copied in is
// picked up once complete. The same at start-up: a newest version that
// fails leaves the next lower one that loads serving. Removing the served
// folder rolls back to the highest other one that loads on the next poll.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <latent/recommender.hpp>

#include "model_config.hpp"

namespace latent::server {

// TensorFlow Serving's ModelVersionStatus.State names.
enum class VersionState { Loading, Available, End };
const char* to_string(VersionState state) noexcept;

struct VersionStatus {
  std::int64_t version = 0;
  VersionState state = VersionState::Loading;
  std::string error_code = "OK";  // TF Serving's error code names (tensorflow::error::Code)
  std::string error_message;
};

struct Servable {
  std::int64_t version = 0;
  std::shared_ptr<const Recommender> model;
};

// What find() saw.
enum class Lookup { Found, UnknownModel, UnknownVersion, NoVersionAvailable };

struct ModelCounters {
  std::int64_t served_version = 0;  // 0: none
  std::int64_t loads_succeeded = 0;
  std::int64_t loads_failed = 0;
  std::size_t model_bytes = 0;  // arrays of the served version (see model_bytes())
};

// Bytes of the arrays a loaded Recommender holds: embeddings, seen items,
// vocabulary ids. Not counted: hash table and allocator overhead, and the
// unit-length item copy that the first :similar request builds (as large as
// the item embeddings).
std::size_t model_bytes(const Recommender& model);

class ModelStore {
 public:
  using Log = std::function<void(const std::string&)>;

  // Throws Error(NotFound) when a base path is not a directory, and as
  // check_model_configs() does. Nothing is loaded until poll().
  explicit ModelStore(std::vector<ModelConfig> configs, Log log = {});
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  // Scans every base path once and loads what is new; returns when done.
  // Safe to call from any thread (one poll runs at a time).
  void poll();
  // poll() every `interval` on a background thread until stop_polling().
  void start_polling(std::chrono::milliseconds interval);
  void stop_polling();

  std::vector<std::string> model_names() const;
  bool has_model(std::string_view name) const;

  // The served version of `name` (or that exact version when given; only
  // the served version is available, as with TF Serving's default policy).
  Lookup find(std::string_view name, std::optional<std::int64_t> version, Servable& out) const;
  // Every version seen, highest first; empty for an unknown model.
  std::vector<VersionStatus> status(std::string_view name) const;
  ModelCounters counters(std::string_view name) const;

 private:
  struct Entry;
  Entry* entry(std::string_view name) const;
  void poll_model(Entry& e);
  // Loads version `target` and serves it; false (and the error in status())
  // when it fails, or failed before and its file has not changed since.
  bool load_version(Entry& e, std::int64_t target);

  std::vector<std::unique_ptr<Entry>> entries_;
  Log log_;
  std::mutex poll_mutex_;

  std::mutex thread_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread poller_;
};

}  // namespace latent::server
