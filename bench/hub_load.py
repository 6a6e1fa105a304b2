"""Hub benchmark: the hub under N pushing cameras and M MJPEG viewers, next to two references on the same load.

For each (N, M) case, three servers each run in their own fresh process and take the same load from
`bench.loadgen` (another process): the hub, the naive Flask receiver ESP32 projects copy
(`bench/peers/flask_receiver.py`), and a raw asyncio relay with no HTTP (`bench.loopback`, the machine's
loopback limit). The hub is then reported as ratios to both.

    python -m bench.hub_load [--seconds 8] [--cases 1x1,10x20,50x100]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from bench import procstat

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = ((1, 1), (10, 20), (50, 100))
SERVERS = ("hub", "flask", "loopback")
API_KEY = "benchkey"
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
RATIO_METRICS = ("ingest_fps", "cpu_ms_per_frame", "latency_p50_ms", "latency_p99_ms", "peak_rss_mb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_argv(kind: str, port: int, data_dir: str) -> list[str]:
    if kind == "hub":
        return [sys.executable, "-m", "camhub", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir]
    if kind == "flask":
        return [sys.executable, str(ROOT / "bench" / "peers" / "flask_receiver.py"), "--port", str(port)]
    if kind == "loopback":
        return [sys.executable, "-m", "bench.loopback", "--port", str(port)]
    raise ValueError(f"unknown server {kind!r} (one of {', '.join(SERVERS)})")


class Server:
    """One server process on 127.0.0.1, its output in a log file so a full pipe can never stall it."""

    def __init__(self, kind: str, workdir: str) -> None:
        self.kind = kind
        self.port = _free_port()
        self._log_path = Path(workdir) / f"{kind}.log"
        data_dir = Path(workdir) / "data"
        data_dir.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMHUB_")}  # the hub on its defaults
        env.update(CAMHUB_API_KEYS=API_KEY, PYTHONUNBUFFERED="1")
        with open(self._log_path, "wb") as log:
            self.process = subprocess.Popen(
                _server_argv(kind, self.port, str(data_dir)),
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self, lines: int = 8) -> str:
        text = self._log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.process.returncode}: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.kind} did not listen on port {self.port} within "
                        f"{START_TIMEOUT_S:.0f} s: {self.log_tail()}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def measure(kind: str, cameras: int, viewers: int, seconds: float, warmup: float, frame_bytes: int) -> dict:
    """One server, one case: a fresh server process so its peak RSS belongs to this case alone."""
    row: dict = {"server": kind, "cameras": cameras, "viewers": viewers, "frame_bytes": frame_bytes}
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as workdir:
        server = Server(kind, workdir)
        try:
            server.wait_ready()
            argv = [
                sys.executable,
                "-m",
                "bench.loadgen",
                "--target",
                kind,
                "--port",
                str(server.port),
                "--server-pid",
                str(server.process.pid),
                "--cameras",
                str(cameras),
                "--viewers",
                str(viewers),
                "--seconds",
                str(seconds),
                "--warmup",
                str(warmup),
                "--frame-bytes",
                str(frame_bytes),
                "--api-key",
                API_KEY,
            ]
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=seconds + warmup + 90)
            if done.returncode != 0:
                raise RuntimeError(f"load generator failed: {done.stderr.strip()[-600:]}")
            row.update(json.loads(done.stdout))
            if server.process.poll() is not None:
                raise RuntimeError(f"{kind} died during the run: {server.log_tail()}")
            row["peak_rss_mb"] = round(procstat.peak_rss_bytes(server.process.pid) / 1e6, 1)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            row["error"] = str(exc)
        finally:
            server.stop()
    return row


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def add_ratios(rows: list[dict]) -> None:
    """Gives each hub row `ratios`: hub metric / the same metric of flask and of loopback in that case."""
    by_case = {(r["cameras"], r["viewers"], r["server"]): r for r in rows}
    for row in rows:
        if row["server"] != "hub" or "error" in row:
            continue
        row["ratios"] = {}
        for peer in ("flask", "loopback"):
            other = by_case.get((row["cameras"], row["viewers"], peer))
            if other is not None and "error" not in other:
                row["ratios"][peer] = {m: _ratio(row.get(m), other.get(m)) for m in RATIO_METRICS}


def run(
    cases: Iterable[tuple[int, int]] = DEFAULT_CASES,
    seconds: float = 8.0,
    frame_bytes: int = 40_000,
    servers: Sequence[str] = SERVERS,
    warmup: float = 1.0,
    progress: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Every server under every (cameras, viewers) case; plain JSON-ready dicts, one per server and case.

    `progress`, if given, is called with each finished row (the whole run takes about 11 s per row).
    """
    rows = []
    for cameras, viewers in cases:
        for kind in servers:
            row = measure(kind, cameras, viewers, seconds, warmup, frame_bytes)
            if progress is not None:
                progress(row)
            rows.append(row)
    add_ratios(rows)
    return rows


def _fmt(value: object, spec: str = "") -> str:
    if value is None:
        return "-"
    return format(value, spec)


