"""Real players judge exported files: ffprobe (Debian's ffmpeg) reads duration and frame count as players see
them, and VLC (`cvlc`, headless, as a non-root user: VLC refuses to run as root) plays them in real time."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FFPROBE = "/usr/bin/ffprobe"
CVLC = "/usr/bin/cvlc"
VLC_USER = "cvlc"  # the system user make test's set-up creates (Makefile, cvlc-user)
VLC_NICE = -5
SETPRIV = "/usr/bin/setpriv"  # util-linux, on every Debian system
LATE = re.compile(r"\blate\b", re.IGNORECASE)  # "picture is too late to be displayed", "... displayed late"


@dataclass(frozen=True)
class Probe:
    container: str
    codec: str
    profile: str | None
    pix_fmt: str
    width: int
    height: int
    duration_s: float  # the container's duration
    frames: int  # frames ffprobe decoded
    packets: int  # packets in the stream (AVI's empty "same picture" chunks excluded)
    color_range: str | None
    color_space: str | None
    tags: dict[str, str]


def probe(path: Path) -> Probe:
    done = subprocess.run(
        [
            FFPROBE,
            *("-v", "error", "-count_frames", "-count_packets", "-select_streams", "v:0", "-of", "json"),
            *(
                "-show_entries",
                "format=format_name,duration:format_tags:stream=codec_name,profile,pix_fmt,width,height",
            ),
            *("-show_entries", "stream=nb_read_frames,nb_read_packets,color_range,color_space", str(path)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    info = json.loads(done.stdout)
    stream, fmt = info["streams"][0], info["format"]
    return Probe(
        fmt["format_name"],
        stream["codec_name"],
        stream.get("profile"),
        stream["pix_fmt"],
        int(stream["width"]),
        int(stream["height"]),
        float(fmt["duration"]),
        int(stream["nb_read_frames"]),
        int(stream["nb_read_packets"]),
        stream.get("color_range"),
        stream.get("color_space"),
        {key.lower(): value for key, value in fmt.get("tags", {}).items()},
    )


def packet_times(path: Path) -> list[float]:
    """Presentation times (s) of the video packets, in presentation order, as ffprobe reads them."""
    done = subprocess.run(
        [FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,size", "-of", "json"]
        + [str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    packets = json.loads(done.stdout)["packets"]
    return sorted(float(p["pts_time"]) for p in packets if int(p["size"]) > 0)


@dataclass(frozen=True)
class Played:
    seconds: float  # from starting cvlc to its exit (includes VLC's start-up, a few tenths of a second)
    log: str
    late: list[str]  # VLC's lines about late pictures
    returncode: int


def play_with_vlc(path: Path, timeout_s: float) -> Played:
    """Play ``path`` once in headless VLC (no window, no sound output), as VLC_USER when running as root.

    As root, VLC also runs at nice ``VLC_NICE`` (all its threads: set before it starts them), so that the load
    other tests put on a shared machine does not make it drop pictures; a file with wrong timing still plays at
    the wrong speed and drops them.
    """
    with tempfile.TemporaryDirectory(prefix="camstream-vlc-") as folder:
        home = Path(folder)
        media = home / path.name
        shutil.copyfile(path, media)
        argv = [CVLC, "-I", "dummy", "-v", "--play-and-exit", "--no-audio", "--vout=dummy", str(media)]
        if os.geteuid() == 0:
            user = pwd.getpwnam(VLC_USER)
            os.chown(home, user.pw_uid, user.pw_gid)
            home.chmod(0o755)
            media.chmod(0o644)
            drop = [SETPRIV, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
            argv = ["nice", "-n", str(VLC_NICE), *drop, *argv]
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        began = time.monotonic()
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=env, cwd=home)
        seconds = time.monotonic() - began
    log = done.stdout + done.stderr
    return Played(seconds, log, [line for line in log.splitlines() if LATE.search(line)], done.returncode)
