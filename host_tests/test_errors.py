"""camstream.errors: classification by kind and the one-line report."""

import socket

import pytest

from camstream.errors import (
    CameraInitError,
    CameraTimeout,
    HTTPStatusError,
    LinkDown,
    ProtocolError,
    UploadTimeout,
    classify,
    line,
)


class OutOfRetries(Exception):
    pass


@pytest.mark.parametrize(
    "exc,kind",
    [
        (LinkDown("x"), "wifi"),
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (OSError(-2), "dns"),
        (OSError(111), "refused"),
        (ConnectionRefusedError(111, "refused"), "refused"),
        (OSError(104), "reset"),
        (OSError(128), "reset"),
        (OSError(113), "reset"),
        (OSError(118), "unreachable"),
        (OSError(116), "timeout"),
        (OSError(11), "timeout"),
        (UploadTimeout("slow"), "timeout"),
        (HTTPStatusError(401, "frame upload"), "auth"),
        (HTTPStatusError(403, "register"), "auth"),
        (HTTPStatusError(503, "frame upload"), "server"),
        (HTTPStatusError(413, "frame upload"), "rejected"),
        (ProtocolError("x"), "protocol"),
        (CameraTimeout("x"), "camera"),
        (CameraInitError("x"), "camera"),
        (MemoryError(), "memory"),
        (OutOfRetries("Repeated socket failures"), "reset"),
        (RuntimeError("An existing socket is already connected to http://h:1"), "reset"),
        (TypeError("bug"), "other"),
        (KeyError("bug"), "other"),
    ],
)
def test_classify(exc, kind):
    assert classify(exc) == kind


def test_line_is_one_line_with_kind_count_cause_and_retry():
    text = line("auth", 3, HTTPStatusError(401, "frame upload", "invalid API key"), 10.0)
    assert text == (
        "Error auth #3: server rejected the API key: check CAMSTREAM_API_KEY: "
        "frame upload got HTTP 401 (invalid API key); retry in 10.0 s"
    )
    assert "retry" not in line("camera", 1, CameraTimeout("no frame"), 0)
