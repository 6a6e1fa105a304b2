"""`python -m hostsim`: command line of the virtual board."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from hostsim.boards import BOARDS, DEFAULT_BOARD
from hostsim.faults import GRAMMAR, KINDS, FaultSpecError, parse_fault
from hostsim.link import LinkSpecError, Schedule, parse_schedule
from hostsim.settings import parse_override
from hostsim.world import Config

EPILOG = (
    f"""\
fault grammar (--fault, repeatable): {GRAMMAR}
  times are seconds since hostsim started and survive board resets; without +DURATION a window lasts
  until the end of the run.
"""
    + "\n".join(f"  {kind:7} {text}" for kind, text in sorted(KINDS.items()))
    + """
  examples: --fault wifi@5+3 --fault camera@4+2 --fault dns@3+2 --fault memory@3+1 --fault hang@6

link model: --link-kbps N drains the board's one lwIP send buffer (5744 bytes) onto the air at N KB/s
  (1 KB = 1000 bytes): send() takes only what fits, returns fewer bytes or raises OSError(11) EAGAIN when
  it is full, and the peer gets the bytes as they drain; idle air time is not saved up. A schedule
  (--link-kbps 1000@0,250@20,1000@40: 1000 KB/s, 250 from 20 s on, 1000 again from 40 s) changes the rate
  at those times (seconds since hostsim started; unlimited before the first); each change is logged. --rtt-ms N delays
  connect() by N ms and everything the peer sends by N ms, so a reply comes no earlier than N ms after
  the last byte of its request has drained.

console: hostsim's own lines start with "[hostsim]"; code.py's output is printed as is. On --seconds it
  interrupts code.py (KeyboardInterrupt), prints a one-line "[hostsim] end after ..." summary and exits 0
  (1 if code.py ended with an uncaught exception, 130 on Ctrl-C).
"""
)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return value


def _link_schedule(text: str) -> Schedule:
    try:
        return parse_schedule(text)
    except LinkSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--link-kbps {text!r}: ")) from None


CIRCUITPYTHON_VERSIONS = ("10.0", "10.1", "10.2", "10.3")


def _version(text: str) -> tuple[int, int]:
    if text not in CIRCUITPYTHON_VERSIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(CIRCUITPYTHON_VERSIONS)}")
    major, minor = text.split(".")
    return int(major), int(minor)


def _mac(text: str) -> bytes:
    try:
        mac = bytes.fromhex(text.replace(":", "").replace("-", ""))
    except ValueError:
        mac = b""
    if len(mac) != 6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a MAC address like 7c:df:a1:00:00:01")
    return mac


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m hostsim",
        description="Virtual ESP32-S3 + OV5640 CircuitPython board: runs CIRCUITPY/code.py unmodified on this PC.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "circuitpy",
        nargs="?",
        default="CIRCUITPY",
        metavar="CIRCUITPY",
        help="the drive folder holding code.py, settings.toml and lib/ (default: ./CIRCUITPY)",
    )
    p.add_argument("--seconds", type=_positive, help="stop after N seconds (default: run until Ctrl-C)")
    p.add_argument("--sensor-fps", type=_positive, default=30.0, help="frames per second the sensor delivers (30)")
    p.add_argument(
        "--frames",
        metavar="DIR",
        help="play the JPEG files of DIR in name order, looping, instead of the generated test pattern",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="override a settings.toml key as os.getenv returns it (a str)",
    )
    p.add_argument(
        "--fault",
        dest="faults",
        action="extend",
        nargs="+",
        default=[],
        metavar="SPEC",
        help="script a fault, see below",
    )
    p.add_argument(
        "--link-kbps",
        type=_link_schedule,
        metavar="N|N@T,...",
        help="limit sending to N KB/s (1 KB = 1000 bytes), or follow a schedule of rates, e.g. 1000@0,250@20,1000@40"
        " (KB/s from T seconds after the start on)",
    )
    p.add_argument("--rtt-ms", type=_non_negative, default=0.0, help="round-trip delay in ms (0)")
    p.add_argument(
        "--board",
        default=DEFAULT_BOARD,
        choices=sorted(BOARDS),
        metavar="BOARD_ID",
        help=f"board.board_id and pin names (default {DEFAULT_BOARD}; one of: {', '.join(sorted(BOARDS))})",
    )
    p.add_argument(
        "--no-psram", action="store_true", help="a board without PSRAM: CircuitPython has no espcamera module there"
    )
    p.add_argument(
        "--circuitpython",
        type=_version,
        default=(10, 2),
        metavar="VERSION",
        help="the CircuitPython release whose os.getenv to follow: 10.0 and 10.1 parse bare values as"
        " integers and raise ValueError on others; 10.2 and 10.3 return text (default 10.2)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the socket partial-send/EAGAIN pattern and RSSI (0)")
    p.add_argument("--mac", type=_mac, help="radio MAC (default: derived from CIRCUITPY, board, seed and --set)")
    return p


def config_from_args(argv: list[str]) -> Config:
    """Parse and validate; errors exit with status 2 and a message naming the bad option."""
    p = parser()
    args = p.parse_args(argv)
    circuitpy = Path(args.circuitpy).resolve()
    if not circuitpy.is_dir():
        p.error(f"CIRCUITPY folder {args.circuitpy!r} does not exist")
    overrides: dict[str, str] = {}
    faults = []
    try:
        for item in args.overrides:
            key, value = parse_override(item)
            overrides[key] = value
        faults = [parse_fault(spec) for spec in args.faults]
    except (ValueError, FaultSpecError) as exc:
        p.error(str(exc))
    frames = None
    if args.frames is not None:
        frames = Path(args.frames).resolve()
        if not frames.is_dir():
            p.error(f"--frames {args.frames!r} is not a folder")
        if not any(f.suffix.lower() in (".jpg", ".jpeg") for f in frames.iterdir()):
            p.error(f"--frames {args.frames!r} holds no .jpg/.jpeg files")
    mac = args.mac
    if mac is None:
        identity = f"{circuitpy}|{args.board}|{args.seed}|{sorted(overrides.items())}".encode()
        mac = b"\x7c\xdf\xa1" + hashlib.sha256(identity).digest()[:3]  # an Espressif OUI
    return Config(
        circuitpy=circuitpy,
        board=args.board,
        seconds=args.seconds,
        sensor_fps=args.sensor_fps,
        frames=frames,
        overrides=overrides,
        faults=faults,
        link_kbps=args.link_kbps or (),
        rtt_ms=args.rtt_ms,
        psram=not args.no_psram,
        circuitpython=args.circuitpython,
        seed=args.seed,
        mac=mac,
    )


def main(argv: list[str] | None = None) -> int:
    config = config_from_args(sys.argv[1:] if argv is None else argv)
    from hostsim.runner import find_code, run

    try:
        find_code(config.circuitpy)
    except FileNotFoundError as exc:
        print(f"python -m hostsim: error: {exc}", file=sys.stderr)
        return 2
    return run(config)
