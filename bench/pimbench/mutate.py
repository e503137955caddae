"""The changes made between a baseline sync and a measured one, all deterministic (seeded).

Server changes go through IMAP (imaplib, small commands), so Dovecot records them the way a mail
client's changes are recorded (modseqs, expunge log); local changes rename or add files the way a
mail reader does.
"""

import imaplib
import os
import random
import re
import time

from . import corpus, fsutil
from .servers import HOST, PASSWORD

LIST_NAME = re.compile(rb'^\(([^)]*)\) (?:NIL|"[^"]*") (.*)$')


def _connect(port, user):
    imap = imaplib.IMAP4(HOST, port)
    imap.login(user, PASSWORD)
    return imap


def _folders(imap):
    typ, data = imap.list('""', "*")
    names = []
    for item in data:
        m = LIST_NAME.match(item)
        if not m or b"\\noselect" in m.group(1).lower():
            continue
        name = m.group(2)
        if name.startswith(b'"'):
            name = name[1:-1]
        names.append(name.decode())
    return sorted(names)


def _q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def server_changes(port, user, seed, flag_changes=100, new=50, expunged=20):
    """`flag_changes` messages get \\Seen toggled, `expunged` others are expunged and `new` new
    unseen messages are appended, spread over the folders. Returns the change in message count."""
    rng = random.Random(seed)
    imap = _connect(port, user)
    try:
        folders = _folders(imap)
        everything = []
        for name in folders:
            imap.select(_q(name))
            typ, data = imap.uid("SEARCH", "ALL")
            everything += [(name, int(u)) for u in data[0].split()]
        picked = rng.sample(everything, flag_changes + expunged)
        by_folder = {}
        for i, (name, uid) in enumerate(picked):
            by_folder.setdefault(name, ([], []))[0 if i < flag_changes else 1].append(uid)
        for name, (flip, gone) in sorted(by_folder.items()):
            imap.select(_q(name))
            for uid in flip:
                typ, data = imap.uid("FETCH", str(uid), "(FLAGS)")
                seen = b"\\Seen" in (data[0] or b"")
                imap.uid("STORE", str(uid), "-FLAGS.SILENT" if seen else "+FLAGS.SILENT",
                         "(\\Seen)")
            if gone:
                uids = ",".join(map(str, gone))
                imap.uid("STORE", uids, "+FLAGS.SILENT", "(\\Deleted)")
                typ, data = imap.uid("EXPUNGE", uids)
                if typ != "OK":
                    raise RuntimeError(f"UID EXPUNGE in {name}: {data}")
        for i, msg in enumerate(corpus.extra_messages(new, seed, "new")):
            name = rng.choice(folders)
            typ, data = imap.append(_q(name), None, imaplib.Time2Internaldate(time.time()),
                                    msg.replace(b"\n", b"\r\n"))
            if typ != "OK":
                raise RuntimeError(f"APPEND to {name}: {data}")
        return new - expunged
    finally:
        imap.logout()


def local_flag_changes(mail_root, seed, count=20):
    """Toggles \\Flagged on `count` messages of the local Maildir tree (files in cur/)."""
    rng = random.Random(seed)
    files = []
    for folder in fsutil.maildir_folders(mail_root):
        cur = os.path.join(folder, "cur")
        files += [os.path.join(cur, n) for n in sorted(os.listdir(cur)) if ":2," in n]
    if len(files) < count:
        raise RuntimeError(f"{mail_root}: only {len(files)} messages, cannot change {count}")
    for path in rng.sample(files, count):
        fsutil.toggle_flag(path, "F")


def local_new_messages(mail_root, seed, count):
    """Delivers `count` new messages into new/ of the local folders, round-robin: what the
    upload scenario sends to the server."""
    folders = fsutil.maildir_folders(mail_root)
    if not folders:
        raise RuntimeError(f"{mail_root}: no Maildir folders to add messages to")
    for i, msg in enumerate(corpus.extra_messages(count, seed, "up")):
        folder = folders[i % len(folders)]
        path = os.path.join(folder, "new", f"{corpus.EPOCH + i}.P{i}Q0.pimbench-upload")
        with open(path, "wb") as f:
            f.write(msg)


def server_count(server, user):
    """Messages on the server, all folders (doveadm, so no IMAP session stays open)."""
    out = server.doveadm("mailbox", "status", "-t", "-u", user, "messages", "*")
    m = re.search(r"messages=(\d+)", out)
    if not m:
        raise RuntimeError(f"doveadm mailbox status: unexpected output {out!r}")
    return int(m.group(1))


def enable_modseqs(port, user):
    """SELECTs every folder with CONDSTORE once. Dovecot starts tracking modseqs in a mailbox's
    index at its first CONDSTORE use; a corpus indexed by `doveadm force-resync` has none yet,
    so without this every reset restores an index without them and each run's first CONDSTORE
    or QRESYNC SELECT hands out fresh modseqs to every message: all 20,000 would look changed to
    a client that asks what changed since its last run, which no long-lived server does."""
    imap = _connect(port, user)
    try:
        for name in _folders(imap):
            typ, data = imap._simple_command("SELECT", _q(name) + " (CONDSTORE)")
            if typ != "OK":
                raise RuntimeError(f"SELECT {name} (CONDSTORE): {typ} {data}")
            imap.state = "SELECTED"
            imap.close()
    finally:
        imap.logout()
