"""ACCEPTANCE, end to end: rate control in the unmodified firmware on the virtual board (OV5640-like JPEG sizes),
behind a link that steps 1000 -> 250 -> 1000 KB/s with a 20 ms RTT, with CAMSTREAM_ADAPT = off on the same link
for comparison, and on a steady 400 KB/s link at HD with a 30 fps target.

The stepping run goes alone: its link estimate includes the virtual board's own speed, so a busy machine would
move its picture; the other two then run side by side (each held to an average, not to a second-by-second).

Run with `-s` for the timelines (fps, frame size and quality per second).
"""

import pytest

from testkit.adaptation import AdaptiveBoard, Run, run_batches

SEGMENT_S = 15  # each link rate lasts this long: 10 s to recover and 5 s of steady part
STEPPING = f"1000@0,250@{SEGMENT_S},1000@{2 * SEGMENT_S}"
HD = ("CAMSTREAM_FRAME_SIZE=HD",)


@pytest.fixture(scope="module")
def runs():
    return run_batches(
        [
            [AdaptiveBoard("stepping", STEPPING, 3 * SEGMENT_S, 20, HD)],
            [
                AdaptiveBoard("off", STEPPING, 3 * SEGMENT_S, 20, (*HD, "CAMSTREAM_ADAPT=off")),
                AdaptiveBoard("steady400", "400", 20, 30, HD),
            ],
        ]
    )


def show(run: Run) -> None:
    print(f"\n{run.name}: t  link  fps  picture  KB/frame")
    for row in run.timeline():
        picture = f"{row.get('size', '-')} q{row.get('quality', '-')}"
        print(f"{run.name}: {row['t']:4.0f} {row['link']:5.0f} {row['fps']:5.1f}  {picture:14} {row.get('kb', 0):6.1f}")
    for at, line in run.adapt_lines:
        print(f"{run.name}: {at:5.1f} s {line}")


def segments(run: Run) -> list[tuple[float, float]]:
    times = run.segments()
    assert len(times) == 3, run.steps
    return [(start, end) for start, end, _ in times]


def test_stepping_link_recovers_the_frame_rate_within_10_s_of_each_step(runs):
    run = runs["stepping"]
    show(run)
    assert "Traceback" not in run.console and "Error " not in run.console
    for start, end in segments(run):
        recovered = run.recovered_at(start, end)
        assert recovered is not None and recovered - start <= 10, (start, recovered)
        assert run.reconfigures(start, end) <= 3
        steady = run.pictures(start + 10, end)
        assert len(steady) <= 2, f"the steady part of {start:.0f}-{end:.0f} s changed picture: {steady}"


def test_stepping_link_trades_quality_first_and_gets_it_back(runs):
    run = runs["stepping"]
    (a0, a1), (b0, b1), (c0, c1) = segments(run)
    fast, slow, again = run.pictures(a1 - 4, a1)[-1], run.pictures(b1 - 4, b1)[-1], run.pictures(c1 - 4, c1)[-1]
    assert run.pictures(a0, a0 + 3)[-1] == ("1280x720", fast[1]) and fast[1] > 6, "quality first: HD stays"
    assert pixels(slow[0]) < pixels("1280x720"), "at 250 KB/s no quality number carries HD at 20 fps: smaller"
    assert pixels(again[0]) > pixels(slow[0]) or again[1] < slow[1], "the picture comes back with the link"


def pixels(size: str) -> int:
    width, height = map(int, size.split("x"))
    return width * height


def test_with_adapt_off_the_same_link_shows_todays_behaviour(runs):
    off, on = runs["off"], runs["stepping"]
    show(off)
    assert off.pictures(0, off.seconds) == [("1280x720", 6)] and off.adapt_lines == []
    (a0, a1), (b0, b1), _ = segments(off)
    assert off.fps(a0 + 2, a1) < 0.6 * 20 and off.fps(b0 + 2, b1) < 0.2 * 20  # the frame rate collapses
    assert on.fps(b0 + 10, b1) > 3 * off.fps(b0 + 2, b1)
    print(
        f"\nADAPT=off vs fps at 1000 KB/s: {off.fps(a0 + 2, a1):.1f} vs {on.fps(a0 + 10, a1):.1f} fps;"
        f" at 250 KB/s: {off.fps(b0 + 2, b1):.1f} vs {on.fps(b0 + 10, b1):.1f} fps"
    )


def test_steady_400_kb_s_at_hd_holds_27_fps_of_30(runs):
    run = runs["steady400"]
    show(run)
    assert "Traceback" not in run.console and "Error " not in run.console
    fps = run.fps(run.frames[0].at + 5, run.seconds)
    print(f"\nsteady 400 KB/s, HD, target 30: {fps:.1f} fps over the last {run.seconds - run.frames[0].at - 5:.0f} s")
    assert fps >= 27
