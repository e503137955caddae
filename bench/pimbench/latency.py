"""A TCP proxy on loopback that adds a fixed round-trip time, as a distant server would.

Every chunk read from one side is written to the other `delay` seconds after it arrived (half
the round trip each way). Each direction has its own queue and writer, so chunks keep their
order, a chunk's delay starts when it arrives (pipelined commands are not serialised behind each
other's delays) and the bandwidth is not limited beyond what the proxy can copy. Run as
`python3 -m pimbench.latency --rtt-ms 50 --target-port N`: it listens on a free 127.0.0.1 port,
prints `port P` on stdout once it accepts connections, and runs until killed.

Per connection it logs (to --log) the bytes each way and the client's *turns*: how many times
the client sent something after having received something since its last send, which is the
number of round trips a client that waits for answers pays.
"""

import argparse
import asyncio
import collections
import os
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"  # loopback only
CHUNK = 256 * 1024
# Bytes one direction may hold before its reader stops reading: bounds the memory when the
# receiving side is slower than the sender, without limiting a fast one (50 ms of 1 GB/s).
MAX_QUEUED = 64 * 1024 * 1024
EOF = None


class Direction:
    """One direction of one connection: chunks with the time each is due, in arrival order."""

    def __init__(self, delay):
        self.delay = delay
        self.chunks = collections.deque()
        self.queued = 0
        self.ready = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.bytes = 0
        self.count = 0
        self.abandoned = False

    def abandon(self):
        """The receiving side is gone: drop what is queued and whatever comes, and never make
        the reader wait for room again."""
        self.abandoned = True
        self.chunks.clear()
        self.queued = 0
        self.room.set()

    def put(self, data):
        if self.abandoned:
            return
        self.chunks.append((time.monotonic() + self.delay, data))
        if data is not EOF:
            self.queued += len(data)
            self.bytes += len(data)
            self.count += 1
            if self.queued >= MAX_QUEUED:
                self.room.clear()
        self.ready.set()

    async def get(self):
        while not self.chunks:
            self.ready.clear()
            await self.ready.wait()
        due, data = self.chunks.popleft()
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        if data is not EOF:
            self.queued -= len(data)
            if self.queued < MAX_QUEUED:
                self.room.set()
        return data


class Connection:
    def __init__(self, delay, number):
        self.number = number
        self.up = Direction(delay)  # client -> server
        self.down = Direction(delay)  # server -> client
        self.turns = 0
        self.heard_since_send = True  # the greeting counts: the first send is a turn

    async def read(self, reader, direction, is_client):
        try:
            while True:
                await direction.room.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                if is_client:
                    if self.heard_since_send:
                        self.turns += 1
                        self.heard_since_send = False
                else:
                    self.heard_since_send = True
                direction.put(data)
        except (ConnectionError, OSError):
            pass
        direction.put(EOF)

    @staticmethod
    async def write(writer, direction):
        try:
            while True:
                data = await direction.get()
                if data is EOF:
                    if writer.can_write_eof():
                        writer.write_eof()
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            direction.abandon()


async def serve(target_port, delay, log):
    numbers = iter(range(1, 1 << 62))

    async def handle(client_reader, client_writer):
        conn = Connection(delay, next(numbers))
        started = time.monotonic()
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, target_port)
        except OSError:
            client_writer.close()
            return
        try:
            await asyncio.gather(
                conn.read(client_reader, conn.up, True),
                conn.read(server_reader, conn.down, False),
                conn.write(server_writer, conn.up),
                conn.write(client_writer, conn.down))
        finally:
            for w in (client_writer, server_writer):
                w.close()
            if log:
                log.write(f"{time.time():.3f} connection {conn.number}: {conn.turns} turns, "
                          f"up {conn.up.bytes} B in {conn.up.count} chunks, down "
                          f"{conn.down.bytes} B in {conn.down.count} chunks, "
                          f"{time.monotonic() - started:.3f} s\n")
                log.flush()

    server = await asyncio.start_server(handle, HOST, 0, family=socket.AF_INET)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await server.serve_forever()


class Proxy:
    """The proxy as a process of its own (its own interpreter, so copying does not compete with
    the runner for a lock), in front of the server on `target_port`."""

    def __init__(self, target_port, rtt_ms, log):
        self.target_port = target_port
        self.rtt_ms = rtt_ms
        self.log = log
        self.port = None
        self.process = None
        self.errors = None

    def start(self):
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.errors = open(self.log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pimbench.latency", "--rtt-ms", str(self.rtt_ms),
             "--target-port", str(self.target_port), "--log", self.log],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.errors,
            cwd=package_parent, start_new_session=True)
        line = self.process.stdout.readline().decode()
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError(f"latency proxy did not start (said {line!r}); log {self.log}")
        self.port = int(line.split()[1])
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.process.stdout.close()
        if self.errors is not None:
            self.errors.close()
            self.errors = None


class Behind:
    """`server` as the tools see it through `proxy`: its port is the proxy's, everything else
    (its directories, doveadm) is the server's own."""

    def __init__(self, server, proxy):
        self._server = server
        self.port = proxy.port

    def __getattr__(self, name):
        return getattr(self._server, name)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m pimbench.latency", description=__doc__)
    p.add_argument("--rtt-ms", type=float, required=True, help="round trip added, in ms")
    p.add_argument("--target-port", type=int, required=True, help="the server's port on "
                   f"{HOST}")
    p.add_argument("--log", help="append one line per closed connection here")
    args = p.parse_args(argv)
    log = open(args.log, "a") if args.log else None
    try:
        asyncio.run(serve(args.target_port, args.rtt_ms / 2000.0, log))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
