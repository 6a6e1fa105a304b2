from hostsim.link import SEND_BUFFER, Link


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_unlimited_link_grants_everything():
    link = Link(None, 0, FakeClock())
    assert link.grant(10**6) == 10**6


def test_bucket_rate_is_kbps_times_1000_bytes():
    clock = FakeClock()
    link = Link(100, 0, clock)  # 100 KB/s = 100_000 B/s
    sent = link.grant(10**6)
    assert sent == SEND_BUFFER  # one send buffer of burst, no more
    for _ in range(1000):
        clock.t += 0.01
        sent += link.grant(10**6)
    assert abs(sent - 100_000 * 10 - SEND_BUFFER) <= 1000


def test_empty_bucket_grants_nothing_and_does_not_save_up():
    clock = FakeClock()
    link = Link(50, 0, clock)
    link.grant(SEND_BUFFER)
    assert link.grant(100) == 0
    clock.t += 60  # a long pause saves at most one buffer
    assert link.grant(10**6) == SEND_BUFFER


def test_refund_returns_unsent_tokens():
    clock = FakeClock()
    link = Link(10, 0, clock)
    assert link.grant(SEND_BUFFER) == SEND_BUFFER
    link.refund(1000)
    assert link.grant(SEND_BUFFER) == 1000


def test_describe_states_units():
    assert Link(250, 40, FakeClock()).describe() == "250 KB/s, rtt 40 ms"
