import math

import pytest

from hostsim.faults import Fault, FaultSchedule, FaultSpecError, parse_fault


def test_parse_window_event_and_open_ended():
    assert parse_fault("wifi@5+3") == Fault("wifi", 5.0, 3.0)
    assert parse_fault("camera@0.5+1.5") == Fault("camera", 0.5, 1.5)
    assert parse_fault("hang@6") == Fault("hang", 6.0, 0.0)
    assert parse_fault("dns@2").duration == math.inf
    assert str(parse_fault("memory@3+1")) == "memory@3+1"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("wifi", "expected KIND@START"),
        ("wlan@5+3", "unknown kind 'wlan'"),
        ("wifi@x+3", "expected KIND@START"),
        ("wifi@1.2.3+3", "START '1.2.3' is not a number"),
        ("wifi@5+0", "DURATION must be > 0"),
        ("hang@6+2", "hang is an event"),
        ("wifi@-1+2", "expected KIND@START"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec, message):
    with pytest.raises(FaultSpecError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_fault(spec)


def test_windows_are_half_open_and_per_kind():
    schedule = FaultSchedule([parse_fault("wifi@5+3"), parse_fault("dns@1+1")])
    assert schedule.active("wifi", 4.99) is None
    assert schedule.active("wifi", 5.0) is not None
    assert schedule.active("wifi", 7.99) is not None
    assert schedule.active("wifi", 8.0) is None
    assert schedule.active("dns", 1.5) is not None
    assert schedule.active("camera", 6) is None


def test_began_between_marks_connections_cut_by_an_outage():
    schedule = FaultSchedule([parse_fault("wifi@5+3")])
    assert schedule.began_between("wifi", 4.0, 9.0)
    assert not schedule.began_between("wifi", 5.0, 9.0)
    assert not schedule.began_between("wifi", 0.0, 4.9)


def test_each_hang_fires_once_and_only_when_due():
    schedule = FaultSchedule([parse_fault("hang@6"), parse_fault("hang@9")])
    assert schedule.take_hang(5.9) is None
    assert schedule.take_hang(6.1) == Fault("hang", 6.0, 0.0)
    assert schedule.take_hang(7.0) is None
    assert schedule.take_hang(9.5) == Fault("hang", 9.0, 0.0)


def test_transitions_report_begin_and_end():
    schedule = FaultSchedule([parse_fault("wifi@5+3")])
    assert [(str(f), w) for f, w in schedule.transitions(4.9, 5.1)] == [("wifi@5+3", "begins")]
    assert [(str(f), w) for f, w in schedule.transitions(7.9, 8.1)] == [("wifi@5+3", "ends")]
    assert schedule.transitions(5.1, 7.9) == []
