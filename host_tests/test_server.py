"""camhub.server: the hub over HTTPS with --tls-cert/--tls-key, for the unmodified firmware, curl and ffmpeg."""

import asyncio
import json
import ssl
import subprocess
import sys

import aiohttp
import pytest

from testkit.boards import Board, drive_copy
from testkit.hubs import KEY, HubProcess
from testkit.jpegs import make_frames


@pytest.fixture(scope="module")
def tls_files(ca, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    issued = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_pem = folder / "hub.pem", folder / "hub.key", folder / "ca.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem))
    return cert, key, ca_pem


@pytest.fixture(scope="module")
def tls_hub(tls_files, tmp_path_factory):
    cert, key, _ = tls_files
    hub = HubProcess(
        tmp_path_factory.mktemp("tlshub"),
        "--tls-cert",
        str(cert),
        env={"CAMHUB_TLS_KEY": str(key), "CAMHUB_API_KEYS": KEY},
    )
    try:
        yield hub
    finally:
        hub.stop()
        assert hub.proc.returncode == 0, hub.text


def test_the_banner_gives_cameras_an_https_url(tls_hub):
    assert tls_hub.url.startswith("https://")
    assert tls_hub.find('CAMSTREAM_SERVER_URL = "https://') is not None


def test_the_firmware_streams_over_https(tls_hub, tls_files, tmp_path):
    _, _, ca_pem = tls_files
    frames = tmp_path / "frames"
    make_frames(frames, 5)
    folder = drive_copy(tmp_path, files={"hub-ca.pem": ca_pem.read_bytes()})
    board = Board(
        "--seconds",
        "8",
        "--frames",
        str(frames),
        "--sensor-fps",
        "10",
        "--set",
        f"CAMSTREAM_SERVER_URL={tls_hub.url}",
        f"CAMSTREAM_API_KEY={KEY}",
        "CAMSTREAM_DEVICE_ID=tlscam",
        "CAMSTREAM_CA_FILE=hub-ca.pem",
        "CAMSTREAM_HEARTBEAT_S=2",
        circuitpy=folder,
    )
    assert board.finish(40) == 0, board.text
    assert "Errors: none" in board.text and "Error " not in board.text, board.text
    answer = curl(tls_hub.url + "/api/v1/devices/tlscam", ca_pem)
    device = json.loads(answer)
    assert device["frames"] >= 30 and device["lastHeartbeat"] is not None and device["drops"] == 0


def curl(url, ca_pem, *args):
    done = subprocess.run(
        ["curl", "--silent", "--show-error", "--fail", "--cacert", str(ca_pem), *args, url],
        capture_output=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def test_curl_posts_and_reads_over_https(tls_hub, tls_files, tmp_path):
    _, _, ca_pem = tls_files
    jpeg = make_frames(tmp_path, 1)[0]
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(jpeg)
    answer = curl(
        tls_hub.url + "/api/v1/stream/stream",
        ca_pem,
        "-H",
        f"X-API-Key: {KEY}",
        "-H",
        "X-Device-Id: curlcam",
        "-H",
        "Content-Type: image/jpeg",
        "--data-binary",
        f"@{frame}",
    )
    assert json.loads(answer) == {"ok": True, "seq": None, "bytes": len(jpeg)}
    assert curl(tls_hub.url + "/devices/curlcam/snapshot.jpg", ca_pem) == jpeg
    with pytest.raises(subprocess.CalledProcessError) as refused:  # without the CA curl does not trust the hub
        subprocess.run(["curl", "--silent", "--fail", tls_hub.url + "/healthz"], capture_output=True, check=True)
    assert refused.value.returncode == 60  # CURLE_PEER_FAILED_VERIFICATION


async def test_ffmpeg_reads_the_live_stream_over_https(tls_hub, tls_files, tmp_path):
    _, _, ca_pem = tls_files
    jpegs = make_frames(tmp_path / "frames", 3)
    context = ssl.create_default_context(cafile=str(ca_pem))
    stop = asyncio.Event()

    async def camera():
        async with aiohttp.ClientSession() as session:
            n = 0
            while not stop.is_set():
                headers = {"X-API-Key": KEY, "X-Device-Id": "ffcam", "Content-Type": "image/jpeg"}
                url = tls_hub.url + "/api/v1/stream/stream"
                async with session.post(url, data=jpegs[n % 3], headers=headers, ssl=context) as response:
                    assert response.status == 200
                n += 1
                await asyncio.sleep(0.1)

    feeder = asyncio.create_task(camera())
    try:
        await asyncio.sleep(0.5)
        ffmpeg = await asyncio.create_subprocess_exec(
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-tls_verify",
            "1",
            "-ca_file",
            str(ca_pem),
            "-i",
            tls_hub.url + "/devices/ffcam/stream.mjpg",
            "-frames:v",
            "5",
            "-f",
            "image2pipe",
            "-c:v",
            "copy",
            "-",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(ffmpeg.communicate(), 30)
        assert ffmpeg.returncode == 0, err.decode()
        assert out.count(b"\xff\xd8") >= 5 and out.startswith(b"\xff\xd8")
    finally:
        stop.set()
        await feeder


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "hub.pem"], "--tls-cert and --tls-key"),
        (["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"], "no such readable file"),
    ],
)
def test_tls_settings_are_checked_at_start(args, message, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "camhub", "--data-dir", str(tmp_path), *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and message in done.stderr


def test_a_key_that_does_not_match_the_certificate_is_one_clear_line(tls_files, ca, tmp_path):
    cert, _, _ = tls_files
    other = tmp_path / "other.key"
    ca.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other))
    done = subprocess.run(
        [sys.executable, "-m", "camhub", "--data-dir", str(tmp_path), "--port", "0", "--tls-cert", str(cert)]
        + ["--tls-key", str(other)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"camhub: cannot use TLS certificate '{cert}' with key '{other}'")
    assert "Traceback" not in done.stderr
