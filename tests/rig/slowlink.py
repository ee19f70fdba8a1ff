"""A TCP proxy that holds every chunk it forwards: the rig's latency where the kernel has no netem.

``tc netem delay 200ms 50ms`` on both ends of a link holds each packet 200 ± 50 ms (uniform) in
each direction. This proxy, run on the provider's host in front of it, holds each chunk read
from either side for a fresh draw of the same before writing it to the other side. A chunk
never overtakes the one read before it (a byte stream cannot be reordered: TCP would put
netem's reordered packets back in order the same way), so it may wait a little longer than its
own draw. A new connection first waits one draw each way, the handshake's round trip that the
client's ``connect`` does not pay here. Loss is not done here: the rig drops packets to and
from this proxy's port with iptables, so TCP itself retransmits, as it would under netem.

Run as a script (stdlib only, no imports of the project): ``slowlink.py LISTEN TARGET
--delay-ms 200 --jitter-ms 50``, with LISTEN and TARGET as ``host:port``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Callable

Draw = Callable[[], float]


async def forward(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, draw: Draw, start: float
) -> None:
    """Copy ``reader`` to ``writer``, each chunk held ``draw()`` seconds; a chunk read before
    ``start`` (the client's end of the handshake) is taken as sent then."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def deliver() -> None:
        while (item := await queue.get()) is not None:
            at, data = item
            await asyncio.sleep(max(0.0, at - loop.time()))
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()  # a half-close travels on, after the data before it

    delivering = asyncio.create_task(deliver())
    due = start
    try:
        while data := await reader.read(65536):
            due = max(due, max(loop.time(), start) + draw())
            queue.put_nowait((due, data))
    finally:
        queue.put_nowait(None)
        await delivering


async def relay(
    target: tuple[str, int], draw: Draw, client: tuple[asyncio.StreamReader, asyncio.StreamWriter]
) -> None:
    client_r, client_w = client
    handshake = asyncio.get_running_loop().time() + draw() + draw()
    try:
        upstream_r, upstream_w = await asyncio.open_connection(*target)
    except OSError:
        client_w.transport.abort()
        return
    directions = [
        asyncio.create_task(forward(client_r, upstream_w, draw, handshake)),
        asyncio.create_task(forward(upstream_r, client_w, draw, handshake)),
    ]
    # Both directions end at their EOFs; a reset on one side cuts the other, as it would travel on.
    await asyncio.wait(directions, return_when=asyncio.FIRST_EXCEPTION)
    for w in (client_w, upstream_w):
        w.transport.abort()
    await asyncio.gather(*directions, return_exceptions=True)


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def serve(listen: tuple[str, int], target: tuple[str, int], delay_ms: float, jitter_ms: float) -> None:
    def draw() -> float:
        return max(0.0, random.uniform(delay_ms - jitter_ms, delay_ms + jitter_ms)) / 1000

    server = await asyncio.start_server(lambda r, w: relay(target, draw, (r, w)), *listen)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listen", type=address)
    parser.add_argument("target", type=address)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args()
    asyncio.run(serve(args.listen, args.target, args.delay_ms, args.jitter_ms))


if __name__ == "__main__":
    main()
