"""bench/replicate: the initial replication of one account Dovecot -> Dovecot (issue 15).

Contenders, each into a fresh, empty account on the replica (so that no run starts from another's
leftovers and no server restart is needed between runs):
- `pimlink`: `pimlink replicate r` with `master_login = replica_login = "self"` (one-user
  replication); with `--pair`, a one-way pair (`direction = "a-to-b"`) instead, for a pimlink
  without `replicate`.
- `imapsync`: its public source (github:imapsync/imapsync), run with Debian's Perl modules.
- `doveadm-backup`: Dovecot's own `doveadm backup -R` on the replica, reading the master over
  imapc (dsync; Dovecot 2.3).

After every timed run the replica account is checked in full against the master: the multisets
of (folder, Message-ID, flags) of both Maildir trees on disk (verify.mail_state), so a fast wrong
answer fails. Peak RSS is GNU time's %M (measure.py). Everything listens on 127.0.0.1 only.

The rolling-lag and migration scenarios are skeletons here (see `rolling_lag` and `migration`):
they need `pimlink replicate -r` and `pimlink migrate`, and are run by hand with their flags.
"""

import argparse
import os
import shutil
import statistics
import sys
import time

from . import corpus, deps, measure, verify
from .servers import HOST, PASSWORD, USER, Dovecot, finish, scratch

TOOLS = ("pimlink", "imapsync", "doveadm-backup")


def pimlink_config(path, state, master, replica, user, pair):
    """The config of the pimlink row: replication `r` (or pair `r` with --pair)."""
    storages = f"""[general]
state_dir = "{state}"

[storage.master]
type = "imap"
host = "{HOST}"
port = {master.port}
tls = "none"
user = "{USER}"
password = "{PASSWORD}"

[storage.replica]
type = "imap"
host = "{HOST}"
port = {replica.port}
tls = "none"
user = "{user}"
password = "{PASSWORD}"
"""
    if pair:
        job = """
[pair.r]
a = "master"
b = "replica"
collections = ["*"]
direction = "a-to-b"
create = ["b"]
"""
    else:
        job = """
[replication.r]
master = "master"
replica = "replica"
master_login = "self"
replica_login = "self"
"""
    with open(path, "w") as f:
        f.write(storages + job)


def argv_for(tool, args, work, master, replica, user):
    """The command line of one timed run of `tool` into the replica account `user`."""
    d = os.path.join(work, "runs", f"{tool}-{user}")
    os.makedirs(d)
    if tool == "pimlink":
        conf = os.path.join(d, "config.toml")
        pimlink_config(conf, os.path.join(d, "state"), master, replica, user, args.pair)
        verb = ["sync", "r"] if args.pair else ["replicate", "r"]
        return [args.pimlink, "-q", "-c", conf, *verb]
    if tool == "imapsync":
        return ["perl", args.imapsync,
                "--host1", HOST, "--port1", str(master.port), "--user1", USER,
                "--password1", PASSWORD, "--nossl1", "--notls1",
                "--host2", HOST, "--port2", str(replica.port), "--user2", user,
                "--password2", PASSWORD, "--nossl2", "--notls2",
                "--nolog", "--noreleasecheck", "--tmpdir", d]
    if tool == "doveadm-backup":
        imapc = {
            "imapc_host": HOST, "imapc_port": str(master.port), "imapc_user": USER,
            "imapc_password": PASSWORD, "imapc_ssl": "no",
            "imapc_features": "rfc822.size fetch-headers modseq",
            "mail_prefetch_count": "20",
        }
        opts = [x for k, v in imapc.items() for x in ("-o", f"{k}={v}")]
        return ["doveadm", "-c", replica.conf, *opts, "backup", "-R", "-u", user, "imapc:"]
    raise ValueError(tool)


def check(master, replica, user):
    """None if the replica account holds exactly the master's messages, else a description."""
    want = verify.mail_state(master.mail_dir(USER))
    got = verify.mail_state(replica.mail_dir(user))
    if want == got:
        return None
    return verify.difference(want, got, "messages")


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench/replicate", description=__doc__.split("\n")[0])
    p.add_argument("--messages", type=int, default=20000)
    p.add_argument("--folders", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--pimlink", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "target", "release", "pimlink"))
    p.add_argument("--pair", action="store_true",
                   help="bench pimlink as a one-way pair instead of `replicate`")
    p.add_argument("--imapsync", default=shutil.which("imapsync") or "imapsync")
    p.add_argument("--workdir", default=None)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--timeout", type=int, default=3600)
    args = p.parse_args(argv)
    deps.ensure()
    tools = [t for t in args.tools.split(",") if t]
    work = scratch("pimbench-repl-", args.workdir)
    replica_users = [f"r{i}" for i in range(args.repeat * len(tools))]
    master = Dovecot(os.path.join(work, "master"), [USER])
    replica = Dovecot(os.path.join(work, "replica"), replica_users)
    failed = False
    rows = {t: [] for t in tools}
    try:
        master.start()
        replica.start()
        t0 = time.monotonic()
        stats = corpus.write_dovecot_maildir(master.mail_dir(USER), args.messages, args.folders,
                                             args.seed)
        master.chown_mail()
        master.doveadm("force-resync", "-u", USER, "*")
        print(f"corpus: {stats.messages} messages, {stats.bytes / 1e6:.0f} MB in "
              f"{args.folders} folders ({time.monotonic() - t0:.1f} s)", flush=True)
        users = iter(replica_users)
        for rep in range(args.repeat):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]
            for tool in order:
                user = next(users)
                argv_ = argv_for(tool, args, work, master, replica, user)
                log = os.path.join(work, "logs", f"{tool}-{user}.log")
                os.makedirs(os.path.dirname(log), exist_ok=True)
                sample = measure.run(argv_, log, timeout=args.timeout)
                wrong = check(master, replica, user) if sample.ok else "exit status"
                ok = sample.ok and wrong is None
                failed |= not ok
                rows[tool].append((sample, ok))
                print(f"{tool:15} {sample.wall:8.2f} s  {sample.rss_kb / 1024:7.1f} MB  "
                      f"{'ok' if ok else 'FAILED: ' + str(wrong)[:300] + ' (log ' + log + ')'}",
                      flush=True)
        print_table(rows, args)
    except BaseException:
        failed = True
        raise
    finally:
        finish(work, [master, replica], failed or args.keep)
    return 1 if failed else 0


def print_table(rows, args):
    def med(tool, f):
        good = [f(s) for s, ok in rows[tool] if ok]
        return statistics.median(good) if good else None

    label = "pimlink (a-to-b pair)" if args.pair else "pimlink replicate"
    base_t = med("pimlink", lambda s: s.wall) if "pimlink" in rows else None
    base_m = med("pimlink", lambda s: s.rss_kb) if "pimlink" in rows else None
    print(f"\n| tool | median s | peak RSS MB | ok | pimlink/tool time | pimlink/tool RSS |")
    print("|---|---|---|---|---|---|")
    for tool, samples in rows.items():
        t, m = med(tool, lambda s: s.wall), med(tool, lambda s: s.rss_kb)
        ok = sum(1 for _, good in samples if good)
        name = label if tool == "pimlink" else tool
        ratio_t = f"{base_t / t:.2f}" if t and base_t else "-"
        ratio_m = f"{base_m / m:.2f}" if m and base_m else "-"
        print(f"| {name} | {t:.2f} | {m / 1024:.1f} | {ok}/{len(samples)} | {ratio_t} | "
              f"{ratio_m} |" if t else f"| {name} | - | - | {ok}/{len(samples)} | - | - |")


if __name__ == "__main__":
    sys.exit(main())
