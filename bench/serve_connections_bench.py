#!/usr/bin/python3
"""What many idle or slow connections cost ``latent serve`` (issue 11, item 8).

Two measurements, each on its own server process serving a small popularity
model (a seeded synthetic CSV, 1,000 users x 500 items):

fd-exhaustion
    The server starts with its open-file limit at --nofile (default 1024,
    as ``ulimit -n 1024``); --idle connections (default 1,100) connect and
    send nothing. Then, over --seconds (default 5): the CPU the server
    process uses (utime + stime from /proc/PID/stat, in CPU-seconds per
    second) while no request is sent; then the latency of GET /healthz on a
    new connection, one after another for --seconds (median and max; a
    request not answered in 30 s counts as inf). Finally the idle
    connections close and one more request is timed. The server runs with
    --rest_api_timeout_seconds 60 (idle connections stay for the whole
    measurement) and any flags given after ``--`` (``-- --max_connections
    5000`` sets the limit above the descriptors, so accept() fails with
    EMFILE instead).
slow-connections
    --slow connections (default 1,500) each send part of a request header
    and nothing more (a slow client). The server's resident memory (VmRSS)
    is printed before they connect, while they are open, and after they
    closed (after a request, and again after --settle seconds).

Run from the repository root after building the CLI:

    /usr/bin/python3 bench/serve_connections_bench.py
    /usr/bin/python3 bench/serve_connections_bench.py --latent /path/to/old/latent  # compare
"""

import argparse
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(latent, base, nofile, extra):
    def limit():
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        [latent, "serve", "--model_name", "m", "--model_base_path", base, "--rest_api_port", "0",
         "--rest_api_host", "127.0.0.1", "--file_system_poll_wait_seconds", "0"] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=limit)
    for line in proc.stdout:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    sys.exit("the server did not start")


def timed_get(port, timeout=30.0):
    """Seconds for GET /healthz on a new connection, and the status line."""
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return time.monotonic() - start, data.split(b"\r\n", 1)[0].decode()


def open_connections(port, n, payload=b""):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        if payload:
            s.sendall(payload)
        socks.append(s)
    return socks


def fd_exhaustion(args, base):
    # Idle connections stay open for the whole measurement.
    proc, port = start_server(args.latent, base, args.nofile,
                              ["--rest_api_timeout_seconds", "60"] + args.serve_args)
    try:
        socks = open_connections(port, args.idle)
        time.sleep(1)  # let the server accept what it can
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        time.sleep(args.seconds)
        idle_cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        t0 = time.monotonic()
        latencies = []
        while time.monotonic() - t0 < args.seconds:
            try:
                latencies.append(timed_get(port)[0])
            except OSError:
                latencies.append(float("inf"))
        print(f"fd-exhaustion: ulimit -n {args.nofile}, {args.idle} idle connections: "
              f"server CPU {idle_cpu:.2f} CPU-s/s with no request; GET /healthz on a new "
              f"connection: "
              f"median {statistics.median(latencies) * 1000:.1f} ms, "
              f"max {max(latencies) * 1000:.1f} ms over {len(latencies)} requests")
        for s in socks:
            s.close()
        time.sleep(0.5)
        seconds, status = timed_get(port)
        print(f"fd-exhaustion: after the idle connections closed: {status}, "
              f"{seconds * 1000:.1f} ms")
    finally:
        proc.terminate()
        proc.wait()


def slow_connections(args, base):
    proc, port = start_server(args.latent, base, 0, args.serve_args)
    try:
        timed_get(port)
        before = rss_kib(proc.pid)
        socks = open_connections(port, args.slow, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        time.sleep(1)
        during = rss_kib(proc.pid)
        for s in socks:
            s.close()
        time.sleep(0.5)
        timed_get(port)
        after = rss_kib(proc.pid)
        time.sleep(args.settle)
        settled = rss_kib(proc.pid)
        print(f"slow-connections: {args.slow} slow connections: VmRSS {before / 1024:.1f} MiB "
              f"before, {during / 1024:.1f} MiB while open, {after / 1024:.1f} MiB after they "
              f"closed, {settled / 1024:.1f} MiB {args.settle:g} s later")
    finally:
        proc.terminate()
        proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--latent", default=os.path.join(ROOT, "build", "bin", "latent"))
    p.add_argument("--nofile", type=int, default=1024)
    p.add_argument("--idle", type=int, default=1100)
    p.add_argument("--slow", type=int, default=1500)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--settle", type=float, default=6)
    p.add_argument("--cases", default="fd-exhaustion,slow-connections")
    p.add_argument("serve_args", nargs="*", help="more `latent serve` flags (after --)")
    args = p.parse_args()
    need = args.slow + args.idle + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    with tempfile.TemporaryDirectory() as work:
        csv = os.path.join(work, "data.csv")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([args.latent, "synth", "--out", csv, "--users", "1000", "--items", "500",
                        "--pairs", "20000"], check=True, **quiet)
        os.makedirs(os.path.join(work, "m", "1"))
        subprocess.run([args.latent, "train", "--data", csv, "--model", "popularity", "--out",
                        os.path.join(work, "m", "1", "model.latent")], check=True, **quiet)
        base = os.path.join(work, "m")
        for case in args.cases.split(","):
            {"fd-exhaustion": fd_exhaustion, "slow-connections": slow_connections}[case](args, base)


if __name__ == "__main__":
    main()
