import pytest

from hostsim.link import SEND_BUFFER, Link, LinkSpecError, parse_schedule


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_unlimited_link_accepts_everything_at_once():
    clock = FakeClock()
    link = Link(None, 0, clock)
    assert link.accept(10**6) == (10**6, 0.0)
    assert link.queued() == 0


def test_buffer_drains_at_kbps_times_1000_bytes():
    clock = FakeClock()
    link = Link(100, 0, clock)  # 100 KB/s = 100_000 B/s
    sent, drained_at = link.accept(10**6)
    assert sent == SEND_BUFFER  # one send buffer, no more
    assert abs(drained_at - SEND_BUFFER / 100_000) < 1e-9
    for _ in range(1000):
        clock.t += 0.01
        got, drained_at = link.accept(10**6)
        sent += got
    assert abs(sent - 100_000 * 10 - SEND_BUFFER) <= 1000
    assert drained_at - clock.t <= SEND_BUFFER / 100_000 + 1e-9  # never more than a buffer ahead of the air


def test_full_buffer_accepts_nothing_until_it_drains():
    clock = FakeClock()
    link = Link(50, 0, clock)  # 50_000 B/s
    link.accept(SEND_BUFFER)
    assert link.accept(100) == (0, SEND_BUFFER / 50_000)
    clock.t += 0.01  # 500 bytes left the buffer
    assert link.accept(10**6)[0] == 500
    assert abs(link.queued() - SEND_BUFFER) < 1e-6


def test_idle_time_earns_no_credit_beyond_an_empty_buffer():
    clock = FakeClock()
    link = Link(50, 0, clock)
    clock.t = 60.0  # a long pause
    sent, drained_at = link.accept(10**6)
    assert sent == SEND_BUFFER  # accepted at once ...
    assert abs(drained_at - (60.0 + SEND_BUFFER / 50_000)) < 1e-9  # ... but on the air for a whole buffer time
    assert link.accept(10**6)[0] == 0


def test_bytes_leave_in_order_and_the_last_drain_time_counts():
    clock = FakeClock()
    link = Link(10, 0, clock)  # 10_000 B/s
    assert link.accept(1000) == (1000, 0.1)
    clock.t = 0.05
    assert link.accept(1000) == (1000, 0.2)  # queued behind the first 500 bytes still on their way
    assert abs(link.queued() - 1500) < 1e-6


def test_describe_states_units():
    assert Link(250, 40, FakeClock()).describe() == "250 KB/s, rtt 40 ms"


def test_schedule_grammar():
    assert parse_schedule("400") == ((0.0, 400.0),)
    assert parse_schedule("1000@0, 250@20,1000@40") == ((0.0, 1000.0), (20.0, 250.0), (40.0, 1000.0))
    for bad in ("fast", "1000@x", "0@0", "100@-1", "100@5,200@5", "100@10,200@5", "", "inf"):
        with pytest.raises(LinkSpecError, match="--link-kbps"):
            parse_schedule(bad)


def test_scheduled_rate_changes_at_its_times():
    clock = FakeClock()
    link = Link(parse_schedule("100@0,10@1,50@2"), 0, clock)
    assert link.rate_at(0.5) == 100_000 and link.rate_at(1.0) == 10_000 and link.rate_at(9) == 50_000
    clock.t = 0.99
    sent, drained_at = link.accept(10**6)
    # 100 bytes leave before the step at 1 s, the other 5644 at 10 KB/s
    assert sent == SEND_BUFFER and abs(drained_at - (1.0 + (SEND_BUFFER - 1000) / 10_000)) < 1e-9
    clock.t = 1.1
    assert abs(link.queued() - (SEND_BUFFER - 1000 - 1000)) < 1e-6
    clock.t = 3.0  # drained at 10 KB/s until 1.474 s
    assert link.queued() == 0
    assert link.changes(0.5, 2.0) == [(1.0, 10.0), (2.0, 50.0)]


def test_before_the_first_step_the_link_is_unlimited():
    clock = FakeClock()
    link = Link(parse_schedule("100@5"), 0, clock)
    assert link.accept(10**6) == (10**6, 0.0)
    clock.t = 5.0
    assert link.accept(10**6)[0] == SEND_BUFFER


def test_describe_a_schedule():
    assert Link(parse_schedule("1000@0,250@20"), 20, FakeClock()).describe() == (
        "1000 KB/s from 0 s, 250 KB/s from 20 s, rtt 20 ms"
    )
    assert Link(None, 0, FakeClock()).describe() == "unlimited, rtt 0 ms"
