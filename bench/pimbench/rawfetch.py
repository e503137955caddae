"""The "raw FETCH" limit: stream every message body of every folder and write nothing.

Run as `python3 -m pimbench.rawfetch HOST PORT USER PASSWORD`; prints `messages bytes` on
success; with `--expect N` it fails unless N bodies came back. imaplib would hold a whole FETCH response (hundreds of MB) in memory, so this is a
minimal streaming reader: it only understands enough IMAP to skip literals and find the tagged
completion, reading bodies in bounded chunks.
"""

import re
import socket
import sys

LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
LIST_LINE = re.compile(rb'^\* LIST \(([^)]*)\) (?:NIL|"(?:[^"\\]|\\.)*") (.*)\r\n$')
CHUNK = 1 << 20


class ImapError(Exception):
    pass


class Stream:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port))
        self.f = self.sock.makefile("rb", buffering=CHUNK)
        self.tag = 0
        greeting = self.f.readline()
        if not greeting.startswith(b"* OK"):
            raise ImapError(f"unexpected greeting {greeting[:80]!r}")

    def command(self, text, on_line=None, on_literal=None):
        """Sends one command and reads up to its tagged answer. `on_line` sees every line,
        `on_literal(size)` must consume a literal of `size` bytes (default: skip it)."""
        self.tag += 1
        tag = b"b%d" % self.tag
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        while True:
            line = self.f.readline()
            if not line:
                raise ImapError(f"connection closed during {text!r}")
            m = LITERAL.search(line)
            if m:
                size = int(m.group(1))
                (on_literal or self.skip)(size)
                if on_line:
                    on_line(line)
                continue
            if on_line:
                on_line(line)
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise ImapError(f"{text!r}: {line.decode(errors='replace').strip()}")
                return

    def close(self):
        self.f.close()
        self.sock.close()

    def skip(self, size):
        while size:
            got = self.f.read(min(size, CHUNK))
            if not got:
                raise ImapError("connection closed inside a literal")
            size -= len(got)


def quote(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_list_name(line):
    m = LIST_LINE.match(line)
    if not m:
        return None
    attrs, raw = m.group(1).lower(), m.group(2)
    if b"\\noselect" in attrs or b"\\nonexistent" in attrs:
        return None
    if raw.startswith(b'"'):
        raw = raw[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
    return raw.decode()


def fetch_all(host, port, user, password):
    s = Stream(host, port)
    try:
        return _fetch_all(s, user, password)
    finally:
        s.close()


def _fetch_all(s, user, password):
    s.command(f"LOGIN {quote(user)} {quote(password)}")
    names = []
    s.command('LIST "" "*"', on_line=lambda l: names.append(parse_list_name(l)))
    messages = 0
    total = 0

    def literal(size):
        nonlocal messages, total
        messages += 1
        total += size
        s.skip(size)

    for name in filter(None, names):
        s.command(f"EXAMINE {quote(name)}")
        s.command("UID FETCH 1:* BODY.PEEK[]", on_literal=literal)
    s.command("LOGOUT")
    return messages, total


def main(argv):
    expect = None
    if len(argv) == 7 and argv[5] == "--expect":
        expect = int(argv[6])
        argv = argv[:5]
    if len(argv) != 5:
        print("usage: python3 -m pimbench.rawfetch HOST PORT USER PASSWORD [--expect N]",
              file=sys.stderr)
        return 2
    messages, total = fetch_all(argv[1], int(argv[2]), argv[3], argv[4])
    print(messages, total)
    if expect is not None and messages != expect:
        print(f"rawfetch: got {messages} messages, expected {expect}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
