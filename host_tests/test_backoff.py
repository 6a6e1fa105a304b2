"""camstream.backoff: doubling, capped low, reset."""

from camstream.backoff import Backoff


def test_doubles_then_caps_and_resets():
    backoff = Backoff(first_s=0.25, cap_s=2.0)
    assert [backoff.next() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    backoff.reset()
    assert backoff.next() == 0.25


def test_default_cap_lets_streaming_resume_within_seconds():
    backoff = Backoff()
    delays = [backoff.next() for _ in range(100)]
    assert max(delays) <= 3.0 and delays[0] < 0.5
