"""One error type for every refused request, and the middleware that turns every error into JSON."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A request refused with `status` and a readable `message`; `device_id` when the sender is known."""

    def __init__(
        self, status: int, message: str, device_id: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.device_id = device_id
        self.headers = headers or {}


def error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error, including aiohttp's own 404/405/413, leaves as `{"error": "..."}`."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error(exc.status, exc.message, **exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        generic = not exc.text or exc.text.startswith(f"{exc.status}:")
        message = f"{exc.reason}: {request.method} {request.path}" if generic else str(exc.text)
        return error(exc.status, message, **{k: v for k, v in exc.headers.items() if k == "Allow"})
    except ConnectionError:  # the client left mid-answer: there is nobody to tell, and nothing went wrong here
        log.debug("client of %s %s went away", request.method, request.path)
        return web.Response(status=499, reason="Client Closed Request")  # never sent: aiohttp drops it quietly
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return error(500, "internal server error (see the hub's log)")
