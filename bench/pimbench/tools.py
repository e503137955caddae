"""The contenders: how each tool is configured, started, reset and checked.

Every tool keeps all its files (config, local Maildir or vdir, state, $HOME) in its own directory
`<work>/tools/<account>/<tool>/`, so that a reset is "delete that directory" and a baseline is a
link-copy of it. The configs written here are the ones documented in bench/README.md.
"""

import os
import shutil
import subprocess

from . import fsutil
from .servers import HOST, PASSWORD


def pimlink_mail_config(origin, state, port, account, mail, pair, server_keys=""):
    """The pimlink config of the bench's mail rows (and of bench/live): the Dovecot account
    `account` on `port` paired as `pair` with a verbatim Maildir at `mail`; `server_keys` go
    into the server's table."""
    return f"""# pimlink config of pimlink's {origin}
[general]
state_dir = "{state}"

[storage.server]
type = "imap"
host = "{HOST}"
port = {port}
tls = "none"
user = "{account}"
password = "{PASSWORD}"
{server_keys}
[storage.local]
type = "maildir"
path = "{mail}"
layout = "verbatim"

[pair.{pair}]
a = "server"
b = "local"
collections = ["*"]
create = ["a", "b"]
"""


class Tool:
    """Base class. `kind` is "mail", "dav" or "limit"; `available()` returns None or the reason
    the tool is skipped (shown in the table instead of numbers)."""

    name = "?"
    kind = "mail"
    stateful = True  # False for the limits, which have no sync state and no baseline

    def __init__(self, work, server, account):
        self.server = server
        self.account = account
        # The kind is part of the name: pimlink has a mail and a DAV row.
        self.dir = os.path.join(work, "tools", account, f"{self.kind}-{self.name}")
        self.mail = os.path.join(self.dir, "mail")
        self.state = os.path.join(self.dir, "state")
        self.home = os.path.join(self.dir, "home")
        self.log = os.path.join(work, "logs", f"{account}-{self.kind}-{self.name}.log")

    def available(self):
        return None

    def clean(self):
        """An empty local side and no sync state: the start of an initial sync."""
        fsutil.remove(self.dir)
        for d in (self.mail, self.state, self.home):
            os.makedirs(d)
        self.write_config()

    def write_config(self):
        pass

    def env(self):
        return dict(os.environ, HOME=self.home, LC_ALL="C.UTF-8")

    def argv(self):
        raise NotImplementedError

    def stdin(self):
        return None


def _which(name):
    return shutil.which(name)


class Mbsync(Tool):
    name = "mbsync"

    def available(self):
        return None if _which("mbsync") else "mbsync not installed (Debian package isync)"

    def write_config(self):
        with open(os.path.join(self.dir, "mbsyncrc"), "w") as f:
            f.write(f"""# mbsync config of pimlink's bench/run
IMAPAccount bench
Host {HOST}
Port {self.server.port}
User {self.account}
Pass {PASSWORD}
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account bench

MaildirStore local
Path {self.mail}/
Inbox {self.mail}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Sync All
Create Both
Expunge Both
SyncState *
""")

    def argv(self):
        return ["mbsync", "-q", "-c", os.path.join(self.dir, "mbsyncrc"), "bench"]


class OfflineImap(Tool):
    name = "offlineimap"

    def available(self):
        return None if _which("offlineimap") else "offlineimap not installed (package offlineimap3)"

    def write_config(self):
        with open(os.path.join(self.dir, "offlineimaprc"), "w") as f:
            f.write(f"""# offlineimap config of pimlink's bench/run: maxconnections at its default; the status
# backend is sqlite, the only one OfflineIMAP 8 has (it rejects the old status_backend key)
[general]
accounts = bench
metadata = {self.state}
ui = quiet

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {self.mail}
sep = /

[Repository remote]
type = IMAP
remotehost = {HOST}
remoteport = {self.server.port}
remoteuser = {self.account}
remotepass = {PASSWORD}
ssl = no
starttls = no
""")

    def argv(self):
        return ["offlineimap", "-o", "-u", "quiet", "-c", os.path.join(self.dir, "offlineimaprc")]


