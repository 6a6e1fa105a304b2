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
    error_detail,
    line,
    missing_module,
)


class OutOfRetries(Exception):
    pass


@pytest.mark.parametrize(
    "exc,kind",
    [
        (LinkDown("x"), "wifi"),
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (OSError(-2), "dns"),
        (OSError(-0x2700), "tls"),
        (OSError(-0x7280), "tls"),
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


def test_tls_lines_name_the_likely_cause_and_the_mbedtls_code_in_hex():
    assert line("tls", 1, OSError(-0x2700), 0.5) == (
        "Error tls #1: TLS failed: the hub's certificate is not trusted (self-signed? put its certificate in"
        " CAMSTREAM_CA_FILE) (mbedtls -0x2700); retry in 0.5 s"
    )
    assert line("tls", 2, OSError(-0x7280), 0).endswith("the hub closed the TLS connection (mbedtls -0x7280)")
    assert line("tls", 3, OSError(-0x4290), 0).endswith("TLS failed: mbedtls error (mbedtls -0x4290)")


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"error": "unknown device \\u00e9\\n"}', "unknown device \u00e9"),
        (b"\xe9t\xe9 indisponible\r\n<html>", "?t? indisponible  <html>"),
        (b"x" * 79 + "\u00e9".encode(), "x" * 79 + "?"),
        (b"", ""),
    ],
)
def test_error_detail_is_printable_whatever_the_bytes(body, shown):
    """CircuitPython's decode() ignores errors="replace": no byte sequence may raise here."""
    assert error_detail(body) == shown


def test_missing_modules_are_explained():
    assert "only for ESP32-S3 boards with PSRAM" in missing_module(ImportError("no module named 'espcamera'"))
    assert "circup install -r requirements.txt" in missing_module(ImportError("no module named 'adafruit_requests'"))
    assert missing_module(ImportError("no module named 'x'")) == "cannot start: no module named 'x'"
