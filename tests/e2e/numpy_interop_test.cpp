// numpy users read latent's exports and model files without latent: the
// embeddings .npy with numpy.load, and the model file (safetensors layout)
// with json + numpy.frombuffer. Runs Debian's /usr/bin/python3 and skips
// when it or numpy is missing.

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include <latent/recommender.hpp>

#include "e2e/cli_runner.hpp"
#include "fixtures/tiny_dataset.hpp"

namespace latent::test {
namespace {

bool have_numpy() { return std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0; }

TEST(NumpyInterop, ReadsEmbeddingsAndTheModelFile) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not found; skipping";
  TempDir dir;
  const auto csv = dir / "events.csv";
  write_bytes(csv, two_group_csv());
  const auto model = (dir / "m.latent").string();
  ASSERT_EQ(run_cli({"train", "--data", csv.string(), "--model", "als", "--dim", "8",
                     "--regularization", "2", "--out", model, "--quiet"})
                .exit_code,
            0);
  ASSERT_EQ(run_cli({"embeddings", model, "--out-dir", (dir / "emb").string()}).exit_code, 0);

  const auto script = dir / "read.py";
  write_bytes(script, R"(import json, struct, sys
import numpy as np
model, emb = sys.argv[1], sys.argv[2]
items = np.load(emb + "/item_embeddings.npy")
with open(model, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
t = header["item_embeddings"]
begin, end = t["data_offsets"]
raw = np.frombuffer(data[begin:end], dtype="<f4").reshape(t["shape"])
assert header["__metadata__"]["format"] == "latent"
assert raw.shape == items.shape, (raw.shape, items.shape)
assert np.array_equal(raw, items)
print(items.shape[0], items.shape[1])
)");
  const auto out = dir / "out.txt";
  const std::string cmd = "/usr/bin/python3 " + shell_quote(script.string()) + " " +
                          shell_quote(model) + " " + shell_quote((dir / "emb").string()) + " > " +
                          shell_quote(out.string()) + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << read_bytes(out);
  const Recommender loaded = Recommender::load(model);
  EXPECT_EQ(read_bytes(out), std::to_string(loaded.model().item_embeddings.rows()) + " 8\n");
}

}  // namespace
}  // namespace latent::test