class Pimlink(Tool):
    """pimlink's row. Skipped with "not yet" while the binary cannot sync IMAP: the probe is a
    dry-run sync against the live server, so the row turns on by itself once it can."""

    name = "pimlink"
    binary = None  # set by the runner from --pimlink / $PIMLINK / PATH / target/release
    probe_result = {}
    extra_server_keys = ""  # set by the variants below

    def available(self):
        if not self.binary:
            return "not built (see --pimlink)"
        key = (self.binary, self.kind)
        if key not in Pimlink.probe_result:
            Pimlink.probe_result[key] = self.probe()
        return Pimlink.probe_result[key]

    def probe(self):
        self.clean()
        try:
            r = subprocess.run(self.argv() + ["--dry-run"], env=self.env(), capture_output=True,
                               text=True, timeout=600)
        except subprocess.TimeoutExpired:
            return "not yet: dry-run probe timed out"
        finally:
            fsutil.remove(self.dir)
        if r.returncode == 0:
            return None
        lines = [l for l in (r.stderr + r.stdout).splitlines() if l.strip()]
        reason = lines[-1].strip() if lines else f"exit {r.returncode}"
        return "not yet: " + reason[:200].rstrip()

    @staticmethod
    def connections_line():
        """`connections = N` from PIMBENCH_CONNECTIONS, to compare settings; else the default."""
        n = os.environ.get("PIMBENCH_CONNECTIONS", "").strip()
        return f"connections = {int(n)}\n" if n else ""

    def write_config(self):
        with open(os.path.join(self.dir, "config.toml"), "w") as f:
            f.write(pimlink_mail_config("bench/run", self.state, self.server.port, self.account,
                                        self.mail, "bench",
                                        self.connections_line() + self.extra_server_keys))

    def argv(self):
        return [self.binary, "-q", "-c", os.path.join(self.dir, "config.toml"), "sync"]


class RawFetch(Tool):
    """Limit: one connection streaming `UID FETCH 1:* BODY.PEEK[]` of every folder, no writes."""

    name = "raw-fetch"
    kind = "limit"
    stateful = False

    def argv(self):
        return ["python3", "-m", "pimbench.rawfetch", HOST, str(self.server.port),
                self.account, PASSWORD]

    def env(self):
        return dict(super().env(), PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))


class CopySync(Tool):
    """Limit: `cp -r` of the server's Maildir tree plus `sync` (the cost of just writing it)."""

    name = "cp-r+sync"
    kind = "limit"
    stateful = False

    def argv(self):
        src = self.server.mail_dir(self.account)
        return ["sh", "-c", 'cp -r "$1" "$2" && sync', "sh", src, os.path.join(self.mail, "copy")]


class Vdirsyncer(Tool):
    name = "vdirsyncer"
    kind = "dav"

    def available(self):
        return None if _which("vdirsyncer") else "vdirsyncer not installed"

    def write_config(self):
        url = f"http://{HOST}:{self.server.port}/"
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(f"""# vdirsyncer config of pimlink's bench/run
[general]
status_path = "{self.state}/"

[pair cal]
a = "cal_remote"
b = "cal_local"
collections = ["from a"]

[storage cal_remote]
type = "caldav"
url = "{url}"
username = "{self.account}"
password = "{PASSWORD}"

[storage cal_local]
type = "filesystem"
path = "{self.mail}/calendars/"
fileext = ".ics"

[pair card]
a = "card_remote"
b = "card_local"
collections = ["from a"]

[storage card_remote]
type = "carddav"
url = "{url}"
username = "{self.account}"
password = "{PASSWORD}"

[storage card_local]
type = "filesystem"
path = "{self.mail}/contacts/"
fileext = ".vcf"
""")

    def clean(self):
        super().clean()
        # Discovery (which collections exist, creating the local ones) is set-up, not sync: it
        # is run here, untimed; it asks before creating each local collection, hence the "y"s.
        r = subprocess.run(["vdirsyncer", "-c", os.path.join(self.dir, "config"), "discover"],
                           input="y\n" * 100, env=self.env(), capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"vdirsyncer discover failed: {r.stderr.strip()[-500:]}")

    def argv(self):
        return ["vdirsyncer", "-v", "WARNING", "-c", os.path.join(self.dir, "config"), "sync"]


