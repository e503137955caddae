"""bench/replication-lag: how long a message APPENDed on the master takes to be readable on the
replica while pimlink follows the master (issue 15's rolling mode; target p95 <= 1 s).

The follower is `pimlink replicate r -r` or, with `--pair`, `pimlink daemon r` over a one-way
pair (`direction = "a-to-b"`), for a pimlink whose rolling mode has not landed. After an untimed
initial replication, each of `--changes` messages is APPENDed to the master's INBOX over IMAP
and the replica's INBOX is searched for its Message-ID every 10 ms; the lag is the time from the
APPEND's OK to the first search that finds it. Prints p50/p95/max.
"""

import argparse
import imaplib
import os
import signal
import statistics
import subprocess
import sys
import time

from . import corpus
from .replication import pimlink_config
from .servers import HOST, PASSWORD, USER, Dovecot, finish, scratch

REPLICA_USER = "r0"


def login(server, user):
    imap = imaplib.IMAP4(HOST, server.port)
    imap.login(user, PASSWORD)
    return imap


def message(i):
    mid = f"<lag-{i}-{time.time_ns()}@pimbench>"
    body = (f"From: a@example.org\r\nTo: b@example.org\r\nSubject: lag {i}\r\n"
            f"Message-ID: {mid}\r\nDate: Mon, 7 Dec 2026 12:00:00 +0000\r\n\r\nhello {i}\r\n")
    return mid, body.encode()


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/replication-lag", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=1000, help="in the account before the test")
    p.add_argument("--changes", type=int, default=50)
    p.add_argument("--gap", type=float, default=0.5, help="seconds between APPENDs")
    p.add_argument("--pimlink", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "target", "release", "pimlink"))
    p.add_argument("--pair", action="store_true")
    p.add_argument("--timeout", type=float, default=60, help="per message")
    args = p.parse_args(argv)
    work = scratch("pimbench-lag-")
    master = Dovecot(os.path.join(work, "master"), [USER])
    replica = Dovecot(os.path.join(work, "replica"), [REPLICA_USER])
    follower = None
    lags = []
    try:
        master.start()
        replica.start()
        corpus.write_dovecot_maildir(master.mail_dir(USER), args.messages, 4, 1,
                                     attachments=False)
        master.chown_mail()
        master.doveadm("force-resync", "-u", USER, "*")
        conf = os.path.join(work, "config.toml")
        pimlink_config(conf, os.path.join(work, "state"), master, replica, REPLICA_USER,
                       args.pair)
        once = ["sync", "r"] if args.pair else ["replicate", "r"]
        subprocess.run([args.pimlink, "-q", "-c", conf, *once], check=True)
        follow = ["daemon", "r"] if args.pair else ["replicate", "r", "-r"]
        log = open(os.path.join(work, "follower.log"), "wb")
        follower = subprocess.Popen([args.pimlink, "-c", conf, *follow], stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        time.sleep(2)  # the follower's first pass and watch set-up are not measured
        writer, reader = login(master, USER), login(replica, REPLICA_USER)
        for i in range(args.changes):
            mid, body = message(i)
            writer.append("INBOX", None, None, body)
            start = time.monotonic()
            while True:
                reader.select("INBOX", readonly=True)
                _, found = reader.search(None, "HEADER", "Message-ID", mid)
                if found and found[0].split():
                    lags.append(time.monotonic() - start)
                    break
                if time.monotonic() - start > args.timeout:
                    raise RuntimeError(f"message {i} did not arrive within {args.timeout} s")
                time.sleep(0.01)
            time.sleep(args.gap)
        q = statistics.quantiles(lags, n=20, method="inclusive")
        label = "pimlink daemon (a-to-b pair)" if args.pair else "pimlink replicate -r"
        print(f"{label}: {len(lags)} messages, p50 {statistics.median(lags):.3f} s, "
              f"p95 {q[18]:.3f} s, max {max(lags):.3f} s")
        return 0
    finally:
        if follower is not None and follower.poll() is None:
            os.killpg(follower.pid, signal.SIGTERM)
            follower.wait(timeout=30)
        finish(work, [master, replica], keep=False)


if __name__ == "__main__":
    sys.exit(main())
