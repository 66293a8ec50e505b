#pragma once
// The two-tower model's training step core, private to latent: a batch
// reduced to its distinct users and items, and the exact in-batch softmax
// (TFRS tasks.Retrieval) computed over them with multiplicities. Tests
// compare it against the plain B x B computation.

#include <cstdint>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include <latent/interactions.hpp>
#include <latent/two_tower.hpp>

namespace latent::detail {

// One training batch reduced to its distinct users and items. Buffers live
// across batches: fresh large buffers per step cost page faults that can
// dominate a small step.
class Batch {
 public:
  Batch(std::int32_t num_users, std::int32_t num_items)
      : user_slot_(static_cast<std::size_t>(num_users), -1),
        item_slot_(static_cast<std::size_t>(num_items), -1) {}

  // Distinct users (rows), distinct items (rows) with their multiplicity in
  // the batch (columns of the B x B matrix, whatever the weights), and
  // distinct (user, item) pairs grouped by user with their row count and
  // summed sample weight (the rows' loss scale).
  std::vector<std::int32_t> users, items;
  std::vector<float> item_count;
  std::vector<std::int32_t> pair_begin;  // users.size() + 1 offsets
  std::vector<std::int32_t> pair_item;   // local item index
  std::vector<float> pair_count;
  std::vector<float> pair_weight;
  // Each position's (row's) user and item by their indices above, in the
  // order of the positions build() was given.
  std::vector<std::int32_t> position_user, position_item;

  void build(const Interactions& x, std::span<const std::size_t> positions);
  // Makes every catalog item (rows 1..num_items-1) a column, once each: the
  // softmax then runs over the whole catalog instead of the batch's items.
  void use_catalog_columns(std::int32_t num_items);

 private:
  static std::int32_t slot(std::vector<std::int32_t>& table, std::vector<std::int32_t>& distinct,
                           std::int32_t row);
  std::vector<std::int32_t> user_slot_, item_slot_;
  std::vector<std::pair<std::uint64_t, float>> keys_;  // (user << 32 | item, weight)
};

// The in-batch softmax over distinct items with multiplicities. For the row
// of pair p = (u, i_p), column weights w_p(i) = c_i (how often item i is in
// the batch), except w_p(i_p) = 1 when accidental hits are removed (its
// duplicates are masked). Then Z_p = sum_i w_p(i) e_ui, the loss is
// n_p (log Z_p - l_{u,i_p}), and dL/dl_ui = sum_p n_p w_p(i) e_ui / Z_p -
// n(u, i), where n_p is the summed sample weight of the pair's rows. With hard negatives each row
// keeps its positive column plus the `h` highest-logit negative columns (counting multiplicities),
// as TFRS's HardNegativeMining does on the B x B matrix.
class InBatchSoftmax {
 public:
  explicit InBatchSoftmax(const TwoTowerConfig& c) : c_(c) {}

  // Sees the logits of rows [k0, k1) of `users` (row k at logits + (k - k0) * items, before
  // temperature and corrections); called from several threads at once, on disjoint rows.
  using LogitsHook = std::function<void(std::int64_t k0, std::int64_t k1, const float* logits)>;

  // The softmax of the batch's users of indices `users` (all of them, or one rank's share of a
  // distributed batch) over the batch's items, from their vectors: ud is users.size() x dim,
  // id is b.items.size() x dim. Writes the gradients of scale * loss with respect to them to
  // gu (users.size() x dim) and gi (items x dim), and returns scale * the summed batch loss.
  // The users x items logits never exist whole: each block of rows is scored, turned into its
  // gradient and multiplied back while in cache, which saves most of the step's memory traffic
  // when every pair is a row of its own (context features). The blocks' item gradients are
  // summed in a fixed order, so the result does not depend on the thread count.
  double gradients(const Batch& b, std::span<const std::int64_t> users, const float* ud,
                   const float* id, std::int32_t dim, std::span<const float> log_q, float scale,
                   float* gu, float* gi, int threads, const LogitsHook& on_logits = {});

 private:
  // Per-thread buffers reused across rows and batches.
  struct Scratch {
    std::vector<std::int32_t> order;
    std::vector<float> pos_logit;
    std::vector<std::pair<std::int32_t, double>> terms;
    std::vector<float> logits, grad;  // a block's
  };
  // Turns row l (the logits of batch user u) into its gradient g; returns its loss.
  double row(const Batch& b, std::int64_t u, float* l, float* g, std::int64_t ni,
             std::span<const float> log_q, Scratch& scratch) const;

  const TwoTowerConfig& c_;
  std::vector<Scratch> scratch_;  // one per thread
  std::vector<float> partial_;    // the item gradients of parts 1.. (part 0's go to gi)
  std::vector<double> part_loss_;
};

}  // namespace latent::detail
