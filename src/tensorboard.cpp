#include <latent/tensorboard.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include <latent/error.hpp>
#include <latent/model_spec.hpp>

#include "detail/atomic_file.hpp"
#include "detail/tfrecord.hpp"

namespace latent {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

double wall_time(Clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The host name as TensorFlow puts it in event file names; a '/' (not
// possible in a host name, but gethostname does not promise) would make a
// subdirectory of the name.
std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "localhost";
  std::string host(buffer);
  for (char& c : host) {
    if (c == '/') c = '_';
  }
  return host;
}

// A metadata field: the projector splits rows on line breaks (Python's
// universal newlines: \n and \r) and columns on tabs.
void append_field(fmt::memory_buffer& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      default:
        out.push_back(c);
    }
  }
}

constexpr std::size_t kWriteChunk = 1 << 20;

}  // namespace

// One event file, written in place (its name is new, so nothing older is
// replaced) and listed for the signal handlers' cleanup until commit().
class TensorBoardLog::EventFile {
 public:
  explicit EventFile(const fs::path& dir) {
    static std::atomic<unsigned> counter{0};
    const auto now = Clock::now();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch());
    const std::string host = host_name();
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
      path_ = dir / fmt::format("events.out.tfevents.{:010d}.{}.{}.{}", secs.count(), host,
                                ::getpid(), counter.fetch_add(1));
      fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd >= 0) break;
      if (errno == EEXIST && attempt < 100) continue;
      detail::throw_io(path_, "cannot create the event file", errno);
    }
    detail::list_temp(path_);
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      const int err = errno;
      ::close(fd);
      discard();
      detail::throw_io(path_, "cannot open the event file", err);
    }
    try {
      write(detail::file_version_event(wall_time(now), "brain.Event:2"));
      flush();
    } catch (...) {
      discard();  // no destructor for a half-made object
      throw;
    }
  }
  ~EventFile() {
    if (!committed_) discard();
  }
  EventFile(const EventFile&) = delete;
  EventFile& operator=(const EventFile&) = delete;

  void write(std::string_view event) {
    const std::string record = detail::tfrecord(event);
    detail::write_all(file_, record.data(), record.size(), path_);
  }
  // So that a TensorBoard watching the directory sees the epoch now.
  void flush() {
    if (std::fflush(file_) != 0) detail::throw_io(path_, "write failed", errno);
  }
  void commit() {
    int err = 0;
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) err = errno;
    if (std::fclose(file_) != 0 && err == 0) err = errno;
    file_ = nullptr;
    if (err != 0) detail::throw_io(path_, "write failed", err);
    detail::unlist_temp(path_);
    committed_ = true;
  }

 private:
  void discard() noexcept {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
    ::unlink(path_.c_str());
    detail::unlist_temp(path_);
  }

  fs::path path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// The projector's files as temporary files, renamed in order by commit():
// the config last, so it never names a file that is not there.
struct TensorBoardLog::Projector {
  std::vector<std::unique_ptr<detail::AtomicFile>> files;
};

TensorBoardLog::TensorBoardLog(const fs::path& dir) : dir_(dir) {
  root_.emplace(dir_);
  train_dir_.emplace(dir_ / "train");
  train_ = std::make_unique<EventFile>(dir_ / "train");
}

TensorBoardLog::~TensorBoardLog() = default;

void TensorBoardLog::add_epoch(const EpochReport& report) {
  const double now = wall_time(Clock::now());
  const std::int64_t step = report.epoch;
  const auto scalar = [&](EventFile& file, const std::string& tag, double value) {
    if (std::isnan(value)) return;
    file.write(detail::scalar_event(now, step, tag, static_cast<float>(value)));
  };
  const auto top_k = [&](EventFile& file, const TopKAccuracy& a) {
    for (std::size_t i = 0; i < a.ks.size() && i < a.accuracy.size(); ++i) {
      scalar(file, fmt::format("epoch_factorized_top_k/top_{}_categorical_accuracy", a.ks[i]),
             a.accuracy[i]);
    }
  };
  scalar(*train_, "epoch_loss", report.loss);
  scalar(*train_, "epoch_sampled_accuracy", report.sampled_accuracy);
  scalar(*train_, "epoch_seconds", report.seconds);
  if (report.has_train) top_k(*train_, report.train);
  // The ranking task's metric, by Keras' name for it.
  scalar(*train_, "epoch_root_mean_squared_error", report.train_rmse);
  train_->flush();
  if (report.has_test) {
    if (!validation_) {
      validation_dir_.emplace(dir_ / "validation");
      validation_ = std::make_unique<EventFile>(dir_ / "validation");
    }
    top_k(*validation_, report.test);
    scalar(*validation_, "epoch_root_mean_squared_error", report.test_rmse);
    validation_->flush();
  }
}

