"""`python -m camhub` / `camhub`: parse settings, serve until Ctrl-C or SIGTERM, shut down cleanly;
`camhub export ...` writes a recorded range to a file instead (camhub/export/cli.py)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from . import banner, config
from .app import init
from .keys import ACCESS, API_KEYS, KEY_SOURCE
from .server import CertificateError, Server

log = logging.getLogger("camhub")


async def serve(settings: config.Config) -> None:
    app = init(settings)
    async with Server(app, settings.host, settings.port) as server:
        text = banner.render(
            settings.host,
            server.port,
            app[API_KEYS].shown,
            app[KEY_SOURCE],
            https=server.url.startswith("https"),
            notes=app[ACCESS].warnings(),
        )
        print(text, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["export"]:
        from .export import cli  # PyAV loads only for exports

        return cli.main(args[1:])
    settings = config.load(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(serve(settings))
    except CertificateError as exc:
        print(f"camhub: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"camhub: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
