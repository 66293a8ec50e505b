"""`latent report` end to end, drawn by a real browser.

Trains a small two-tower model on the bundled data set (with one title
holding "</script>" markup), evaluates two more models with
`latent evaluate --json`, writes the report, and opens it in headless
Chromium (Debian's `chromium`):

- `--dump-dom`: the page's script ran to its end (`data-rendered="true"` on
  <body>, set last), raised nothing (no `data-error`, which window.onerror
  sets), logged nothing to the console (Chromium's stderr log), drew the
  charts and one SVG circle with a <title> per mapped item, and the hostile
  title is text in the page, not markup;
- `--screenshot`: the PNG (decoded here with zlib) is not blank;
- a page whose embedded data is broken is caught by the same checks, so
  they can fail.

Exits 77 (ctest: skipped) with a message when chromium is absent, except
under CI (CI=true), where that is a failure.
Environment: LATENT_CLI (the latent binary), LATENT_SOURCE_DIR.
"""

import csv
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def browse(chromium, page, profile, *mode):
    """Chromium's stdout and stderr for `page` in one of its headless modes."""
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--hide-scrollbars", "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--window-size=1200,2000",
            "--enable-logging=stderr", "--v=0", *mode, f"file://{page}"]
    result = subprocess.run(args, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise AssertionError(f"chromium exited {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout, result.stderr


def console_messages(log):
    """The page's console output as Chromium logs it: lines with CONSOLE."""
    return [line for line in log.splitlines() if "CONSOLE" in line]


def png_rows(path):
    """Width, height, channels and unfiltered rows (bytes) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    n = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * n
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(n, stride):
                line[i] = (line[i] + line[i - n]) & 0xFF
        elif kind == 2:
            line = bytearray((x + p) & 0xFF for x, p in zip(line, prev))
        elif kind == 3:
            for i in range(stride):
                a = line[i - n] if i >= n else 0
                line[i] = (line[i] + (a + prev[i]) // 2) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - n] if i >= n else 0
                b = prev[i]
                c = prev[i - n] if i >= n else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, n, rows


def main():
    cli = os.environ["LATENT_CLI"]
    source = os.environ["LATENT_SOURCE_DIR"]
    chromium = chromium_binary()
    if chromium is None:
        if os.environ.get("CI") == "true":
            print("chromium is not installed, and CI must render the report: "
                  "scripts/install-deps.sh installs it", file=sys.stderr)
            return 1
        print("SKIPPED: chromium not found (apt-get install chromium, or "
              "scripts/install-deps.sh); the report is not rendered")
        return SKIP
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="latent-report-") as tmp:
        try:
            check(cli, source, chromium, tmp)
        finally:
            # LATENT_REPORT_KEEP=DIR keeps the page, its data and the screenshot.
            keep = os.environ.get("LATENT_REPORT_KEEP")
            if keep:
                os.makedirs(keep, exist_ok=True)
                for name in ("report.html", "report.json", "report.png", "dom.html"):
                    if os.path.exists(os.path.join(tmp, name)):
                        shutil.copy(os.path.join(tmp, name), keep)
    print(f"report rendered and checked in {time.monotonic() - started:.1f} s")
    return 0


def check(cli, source, chromium, tmp):
    # The bundled data, with Toy Story's title made hostile.
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    bundled = os.path.join(source, "data", "ml-latest-small")
    os.symlink(os.path.join(bundled, "ratings.csv"), os.path.join(data, "ratings.csv"))
    hostile = ("Toy Story </script><script>document.body.setAttribute('data-pwned', '1')"
               "</script><!-- & \"friends\"")
    with open(os.path.join(bundled, "movies.csv"), newline="", encoding="utf-8") as f:
        movies = list(csv.reader(f))
    for row in movies:
        if row[0] == "1":
            row[1] = hostile
    with open(os.path.join(data, "movies.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(movies)

    model = os.path.join(tmp, "tt.latent")
    # In-batch negatives and no running train metrics: 6 s instead of about
    # 60 s for the catalog softmax on a loaded 2-core machine.
    run([cli, "train", "--data", data, "--model", "two-tower", "--dim", "16", "--epochs", "3",
         "--negatives", "in-batch", "--batch-size", "1024", "--no-train-metrics",
         "--test-fraction", "0.1", "--threads", "2", "--out", model, "-q"])
    evaluations = []
    for name in ("als", "popularity"):
        path = os.path.join(tmp, f"{name}.json")
        run([cli, "evaluate", "--data", data, "--model", name, "--k", "5,10,20",
             "--json", path, "-q"])
        evaluations += ["--evaluation", path]
    page = os.path.join(tmp, "report.html")
    report_json = os.path.join(tmp, "report.json")
    run([cli, "report", model, *evaluations, "--out", page, "--json", report_json])
    with open(report_json, encoding="utf-8") as f:
        report = json.load(f)
    mapped = report["map"]["items"]
    assert len(report["history"]) == 3, report["history"]
    assert mapped == min(5000, report["model"]["items"]), report["map"]["items"]
    assert report["map"]["capped"], "the bundled catalog has more than 5,000 items"

    profile = os.path.join(tmp, "profile")
    dom, log = browse(chromium, page, profile, "--dump-dom")
    with open(os.path.join(tmp, "dom.html"), "w", encoding="utf-8") as f:
        f.write(dom)
    assert console_messages(log) == [], "\n".join(console_messages(log))
    body = re.search(r"<body[^>]*>", dom)
    assert body, dom[:2000]
    assert 'data-rendered="true"' in body.group(0), f"the script did not finish: {body.group(0)}"
    assert "data-error" not in body.group(0), body.group(0)
    assert "data-pwned" not in body.group(0), "a title's markup ran as script"
    assert "Toy Story &lt;/script&gt;&lt;script&gt;" in dom, "the hostile title is not text"
    map_svg = re.search(r'<svg[^>]*id="map-svg".*?</svg>', dom, re.S)
    assert map_svg, "no map"
    assert map_svg.group(0).count("<circle") == mapped
    assert map_svg.group(0).count("<title>") == mapped
    assert dom.count("<svg") >= 8, f"{dom.count('<svg')} charts"
    for heading in ("Training curves", "Metrics at K", "Item popularity",
                    "Recommendation coverage", "Item embeddings"):
        assert heading in dom, heading
    assert dom.count('class="best"') > 0, "no metrics table"
    assert f"The {mapped:,} most popular of {report['model']['items']:,} items are shown" in dom, \
        "the page does not say the map is capped"

    shot = os.path.join(tmp, "report.png")
    browse(chromium, page, profile, f"--screenshot={shot}")
    width, height, n, rows = png_rows(shot)
    colored, colours = 0, set()
    for y, row in enumerate(rows):
        pixels = zip(row[0::n], row[1::n], row[2::n])
        colored += sum(1 for p in pixels if min(p) < 235)
        if y % 4 == 0:
            colours.update(zip(row[0::4 * n], row[1::4 * n], row[2::4 * n]))
    share = colored / (width * height)
    distinct = len(colours)
    print(f"screenshot {width}x{height}: {share:.1%} non-white pixels, "
          f"{distinct} colours in a 1/16 sample")
    assert share > 0.02 and distinct > 20, "the screenshot is blank"

    # The checks above can fail: a page whose data does not parse.
    with open(page, encoding="utf-8") as f:
        text = f.read()
    broken = os.path.join(tmp, "broken.html")
    marker = '<script type="application/json" id="report-data">'
    with open(broken, "w", encoding="utf-8") as f:
        f.write(text.replace(marker, marker + "{", 1))
    dom, log = browse(chromium, broken, profile, "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert "data-rendered" not in body and "data-error" in body, body
    assert console_messages(log), "Chromium logged no console error for a broken page"


if __name__ == "__main__":
    sys.exit(main())
