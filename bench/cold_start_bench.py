#!/usr/bin/python3
"""Cold-start items on MovieLens 100K (issue 16): latent's two-tower over
item features against LightFM (WARP) with the same features, popularity
among the cold items, and random, side by side in one run.

Protocol
    MovieLens 100K, positives = rating > 3. A seeded 20% of the movies
    (one split per --split-seeds seed, three by default) is held out
    entirely: none of their pairs is trained on, and they are not in the
    model's vocabulary. For each user with training
    pairs who rated held-out movies, the held-out movies (all of them, the
    candidates) are ranked; NDCG@10 (binary relevance) and Recall@10
    (hits / the user's held-out positives) are averaged over those users.
    Items are described by their genres, release year and title words
    (u.item), the vocabularies and statistics from the training movies only.

    latent     two-tower with --no-item-ids: an item's vector is the sum of
               its features' embeddings, so a held-out movie's vector is
               made as a training movie's; users keep id embeddings.
               Columns: genres:multi, year:numeric:buckets=10, title:text
               (with --tune, the title's dropout too: title:text:dropout=P).
    LightFM    LightFM(loss="warp", no_components=64), item features only
               (no identity features: a held-out movie has no trained
               identity), one-hot genres, one of 10 year buckets, title words,
               rows normalized (LightFM's Dataset default); 30 epochs.
    popularity the held-out movies by their positives in the held-out
               pairs themselves: an oracle no model has at cold start, a
               ceiling for "rank the popular ones first".
    random     a seeded random order.

    latent and LightFM: mean and spread of --seeds seeds on each split.
    Target: latent's NDCG@10 >= LightFM's, both the mean over the splits
    (one split's 336 movies move the figures by 0.02-0.04).

    /usr/bin/python3 bench/cold_start_bench.py [--ml100k DIR] [--seeds 3] [--split-seeds 0,1,2]
        [--tune]

LightFM runs in build/peers-venv (bench/peers.py installs it from PyPI);
latent through its Python module (build/python).
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "build" / "python"))

from peers import peers_python  # noqa: E402

GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
          "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
          "Romance", "Sci-Fi", "Thriller", "War", "Western"]

LIGHTFM = r'''
import json, sys, time
import numpy as np, pandas as pd
from lightfm import LightFM
from lightfm.data import Dataset
d = sys.argv[1]
train = pd.read_csv(f"{d}/train.csv")
items = pd.read_csv(f"{d}/items.csv", keep_default_na=False)
cold = pd.read_csv(f"{d}/cold.csv")["item"].tolist()
test = pd.read_csv(f"{d}/test.csv")
seed = int(sys.argv[2])
def feats(row):
    out = [f"g:{g}" for g in row["genres"].split("|") if g]
    if row["year_bucket"] != "":
        out.append(f"y:{row['year_bucket']}")
    out += [f"w:{w}" for w in row["words"].split(" ") if w]
    return out
all_features = sorted({f for _, r in items.iterrows() for f in feats(r)})
ds = Dataset(item_identity_features=False)
ds.fit(users=train["user"].unique(), items=items["item"], item_features=all_features)
inter, _ = ds.build_interactions(zip(train["user"], train["item"]))
item_features = ds.build_item_features((r["item"], feats(r)) for _, r in items.iterrows())
model = LightFM(loss="warp", no_components=64, random_state=seed)
t0 = time.perf_counter()
model.fit(inter, item_features=item_features, epochs=int(sys.argv[3]), num_threads=2)
seconds = time.perf_counter() - t0
umap, _, imap, _ = ds.mapping()
cold_rows = np.array([imap[i] for i in cold], dtype=np.int32)
scores = {}
for u in test["user"].unique():
    s = model.predict(umap[u], cold_rows, item_features=item_features, num_threads=2)
    scores[str(u)] = [cold[j] for j in np.argsort(-s, kind="stable")[:10]]
print(json.dumps({"seconds": seconds, "top": scores}))
'''


def words(title):
    """Title words as latent's text type splits them (ASCII lowercased,
    split on what is not a letter or digit)."""
    return " ".join(w for w in re.split(r"[^0-9a-z\x80-\xff]+", title.lower()) if w)


def metrics(top, relevant):
    ndcg, recall = [], []
    for u, rel in relevant.items():
        ranked = top[u][:10]
        dcg = sum(1.0 / np.log2(r + 2) for r, i in enumerate(ranked) if i in rel)
        ideal = sum(1.0 / np.log2(r + 2) for r in range(min(10, len(rel))))
        ndcg.append(dcg / ideal)
        recall.append(sum(1 for i in ranked if i in rel) / len(rel))
    return float(np.mean(ndcg)), float(np.mean(recall))


def run_latent(train, cold_list, relevant, movies, params, seeds):
    """latent's top 10 of the cold movies for each user of `relevant`, one
    dict per seed, and the training seconds."""
    import latent
    data = latent.Dataset.from_dataframe(train[["user", "item"]], user_col="user",
                                         item_col="item")
    table = movies[["item", "genres", "year", "title"]].copy()
    table["genres"] = table["genres"].str.split("|")
    params = dict(params)
    title = params.pop("title", "text")
    features = latent.Features(table, {"genres": "multi", "year": "numeric:buckets=10",
                                       "title": title}, id="item")
    cold = set(cold_list)
    cold_features = {int(r.item): {"genres": r.genres.split("|") if r.genres else [],
                                   "year": None if np.isnan(r.year) else float(r.year),
                                   "title": r.title}
                     for r in movies[movies["item"].isin(cold)].itertuples()}
    tops, seconds = [], []
    for seed in seeds:
        model = latent.Model("two-tower", item_ids=False, seed=seed, threads=2, **params)
        t0 = time.perf_counter()
        model.fit(data, item_features=features, verbose=False)
        seconds.append(time.perf_counter() - t0)
        vectors = np.stack([model.item_vector_for_features(cold_features[i]) for i in cold_list])
        top = {}
        for u in relevant:
            s = vectors @ model.user_embedding(int(u))
            top[u] = [cold_list[j] for j in np.argsort(-s, kind="stable")[:10]]
        tops.append(top)
    return tops, seconds


def run_lightfm(python, train, test, cold_list, movies, epochs, seeds):
    """LightFM's top 10 of the cold movies for each test user, one dict per
    seed, and the training seconds; in the peers' venv."""
    tops, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        train[["user", "item"]].to_csv(f"{tmp}/train.csv", index=False)
        test[["user", "item"]].to_csv(f"{tmp}/test.csv", index=False)
        pd.DataFrame({"item": cold_list}).to_csv(f"{tmp}/cold.csv", index=False)
        movies[["item", "genres", "year_bucket", "words"]].to_csv(f"{tmp}/items.csv", index=False)
        for seed in seeds:
            run = subprocess.run([str(python), "-c", LIGHTFM, tmp, str(seed), str(epochs)],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"LightFM failed:\n{run.stderr}")
            result = json.loads(run.stdout)
            tops.append(result["top"])
            seconds.append(result["seconds"])
    return tops, seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ml100k", default=str(ROOT.parent / "shared" / "data" / "ml-100k"))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--split-seeds", default="0,1,2",
                    help="the splits of the movies (comma-separated seeds); the target is on "
                         "the mean over them")
    ap.add_argument("--epochs", type=int, default=10, help="latent's epochs without --tune")
    ap.add_argument("--title-grid", default="text,text:dropout=0.25,text:dropout=0.5,"
                                            "text:dropout=0.75",
                    help="the title column's declarations --tune chooses among")
    ap.add_argument("--tune", action="store_true",
                    help="choose latent's epochs and learning rate, and LightFM's epochs, on a "
                         "validation split of the training movies")
    args = ap.parse_args()
    d = pathlib.Path(args.ml100k)
    if not (d / "u.data").exists():
        sys.exit(f"{d}: MovieLens 100K not found (--ml100k DIR)")

    ratings = pd.read_csv(d / "u.data", sep="\t", names=["user", "item", "rating", "ts"])
    pos = ratings[ratings["rating"] > 3]
    cols = ["item", "title", "date", "video", "url"] + GENRES
    movies = pd.read_csv(d / "u.item", sep="|", names=cols, encoding="latin-1")
    movies["genres"] = movies[GENRES].apply(
        lambda r: "|".join(g for g, v in zip(GENRES, r) if v == 1), axis=1)
    movies["year"] = pd.to_numeric(movies["date"].str[-4:], errors="coerce")
    movies["words"] = movies["title"].map(words)

    python = peers_python(ROOT / "build" / "peers-venv",
                          {"lightfm": "lightfm==1.17", "pandas": "pandas"})
    splits = [int(x) for x in args.split_seeds.split(",")]
    per_split = []
    for split_seed in splits:
        per_split.append(run_split(args, split_seed, pos, movies, python))
        print()
    # Each row's mean over the splits (the rows' names, with their chosen
    # settings, may differ between splits: the first two are latent and LightFM).
    print(f"mean over the splits {args.split_seeds}:")
    print("| row | NDCG@10 | Recall@10 |")
    print("|---|--:|--:|")
    for k, name in enumerate(["latent two-tower, features only", "LightFM WARP, item features only",
                              "popularity among the cold items (oracle)", "random"]):
        nd = np.mean([rows[k][1] for rows in per_split])
        rc = np.mean([rows[k][3] for rows in per_split])
        print(f"| {name} | {nd:.4f} | {rc:.4f} |")
    latent_ndcg = np.mean([rows[0][1] for rows in per_split])
    lightfm_ndcg = np.mean([rows[1][1] for rows in per_split])
    verdict = "PASS" if latent_ndcg >= lightfm_ndcg else "FAIL"
    print(f"\ntarget latent NDCG@10 >= LightFM's (mean over {len(splits)} splits): "
          f"{latent_ndcg:.4f} vs {lightfm_ndcg:.4f} ({latent_ndcg / lightfm_ndcg:.2f}x) {verdict}")


