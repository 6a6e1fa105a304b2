"""The protocol fuzzer (testkit/fuzz.py) against a real `camhub` process for 30 s (10 minutes in `make soak`)."""

import asyncio
import os
import random

from testkit import fuzz
from testkit.hubs import KEY, HubProcess

SECONDS = 30


async def test_fuzzed_requests_never_get_a_5xx_and_the_camera_loses_nothing(tmp_path):
    seed = int(os.environ.get("CAMHUB_FUZZ_SEED", "1"))
    hub = HubProcess(
        tmp_path / "data",
        "--record",
        fuzz.CAMERA,
        "--header-timeout",
        "2",
        "--body-timeout",
        "2",
        "--auth-failures-per-minute",
        "1000000",
        env={"CAMHUB_API_KEYS": KEY},
    )
    try:
        report = await fuzz.run(hub.url, KEY, SECONDS, seed)
    finally:
        hub.stop()
    assert not report.failures, f"seed {seed}:\n" + "\n".join(report.failures)
    assert report.cases > 1000, report
    assert report.camera_acked > 150 and not report.camera_errors, report
    assert report.camera_recorded == report.camera_acked
    assert hub.proc.returncode == 0, hub.text[-3000:]
    assert "Traceback" not in hub.text, hub.text[-3000:]
    print(f"fuzz: {report.cases} cases, {dict(report.statuses)}, slowest {report.slowest_s:.1f} s")


async def test_a_head_after_empty_lines_is_read_as_a_head(tmp_path):
    """Its answer's Content-Length describes no body: waiting for one made a hub that answered look silent."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for case in (b"\r\nHEAD / HTTP/1.1\r\n\r\n", b"\n\r\nHEAD / HTTP/1.1\r\n\r\n"):
            report = fuzz.Report(0)
            await fuzz._one(random.Random(0), "127.0.0.1", port, case, 3.0, report)
            assert not report.failures and report.statuses["2xx"] == 1, report
    assert not fuzz.is_head(b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\n")