class PimlinkDav(Pimlink):
    """pimlink's calendar/contact row, skipped with "not yet" like the mail one."""

    name = "pimlink"
    kind = "dav"
    skip_unchanged = ""  # the default configuration: what a user gets without tuning

    def write_config(self):
        url = f"http://{HOST}:{self.server.port}/"
        with open(os.path.join(self.dir, "config.toml"), "w") as f:
            f.write(f"""# pimlink config of pimlink's bench/run
[general]
state_dir = "{self.state}"

[storage.cal-remote]
type = "caldav"
url = "{url}"
user = "{self.account}"
password = "{PASSWORD}"
{self.skip_unchanged}
# Radicale lists 2,000 contacts in one answer; on a loaded machine that can take over a minute.
timeout = 600

[storage.cal-local]
type = "vdir"
path = "{self.mail}/calendars"
fileext = ".ics"

[storage.card-remote]
type = "carddav"
url = "{url}"
user = "{self.account}"
password = "{PASSWORD}"
{self.skip_unchanged}
timeout = 600

[storage.card-local]
type = "vdir"
path = "{self.mail}/contacts"
fileext = ".vcf"

[pair.cal]
a = "cal-remote"
b = "cal-local"
create = ["b"]

[pair.card]
a = "card-remote"
b = "card-local"
create = ["b"]
""")


class PimlinkOneConnection(Pimlink):
    """pimlink with `connections = 1`: one folder after another over one connection, as mbsync
    and OfflineIMAP (at its default) work, so that its rows compare like with like."""

    name = "pimlink-1conn"
    extra_server_keys = "connections = 1\n"

    def connections_line(self):
        return ""


class PimlinkDavLastModified(PimlinkDav):
    """pimlink's DAV row with the opt-in `skip_unchanged = "last-modified"` (right for Radicale,
    which moves a collection's last-modified with every item change; see pimlink-config(5))."""

    name = "pimlink-lastmod"
    skip_unchanged = 'skip_unchanged = "last-modified"\n'


class PimlinkAdoptDav(PimlinkDav):
    """pimlink's first sync of vdirsyncer's tree (issue 16): the runner link-copies
    vdirsyncer's baseline (vdir and status, same inodes, so vdirsyncer's etags still hold) into
    this tool's directory; pimlink finds the status where vdirsyncer keeps it by default
    (`$XDG_DATA_HOME/vdirsyncer/status`, a link to the copied `state/`) and starts with no
    state of its own (`pimlink-state/`)."""

    name = "pimlink-adopt"
    stateful = False  # no baseline of its own: it starts from vdirsyncer's

    def __init__(self, work, server, account):
        super().__init__(work, server, account)
        self.vdirsyncer_status = self.state
        self.state = os.path.join(self.dir, "pimlink-state")
        self.data_home = os.path.join(self.dir, "xdg")

    def adopt_from(self, vdirsyncer_baseline):
        """Replaces this tool's directory by a link-copy of vdirsyncer's baseline."""
        fsutil.remove(self.dir)
        fsutil.link_tree(vdirsyncer_baseline, self.dir)
        os.makedirs(self.state, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        os.makedirs(os.path.join(self.data_home, "vdirsyncer"), exist_ok=True)
        os.symlink(self.vdirsyncer_status, os.path.join(self.data_home, "vdirsyncer", "status"))
        self.write_config()

    def env(self):
        return dict(super().env(), XDG_DATA_HOME=self.data_home)



class PimlinkAdoptMail(Pimlink):
    """pimlink's first sync of mbsync's tree (issue 16): the runner link-copies mbsync's
    baseline (its Maildir with `.mbsyncstate` and `.uidvalidity` in each folder, `SyncState *`)
    into this tool's directory; pimlink starts with no state of its own (`pimlink-state/`),
    adopts mbsync's, and hands the tree back to mbsync after the run."""

    name = "pimlink-adopt"
    stateful = False  # no baseline of its own: it starts from mbsync's

    def __init__(self, work, server, account):
        super().__init__(work, server, account)
        self.state = os.path.join(self.dir, "pimlink-state")

    def adopt_from(self, mbsync_baseline):
        """Replaces this tool's directory by a link-copy of mbsync's baseline."""
        fsutil.remove(self.dir)
        fsutil.link_tree(mbsync_baseline, self.dir)
        os.makedirs(self.state, exist_ok=True)
        os.makedirs(self.home, exist_ok=True)
        self.write_config()


MAIL_TOOLS = [Pimlink, PimlinkOneConnection, Mbsync, OfflineImap]
LIMITS = [RawFetch, CopySync]
DAV_TOOLS = [PimlinkDav, PimlinkDavLastModified, Vdirsyncer]
# On Xandikos the last-modified variant has no meaning (it trusts a stamp Xandikos does not move).
DAV_TOOLS_XANDIKOS = [PimlinkDav, Vdirsyncer]
