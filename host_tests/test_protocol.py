"""camhub.protocol: requests too broken for a handler get a JSON 400 and cost the log one line per burst."""

import asyncio
import json
import logging

from testkit.rawhttp import exchange


async def test_malformed_requests_get_json_and_one_log_line(hub, caplog):
    caplog.set_level(logging.INFO)
    garbage = [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Device-Id: \x01\r\n\r\n",
        b"POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 10_000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    ]
    for round_ in range(50):
        answer = await exchange(hub.url, garbage[round_ % len(garbage)])
        assert answer.status in (400, 431), answer
        assert answer.headers["content-type"].startswith("application/json")
        assert json.loads(answer.body)["error"].startswith("malformed request: ")
    lines = [r for r in caplog.records if "malformed request" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING and lines[0].exc_info is None
    assert not [r for r in caplog.records if r.exc_info]
    assert hub.server.gate.malformed.count == 50
    await asyncio.sleep(0)
    assert (await exchange(hub.url, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")).status == 200
