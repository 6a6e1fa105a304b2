"""The machine's loopback limit: a raw asyncio relay that moves the benchmark's frames with no HTTP.

Same shape of load as the hub gets: N camera connections each send a frame and wait for a one-byte ack before
the next (one frame in flight, like an HTTP request/response), and the relay forwards every frame to the M
viewer connections of that camera, skipping a viewer that still has a frame queued (latest-frame semantics).
Wire format: a role line `C <camera>\\n` or `V <camera>\\n`, then frames as a 4-byte big-endian length + bytes.

    python -m bench.loopback --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import struct

LENGTH = struct.Struct(">I")
ACK = b"\x01"


class Relay:
    def __init__(self) -> None:
        self._viewers: dict[bytes, set[asyncio.StreamWriter]] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            role, _, camera = (await reader.readline()).strip().partition(b" ")
            if role == b"C":
                await self._camera(camera, reader, writer)
            elif role == b"V":
                await self._viewer(camera, reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _camera(self, camera: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        viewers = self._viewers.setdefault(camera, set())
        while True:
            head = await reader.readexactly(LENGTH.size)
            message = head + await reader.readexactly(LENGTH.unpack(head)[0])
            for viewer in viewers:
                if viewer.transport.get_write_buffer_size() == 0:
                    viewer.write(message)
            writer.write(ACK)

    async def _viewer(self, camera: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        viewers = self._viewers.setdefault(camera, set())
        viewers.add(writer)
        try:
            await reader.read()  # a viewer sends nothing more; EOF means it left
        finally:
            viewers.discard(writer)


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(Relay().handle, host, port, limit=1 << 22)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="raw asyncio frame relay (the benchmark's loopback limit)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
