#pragma once
// TensorBoardLog: training's per-epoch reports and the trained vectors as
// TensorBoard shows them, laid out as Keras' TensorBoard callback does, so
// that `tensorboard --logdir DIR` looks as it does for a TFRS model:
//
//   DIR/train/events.out.tfevents.<secs>.<host>.<pid>.<n>       scalars of the training data
//   DIR/validation/events.out.tfevents.<secs>.<host>.<pid>.<n>  of the held-out pairs
//   DIR/projector_config.pbtxt      the embedding projector's config (run "." of the logdir)
//   DIR/projector/{item,user}_embeddings.tsv, {item,user}_metadata.tsv
//
// Scalar tags are Keras' ("epoch_" + the metric's name), step = the 1-based
// epoch of EpochReport (Keras counts from 0), value a float32:
//   train:      epoch_loss, epoch_sampled_accuracy (BPR), epoch_seconds,
//               epoch_factorized_top_k/top_<k>_categorical_accuracy (two-tower)
//   validation: epoch_factorized_top_k/top_<k>_categorical_accuracy
// A NaN (no loss for ALS unless asked) is left out. Event files are TFRecord
// files of tensorflow.Event messages (first: file_version "brain.Event:2"),
// flushed after every epoch so a running TensorBoard shows training as it goes.
//
// The projector files: one TSV row of floats per known user or item (the
// OOV row left out) and a metadata TSV in the same order: the id alone, or
// "id<TAB>title" rows under that header when the model has titles other
// than its ids (items keyed by title have one column); a tab,
// newline or carriage return inside an id or title is written as \t, \n, \r.
//
// Nothing half-written stays behind: until commit(), the event files are
// removed on destruction (and by remove_temp_files_on_signal's handlers) and
// so are the directories this object made; the projector files are written to
// temporary files and renamed into place by commit(), the config last.
// Earlier runs' files in DIR are kept (new event files get new names; the
// projector files are replaced), as Keras does.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <latent/atomic_output.hpp>
#include <latent/model_file.hpp>
#include <latent/training_report.hpp>

namespace latent {

class TensorBoardLog {
 public:
  // A vector table above this many floats (rows x dim) is left out of the
  // projector: its TSV would pass 100 MB (EASE's item x item weights on a
  // large catalog), more than the projector's browser page loads.
  static constexpr std::int64_t kMaxProjectorValues = 10'000'000;

  // Makes `dir` and dir/train (with missing parents) and opens the train
  // event file with its file_version record. Throws Error(IO) naming the
  // directory or file that cannot be made or written.
  explicit TensorBoardLog(const std::filesystem::path& dir);
  // Before commit(): removes what it wrote and the directories it made.
  ~TensorBoardLog();
  TensorBoardLog(const TensorBoardLog&) = delete;
  TensorBoardLog& operator=(const TensorBoardLog&) = delete;

  // Appends the epoch's scalars (validation ones to dir/validation, made on
  // the first epoch that has test metrics) and flushes. Throws Error(IO)
  // naming the file.
  void add_epoch(const EpochReport& report);

  // Writes the projector's vectors and metadata of `model` (temporary until
  // commit()): items and users of a model whose item vectors say which items
  // are alike (ModelSpec::item_similarity: not popularity). Returns a note
  // for each table left out (too large, or the model has none), for the
  // caller to show.
  std::vector<std::string> add_projector(const ModelData& model);

  // Syncs and closes the event files, moves the projector files into place
  // and keeps everything. Throws Error(IO) naming the file; what was not yet
  // in place is removed then.
  void commit();

  const std::filesystem::path& dir() const noexcept { return dir_; }

 private:
  class EventFile;
  struct Projector;

  std::filesystem::path dir_;
  // Destroyed innermost first (reverse order), after the files in them.
  std::optional<OutputDirectory> root_;
  std::optional<OutputDirectory> train_dir_;
  std::optional<OutputDirectory> validation_dir_;
  std::optional<OutputDirectory> projector_dir_;
  std::unique_ptr<EventFile> train_;
  std::unique_ptr<EventFile> validation_;
  std::unique_ptr<Projector> projector_;
};

}  // namespace latent
