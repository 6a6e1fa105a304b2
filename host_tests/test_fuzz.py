"""The protocol fuzzer (testkit/fuzz.py) against a real `camhub` process for 30 s (10 minutes in `make soak`)."""

import os

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
