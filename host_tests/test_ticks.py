"""camstream.ticks: wrap-aware arithmetic at the 2**29 supervisor.ticks_ms wrap."""

from camstream import ticks


def test_add_wraps():
    assert ticks.add(ticks.PERIOD - 10, 25) == 15


def test_diff_across_wrap_is_small_and_signed():
    before, after = ticks.PERIOD - 100, 50
    assert ticks.diff(after, before) == 150
    assert ticks.diff(before, after) == -150


def test_diff_of_unwrapped_clocks_is_exact():
    assert ticks.diff(10_000_000_123, 10_000_000_000) == 123


def test_default_clock_off_the_board_is_milliseconds():
    clock = ticks.default_clock()
    first = clock()
    assert isinstance(first, int) and 0 <= ticks.diff(clock(), first) < 1000
