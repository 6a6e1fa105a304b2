"""HEAD on every route: the status and headers a GET would get, no body, and the connection ready for the next
request, whichever handler serves the route (endless streams included)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

_CANCEL_AGAIN_S = 0.05
_PREPARED: web.RequestKey[asyncio.Future[web.StreamResponse]] = web.RequestKey("camhub_head_prepared")


async def discard_head_body(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """on_response_prepare: a HEAD response's writer drops every body byte, and the middleware learns the headers
    are out. (aiohttp does the first for its own responses, not for a handler that streams after prepare().)"""
    if request.method != hdrs.METH_HEAD:
        return
    writer = await response.prepare(request)  # already started: this only returns its writer
    if writer is not None:
        writer.length = 0
    prepared = request.get(_PREPARED)
    if prepared is not None and not prepared.done():
        prepared.set_result(response)


@web.middleware
async def head_without_body(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A HEAD handler that prepared its response and goes on writing (a stream) is stopped once its headers are
    sent; its own cleanup runs as for a viewer that left."""
    if request.method != hdrs.METH_HEAD:
        return await handler(request)
    prepared: asyncio.Future[web.StreamResponse] = asyncio.get_running_loop().create_future()
    request[_PREPARED] = prepared
    task = asyncio.ensure_future(handler(request))
    try:
        await asyncio.wait((task, prepared), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        # The headers are written right after the hook that resolved `prepared`; one turn of the loop later the
        # handler is past them, waiting or writing into the void.
        await asyncio.sleep(0)
        while not task.done():  # asyncio.wait_for of Python 3.11 can swallow a cancel that meets a result
            task.cancel()
            await asyncio.wait((task,), timeout=_CANCEL_AGAIN_S)
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
        return prepared.result()
    finally:
        prepared.cancel()
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved: a client that left as its handler failed is not an error to log
