"""camhub.ratelimit: failures per address per minute, a bounded table of addresses."""

from camhub import ratelimit
from camhub.ratelimit import FailedAuth


def test_an_address_is_refused_past_the_limit_until_its_minute_is_over(manual_clock):
    clock = manual_clock
    limiter = FailedAuth(3, clock)
    for _ in range(3):
        assert limiter.retry_after("10.0.0.5") == 0
        limiter.failed("10.0.0.5")
    assert limiter.retry_after("10.0.0.5") == 60
    assert limiter.retry_after("10.0.0.6") == 0  # others are not affected
    clock.now += 59.5
    assert limiter.retry_after("10.0.0.5") == 1
    clock.now += 0.5
    assert limiter.retry_after("10.0.0.5") == 0
    limiter.failed("10.0.0.5")
    assert limiter.retry_after("10.0.0.5") == 0  # a new minute, a new count
    assert limiter.refused == 2


def test_failures_spread_over_minutes_never_lock_out(manual_clock):
    clock = manual_clock
    limiter = FailedAuth(3, clock)
    for _ in range(10):
        limiter.failed("a")
        limiter.failed("a")
        assert limiter.retry_after("a") == 0
        clock.now += 61


def test_the_table_of_addresses_is_bounded(monkeypatch, manual_clock):
    monkeypatch.setattr(ratelimit, "MAX_ADDRESSES", 100)
    limiter = FailedAuth(1, manual_clock)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter._windows) == 100
    assert limiter.retry_after("10.0.3.231") > 0  # the newest are kept
