"""The approximate index from Python (Model.build_index, recommend's exact and
ef, save/load with the model's companion file), against the exact search as
the oracle and against the CLI on the same saved model."""

import subprocess
import warnings

import pytest

import latent

from conftest import CLI


@pytest.fixture(scope="module")
def als(ratings):
    data = latent.Dataset.from_dataframe(ratings)
    model = latent.Model("als", dim=32, epochs=5, threads=1)
    model.fit(data, verbose=False)
    return model


def recall(approx, exact):
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx.tolist(), exact.tolist()))
    return hits / exact.size


def test_index_finds_the_exact_top_k_and_more_effort_finds_all(als):
    _, user_ids = als.user_embeddings()
    sample = user_ids[1:301]
    exact, exact_scores = als.recommend(sample, k=10, exclude_seen=True)
    info = als.build_index(m=16, ef_construction=100, ef=64, threads=1)
    assert info["type"] == "hnsw" and info["ef"] == 64 and info["bytes"] > 0
    approx, approx_scores = als.recommend(sample, k=10, exclude_seen=True)
    assert recall(approx, exact) >= 0.95
    # Full effort: the exact answer, scores bit for bit.
    full, full_scores = als.recommend(sample, k=10, exclude_seen=True, ef=20000)
    assert (full == exact).all() and (full_scores == exact_scores).all()
    # exact=True ignores the index.
    again, _ = als.recommend(sample, k=10, exclude_seen=True, exact=True)
    assert (again == exact).all()
    for bad in (0, -1):
        with pytest.raises(ValueError, match="ef must be positive"):
            als.recommend(sample[:1], k=10, ef=bad)
    als.drop_index()
    assert als.index_info() is None


def test_saved_with_the_model_and_loaded_with_it(als, tmp_path):
    path = tmp_path / "m.latent"
    als.build_index(ef=32, threads=1)
    als.save(path)
    assert (tmp_path / "m.latent.index").exists()
    loaded = latent.load(path)
    assert loaded.index_info()["ef"] == 32
    _, user_ids = als.user_embeddings()
    sample = user_ids[1:101]
    a, sa = als.recommend(sample, k=10, exclude_seen=True)
    b, sb = loaded.recommend(sample, k=10, exclude_seen=True)
    assert (a == b).all() and (sa == sb).all()

    # The CLI searches the same index the same way.
    cli = subprocess.run([str(CLI), "recommend", str(path), "--user", str(sample[0]), "--k", "10",
                          "--exclude-seen"], capture_output=True, text=True, check=True)
    cli_items = [line.split(",")[1] for line in cli.stdout.splitlines()[1:]]
    assert cli_items == [str(i) for i in b[0]]

    # Saved again without an index: the stale companion goes with the old model.
    loaded.drop_index()
    loaded.save(path)
    assert not (tmp_path / "m.latent.index").exists()
    als.drop_index()


def test_a_damaged_index_is_a_warning_and_the_model_searches_every_item(als, tmp_path):
    path = tmp_path / "m.latent"
    als.build_index(threads=1)
    als.save(path)
    als.drop_index()
    index = tmp_path / "m.latent.index"
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0xFF
    index.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = latent.load(path)
    assert any("checksum" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert "checksum" in loaded.index_info()["problem"]
    _, user_ids = als.user_embeddings()
    a, _ = als.recommend(user_ids[1:51], k=10, exclude_seen=True)
    b, _ = loaded.recommend(user_ids[1:51], k=10, exclude_seen=True)
    assert (a == b).all()


def test_similar_items_and_pairs_search_their_own_index(als, tmp_path):
    _, item_ids = als.item_embeddings()
    sample = item_ids[1:201]
    exact = [als.similar_items(i, k=10) for i in sample]
    pairs = als.similar_pairs(0.9)
    info = als.build_index(ef=64, threads=1)
    similar = als.similar_index_info()
    assert info["type"] == "hnsw" and similar["type"] == "hnsw" and similar["bytes"] > 0
    approx = [als.similar_items(i, k=10)[0] for i in sample]
    hits = sum(len(set(a) & set(e)) for a, (e, _) in zip(approx, exact))
    assert hits / (10 * len(sample)) >= 0.9
    # Full effort: the exact answer, similarities bit for bit; exact=True ignores the index.
    for item, (ids, sims) in zip(sample[:20], exact):
        full_ids, full_sims = als.similar_items(item, k=10, ef=20000)
        assert list(full_ids) == list(ids) and (full_sims == sims).all()
        assert list(als.similar_items(item, k=10, exact=True)[0]) == list(ids)
    # Pairs through the index: some may be missed, none misreported.
    found = als.similar_pairs(0.9)
    truth = {(a, b): s for a, b, s in pairs.itertuples(index=False)}
    assert len(found) >= 0.9 * len(pairs) and len(pairs) > 100
    assert all(truth[(a, b)] == s for a, b, s in found.itertuples(index=False))
    assert als.similar_pairs(0.9, exact=True).equals(pairs)
    with pytest.raises(ValueError, match="ef must be positive"):
        als.similar_items(sample[0], ef=0)

    path = tmp_path / "m.latent"
    als.save(path)
    assert (tmp_path / "m.latent.similar.index").exists()
    loaded = latent.load(path)
    assert loaded.similar_index_info()["ef"] == 64
    assert list(loaded.similar_items(sample[0], k=10)[0]) == list(approx[0])
    # Only the recommendations' index: the similar one goes with the old save.
    als.drop_index()
    als.build_index(threads=1, similar=False)
    assert als.similar_index_info() is None
    als.save(path)
    assert not (tmp_path / "m.latent.similar.index").exists()
    als.drop_index()
