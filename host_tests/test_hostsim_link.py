from hostsim.link import SEND_BUFFER, Link


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