def _times(value: float | None) -> str:
    return "-" if value is None else f"x{value:.2f}" if value < 10 else f"x{value:.0f}"


COLUMNS = (  # header, key, format, width
    ("server", "server", "", 9),
    ("ingest fps", "ingest_fps", ".0f", 10),
    ("MB/s", "ingest_mb_s", ".0f", 6),
    ("view fps", "view_fps", ".0f", 9),
    ("dup fps", "duplicate_fps", ".0f", 8),
    ("CPU ms/fr", "cpu_ms_per_frame", ".3f", 9),
    ("srv CPU", "server_cpu_util", ".2f", 7),
    ("RSS MB", "peak_rss_mb", ".0f", 6),
    ("p50 ms", "latency_p50_ms", ".1f", 7),
    ("p99 ms", "latency_p99_ms", ".1f", 7),
    ("cli CPU", "client_cpu_util", ".2f", 7),
    ("busy", "machine_busy", ".0%", 5),
    ("err", "errors", "d", 4),
)


def format_table(rows: list[dict]) -> str:
    """A plain-text table: one line per server and case, then the hub's ratios to each reference."""
    if not rows:
        return "hub benchmark: no rows"
    first = rows[0]
    window = next((r["window_s"] for r in rows if "window_s" in r), None)
    out = [
        f"Hub: N cameras post {first['frame_bytes'] / 1000:.0f} KB JPEGs back to back, M MJPEG viewers spread "
        f"over them; {_fmt(window, '.0f')} s measured per server and case",
        "N/M     " + " ".join(h.rjust(w) if i else h.ljust(w) for i, (h, _, _, w) in enumerate(COLUMNS)),
    ]
    cases: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        cases.setdefault((row["cameras"], row["viewers"]), []).append(row)
    for (cameras, viewers), case_rows in cases.items():
        label = f"{cameras}/{viewers}"
        out.append("")
        for row in case_rows:
            if "error" in row:
                out.append(f"{label:<8}{row['server']:<9} FAILED: {row['error'][:300]}")
                continue
            cells = [_fmt(row.get(key), spec) for _, key, spec, _ in COLUMNS]
            out.append(
                f"{label:<8}"
                + " ".join(
                    c.rjust(w) if i else c.ljust(w)
                    for i, (c, (_, _, _, w)) in enumerate(zip(cells, COLUMNS, strict=True))
                )
            )
        for row in case_rows:
            for peer, ratio in row.get("ratios", {}).items():
                out.append(
                    f"{'':8}hub/{peer:<9} ingest {_times(ratio['ingest_fps'])}, CPU per frame "
                    f"{_times(ratio['cpu_ms_per_frame'])}, latency p50 {_times(ratio['latency_p50_ms'])} "
                    f"p99 {_times(ratio['latency_p99_ms'])}, peak RSS {_times(ratio['peak_rss_mb'])}"
                )
    out += [
        "",
        f"Machine: {os.cpu_count()} cores shared by the server, the load generator (one Python process) and anything "
        "else running;",
        "  'cli CPU' (cores used by the load generator) near 1.0 or 'busy' (share of all cores) near 100% means the "
        "machine, not the server, set the limit.",
        "ingest fps: frames answered 200 (loopback: acked); view fps: distinct frames received, summed over viewers; "
        "dup fps: parts a viewer got again unchanged",
        "  (the Flask generator resends the latest frame in a busy loop). CPU ms/fr: server user+system CPU per "
        "ingested frame, including fan-out;",
        "  srv CPU: cores the server used. RSS: server peak (VmHWM). Latency: viewer receive time minus the send time "
        "stamped inside the JPEG,",
        "  each frame counted once per viewer. hub: default settings. flask: bench/peers/flask_receiver.py on Flask's "
        "threaded dev server.",
        "  loopback: raw asyncio relay, same frames, one in flight per camera, no HTTP. Ratios: hub / reference "
        "(ingest: higher is better; the rest: lower).",
    ]
    return "\n".join(out)


def _cases(text: str) -> list[tuple[int, int]]:
    try:
        return [(int(n), int(m)) for n, m in (part.lower().split("x") for part in text.split(","))]
    except ValueError:
        raise argparse.ArgumentTypeError(f"cases look like 1x1,10x20 (cameras x viewers), got {text!r}") from None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="hub benchmark against a Flask baseline and the loopback limit")
    parser.add_argument("--cases", type=_cases, default=list(DEFAULT_CASES), help="e.g. 1x1,10x20,50x100")
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per server and case")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--frame-bytes", type=int, default=40_000)
    parser.add_argument("--servers", default=",".join(SERVERS), help="subset of hub,flask,loopback")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}")

    def progress(row: dict) -> None:
        print(
            f"  {row['cameras']}/{row['viewers']} {row['server']}: "
            f"{row.get('error') or str(row.get('ingest_fps')) + ' frames/s'}",
            file=sys.stderr,
            flush=True,
        )

    rows = run(args.cases, args.seconds, args.frame_bytes, servers, args.warmup, progress)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