def run_split(args, split_seed, pos, movies, python):
    """One split's rows: (name, NDCG@10 mean and spread, Recall@10 mean and
    spread, train seconds) for latent, LightFM, popularity and random."""
    rng = np.random.default_rng(split_seed)
    ids = movies["item"].to_numpy()
    cold = set(rng.choice(ids, size=len(ids) // 5, replace=False).tolist())
    train = pos[~pos["item"].isin(cold)]
    test = pos[pos["item"].isin(cold) & pos["user"].isin(set(train["user"]))]
    cold_list = sorted(cold)
    relevant = {str(u): set(g["item"]) for u, g in test.groupby("user")}
    print(f"MovieLens 100K, rating > 3: {len(pos)} pairs; {len(cold)} of {len(ids)} movies held "
          f"out (split seed {split_seed}); {len(train)} training pairs; "
          f"{len(test)} held-out pairs of {len(relevant)} users", flush=True)

    # Year buckets for LightFM from the training movies' years (deciles).
    warm_years = movies[~movies["item"].isin(cold)]["year"].dropna()
    edges = np.quantile(warm_years, np.linspace(0, 1, 11)[1:-1])
    movies["year_bucket"] = movies["year"].map(
        lambda y: "" if np.isnan(y) else str(int(np.searchsorted(edges, y, side="right"))))

    rows = []

    def add(name, tops, seconds):
        scores = [metrics(t, relevant) for t in tops]
        nd = [s[0] for s in scores]
        rc = [s[1] for s in scores]
        rows.append((name, np.mean(nd), np.std(nd), np.mean(rc), np.std(rc),
                     np.mean(seconds) if seconds else float("nan")))
        print(f"  {name}: NDCG@10 {np.mean(nd):.4f}, Recall@10 {np.mean(rc):.4f}", flush=True)

    # title:text:dropout=P: training leaves each title word out of a batch
    # with probability P, so the words of one movie cannot stand in for its
    # id (which a cold movie does not have), and genres and year learn too.
    latent_grid = [dict(epochs=e, learning_rate=lr, title=t) for e in (10, 20, 40)
                   for lr in (0.05, 0.1)
                   for t in args.title_grid.split(",")]
    lightfm_grid = [10, 30, 60]
    chosen_latent = dict(epochs=args.epochs, learning_rate=0.05, title="text")
    chosen_lightfm = 30
    if args.tune:
        # A validation split of the training movies alone, as the test split
        # is of all: the settings are chosen on it, never on the test part.
        vrng = np.random.default_rng(split_seed + 1)
        warm = np.array(sorted(set(train["item"])))
        vcold = set(vrng.choice(warm, size=len(warm) // 5, replace=False).tolist())
        vtrain = train[~train["item"].isin(vcold)]
        vtest = train[train["item"].isin(vcold) & train["user"].isin(set(vtrain["user"]))]
        vrel = {str(u): set(g["item"]) for u, g in vtest.groupby("user")}
        vcold_list = sorted(vcold)
        print(f"validation: {len(vcold)} of the {len(warm)} training movies held out", flush=True)
        best = None
        for params in latent_grid:
            tops, _ = run_latent(vtrain, vcold_list, vrel, movies, params, [1])
            nd = metrics(tops[0], vrel)[0]
            print(f"  latent {params}: validation NDCG@10 {nd:.4f}", flush=True)
            if best is None or nd > best[0]:
                best = (nd, params)
        chosen_latent = best[1]
        best = None
        for epochs in lightfm_grid:
            tops, _ = run_lightfm(python, vtrain, vtest, vcold_list, movies, epochs, [1])
            nd = metrics(tops[0], vrel)[0]
            print(f"  LightFM epochs {epochs}: validation NDCG@10 {nd:.4f}", flush=True)
            if best is None or nd > best[0]:
                best = (nd, epochs)
        chosen_lightfm = best[1]

    seeds = list(range(1, args.seeds + 1))
    tops, seconds = run_latent(train, cold_list, relevant, movies, chosen_latent, seeds)
    add(f"latent two-tower, features only ({chosen_latent['epochs']} epochs, learning rate "
        f"{chosen_latent['learning_rate']}, title:{chosen_latent['title']})", tops, seconds)
    tops, seconds = run_lightfm(python, train, test, cold_list, movies, chosen_lightfm, seeds)
    version = subprocess.run([str(python), "-c", "import lightfm; print(lightfm.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    add(f"LightFM {version} WARP, item features only ({chosen_lightfm} epochs)", tops, seconds)

    counts = test.groupby("item").size()
    popular = sorted(cold_list, key=lambda i: (-counts.get(i, 0), i))
    add("popularity among the cold items (oracle)", [{u: popular[:10] for u in relevant}], [])
    rng = np.random.default_rng(1)
    add("random", [{u: list(rng.permutation(cold_list)[:10]) for u in relevant}
                   for _ in range(args.seeds)], [])

    print()
    print("| row | NDCG@10 | Recall@10 | train s |")
    print("|---|--:|--:|--:|")
    for name, nd, nds, rc, rcs, s in rows:
        spread = f" ± {nds:.4f}" if nds > 0 else ""
        print(f"| {name} | {nd:.4f}{spread} | {rc:.4f} | "
              f"{'' if np.isnan(s) else f'{s:.1f}'} |")
    return rows


if __name__ == "__main__":
    main()
