"""The latency proxy passes bytes intact and in order, and adds at least its round trip."""

import os
import socket
import tempfile
import threading
import time
import unittest

from pimbench import fsutil, latency

RTT_MS = 100


class EchoServer:
    """Echoes everything back on each connection until the client closes its side."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.echo, args=(conn,), daemon=True).start()

    @staticmethod
    def echo(conn):
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self):
        self.sock.close()


def receive(sock, n):
    got = bytearray()
    while len(got) < n:
        data = sock.recv(n - len(got))
        if not data:
            break
        got += data
    return bytes(got)


class LatencyProxyTest(unittest.TestCase):
    def setUp(self):
        self.echo = EchoServer()
        self.addCleanup(self.echo.close)
        work = tempfile.mkdtemp(prefix="pimbench-latency-")
        self.addCleanup(lambda: fsutil.remove(work))
        self.log = os.path.join(work, "proxy.log")
        self.proxy = latency.Proxy(self.echo.port, RTT_MS, self.log).start()
        self.addCleanup(self.proxy.stop)

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.proxy.port), timeout=60)
        self.addCleanup(sock.close)
        return sock

    def test_bytes_arrive_intact_and_in_order(self):
        payload = os.urandom(5 * 1024 * 1024)
        sock = self.connect()
        # Written in pieces of varied sizes from a thread while the echo is read back, so that
        # many chunks are in flight in both directions at once.
        def send():
            offset, step = 0, 1
            while offset < len(payload):
                sock.sendall(payload[offset:offset + step])
                offset += step
                step = step * 3 % 200003 + 1
        sender = threading.Thread(target=send)
        sender.start()
        got = receive(sock, len(payload))
        sender.join()
        self.assertEqual(len(got), len(payload))
        self.assertTrue(got == payload, "the echo differs from what was sent")

    def test_a_round_trip_takes_at_least_the_configured_time(self):
        sock = self.connect()
        for i in range(3):
            message = f"ping {i}\r\n".encode()
            started = time.monotonic()
            sock.sendall(message)
            self.assertEqual(receive(sock, len(message)), message)
            self.assertGreaterEqual(time.monotonic() - started, RTT_MS / 1000.0)

    def test_counts_the_clients_turns(self):
        sock = self.connect()
        for i in range(4):
            sock.sendall(b"x")
            self.assertEqual(receive(sock, 1), b"x")
        sock.close()
        # The line is written when the proxy sees both sides closed: wait for it.
        deadline = time.monotonic() + 60
        text = ""
        while "connection 1:" not in text and time.monotonic() < deadline:
            time.sleep(0.05)
            with open(self.log) as f:
                text = f.read()
        self.assertIn("connection 1: 4 turns, up 4 B", text)


if __name__ == "__main__":
    unittest.main()
