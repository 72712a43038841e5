#!/usr/bin/env python3
"""A TCP proxy that adds a round-trip delay without limiting bandwidth.

  delayproxy.py --listen PORT --to HOST:PORT --rtt MS [--port-file FILE]

Every chunk read from one side is written to the other RTT/2 later, in the
order it was read; reading goes on meanwhile, so the delay does not cap the
throughput (as a long, fat link would not).  Loopback only; for bench/run.
"""

import argparse
import asyncio
import os


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except OSError:
            pass

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(262144)
            queue.put_nowait((loop.time() + delay, data or None))
            if not data:
                break
    except OSError:
        queue.put_nowait((loop.time(), None))
    try:
        await task
    except OSError:
        pass


async def handle(creader, cwriter, host, port, delay):
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        cwriter.close()
        return
    await asyncio.gather(pump(creader, swriter, delay),
                         pump(sreader, cwriter, delay))
    cwriter.close()
    swriter.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, default=0)
    p.add_argument("--to", required=True)
    p.add_argument("--rtt", type=float, required=True, help="milliseconds")
    p.add_argument("--port-file")
    a = p.parse_args()
    host, port = a.to.rsplit(":", 1)
    delay = a.rtt / 2000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, int(port), delay), "127.0.0.1",
        a.listen)
    bound = server.sockets[0].getsockname()[1]
    if a.port_file:
        tmp = a.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.rename(tmp, a.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