std::vector<std::string> TensorBoardLog::add_projector(const ModelData& model) {
  std::vector<std::string> notes;
  projector_.reset();
  const ModelSpec* spec = find_model_spec(model.kind);
  if (spec != nullptr && !spec->item_similarity) {
    notes.push_back(fmt::format(
        "no embedding projector: {} vectors do not say which items are alike", model.kind));
    return notes;
  }
  if (model.item_embeddings.cols() == 0) {
    notes.push_back(
        fmt::format("no embedding projector: a {} model has no vectors (it scores "
                    "by its item-to-item weights alone)",
                    model.kind));
    return notes;
  }
  auto projector = std::make_unique<Projector>();
  std::string config;
  const auto table = [&](std::string_view name, const Vocabulary& ids, const Matrix& vectors,
                         const std::vector<std::string>* titles) {
    const std::int64_t rows = ids.num_known();
    const std::int64_t dim = vectors.cols();
    if (rows == 0 || dim == 0) return;
    if (rows * dim > kMaxProjectorValues) {
      notes.push_back(fmt::format(
          "{} vectors left out of the embedding projector: {} x {} is more than {} values", name,
          rows, dim, kMaxProjectorValues));
      return;
    }
    if (!projector_dir_) projector_dir_.emplace(dir_ / "projector");
    const std::string tensor_file = fmt::format("{}_embeddings.tsv", name);
    const std::string metadata_file = fmt::format("{}_metadata.tsv", name);

    auto& tensor = projector->files.emplace_back(
        std::make_unique<detail::AtomicFile>(dir_ / "projector" / tensor_file));
    fmt::memory_buffer buf;
    for (std::int64_t r = 1; r <= rows; ++r) {
      const auto row = vectors.row(r);
      for (std::size_t c = 0; c < row.size(); ++c) {
        if (c != 0) buf.push_back('\t');
        fmt::format_to(std::back_inserter(buf), "{}", row[c]);
      }
      buf.push_back('\n');
      if (buf.size() >= kWriteChunk) {
        tensor->write(std::string_view(buf.data(), buf.size()));
        buf.clear();
      }
    }
    tensor->write(std::string_view(buf.data(), buf.size()));
    buf.clear();

    // One column needs no header; two do (the projector reads a first line
    // with a tab as the column names).
    auto& metadata = projector->files.emplace_back(
        std::make_unique<detail::AtomicFile>(dir_ / "projector" / metadata_file));
    // Items keyed by title carry their ids as titles: one column then.
    bool with_titles = false;
    if (titles != nullptr && titles->size() == static_cast<std::size_t>(ids.size())) {
      for (std::int32_t r = 1; r <= rows && !with_titles; ++r) {
        with_titles = (*titles)[static_cast<std::size_t>(r)] != ids.id(r);
      }
    }
    if (with_titles) buf.append(std::string_view("id\ttitle\n"));
    for (std::int32_t r = 1; r <= rows; ++r) {
      append_field(buf, ids.id(r));
      if (with_titles) {
        buf.push_back('\t');
        append_field(buf, (*titles)[static_cast<std::size_t>(r)]);
      }
      buf.push_back('\n');
      if (buf.size() >= kWriteChunk) {
        metadata->write(std::string_view(buf.data(), buf.size()));
        buf.clear();
      }
    }
    metadata->write(std::string_view(buf.data(), buf.size()));

    config += fmt::format(
        "embeddings {{\n  tensor_name: \"{}_embeddings\"\n  tensor_shape: {}\n  tensor_shape: {}\n"
        "  tensor_path: \"projector/{}\"\n  metadata_path: \"projector/{}\"\n}}\n",
        name, rows, dim, tensor_file, metadata_file);
  };
  table("item", model.items, model.item_embeddings, &model.item_titles);
  table("user", model.users, model.user_embeddings, nullptr);
  if (config.empty()) return notes;
  auto& file = projector->files.emplace_back(
      std::make_unique<detail::AtomicFile>(dir_ / "projector_config.pbtxt"));
  file->write(config);
  projector_ = std::move(projector);
  return notes;
}

void TensorBoardLog::commit() {
  train_->commit();
  if (validation_) validation_->commit();
  if (projector_) {
    for (auto& file : projector_->files) file->commit();
  }
  for (auto* d : {&root_, &train_dir_, &validation_dir_, &projector_dir_}) {
    if (*d) (*d)->commit();
  }
}

}  // namespace latent
