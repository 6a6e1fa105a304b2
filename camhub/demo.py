"""`make demo`: the hub plus two virtual cameras (the unmodified firmware on hostsim, at the default HD on a
400 KB/s link, so rate control shows), until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .app import init
from .config import Config
from .server import Server

log = logging.getLogger("camhub.demo")

ROOT = Path(__file__).resolve().parent.parent
DEMO_KEY = "camstream-demo-key"
DEMO_OPERATOR_PASSWORD = "camstream-demo"  # changes settings from the live pages
DEMO_LINK = ("--link-kbps", "400", "--rtt-ms", "10")  # a board's real WiFi upload: rate control has work to do
CAMERAS = (("demo-cam-1", "Front door"), ("demo-cam-2", "Back yard"))
STOP_GRACE_S = 5.0
MAX_BACKOFF_S = 30.0

CameraCommand = Callable[[str, str, str, str], list[str]]


def hostsim_command(server_url: str, api_key: str, device_id: str, name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "hostsim",
        "CIRCUITPY",
        "--set",
        f"CAMSTREAM_SERVER_URL={server_url}",
        "--set",
        f"CAMSTREAM_API_KEY={api_key}",
        "--set",
        f"CAMSTREAM_DEVICE_ID={device_id}",
        "--set",
        f"CAMSTREAM_DEVICE_NAME={name}",
        *DEMO_LINK,
    ]


class Camera:
    """One virtual camera process: its console is echoed with a prefix; it is restarted with backoff if it dies."""

    def __init__(self, argv: list[str], label: str, cwd: Path) -> None:
        self.argv, self.label, self.cwd = argv, label, cwd
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0
        self._stopping = False

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            self.starts += 1
            assert self.process.stdout is not None
            async for line in self.process.stdout:
                print(f"[{self.label}] {line.decode(errors='replace').rstrip()}", flush=True)
            code = await self.process.wait()
            if self._stopping:
                break
            print(f"[{self.label}] exited with code {code}; restarting in {backoff:.0f} s", flush=True)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not end within the grace period."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def run_demo(
    stop: asyncio.Event,
    port: int,
    data_dir: Path,
    camera_command: CameraCommand = hostsim_command,
    on_ready: Callable[[str, list[Camera]], None] | None = None,
) -> None:
    config = Config(
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        api_keys=(DEMO_KEY,),
        operator_password=DEMO_OPERATOR_PASSWORD,
        record=frozenset({"all"}),
        retention_hours=1.0,
        retention_gb=1.0,
    )
    async with Server(init(config), config.host, config.port) as server:
        cameras = [
            Camera(camera_command(server.url, DEMO_KEY, device_id, name), device_id, ROOT)
            for device_id, name in CAMERAS
        ]
        tasks = [asyncio.create_task(camera.run(), name=camera.label) for camera in cameras]
        print(
            f"\nCamStream demo: open {server.url}/ (two virtual cameras at HD on a 400 KB/s link each;"
            f" the operator password for their settings is {DEMO_OPERATOR_PASSWORD!r}; Ctrl-C stops everything)\n",
            flush=True,
        )
        if on_ready is not None:
            on_ready(server.url, cameras)
        try:
            await stop.wait()
        finally:
            await asyncio.gather(*(camera.stop() for camera in cameras))
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _main(port: int, data_dir: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_demo(stop, port, data_dir)
    print("demo stopped", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camhub.demo", description=__doc__)
    parser.add_argument("--port", type=int, default=9005, help="hub port (default 9005)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the registry and recordings here (default: a temporary folder, removed at exit)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="camhub-demo-"))
    try:
        asyncio.run(_main(args.port, data_dir))
    except OSError as exc:
        print(f"demo: cannot start the hub on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
