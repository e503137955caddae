"""What a run must have left behind, checked in full after every timed run: a tool that is fast
but wrong must fail the bench, and counting messages would not catch a lost flag, a message in
the wrong folder, a duplicate beside a loss, or a calendar item with other content.

Mail: both sides as multisets of (folder, Message-ID, flags): the server's Maildir on disk
(Dovecot keeps flags in the file names), the tool's local Maildir. The corpus sets only system
flags (\\Seen, \\Flagged, \\Answered; no keywords), so the flag letters are the whole state.
Calendars and contacts: per collection, the multiset of item contents with line endings and
folding and the order of lines ignored (see `normalise`), on the server (Radicale's storage on disk) and in the vdir.
"""

import collections
import os
import re

from . import fsutil

MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*?)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
HEAD = 65536  # a Message-ID is in the header, well within the first 64 KiB


def flags_of(name):
    """The system flags of a Maildir file name, sorted; keyword letters (a-z) are left out."""
    _, sep, flags = name.partition(":2,")
    return "".join(sorted(c for c in flags if c.isupper())) if sep else ""


def message_id(path):
    with open(path, "rb") as f:
        head = f.read(HEAD)
    head = head.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    m = MESSAGE_ID.search(head)
    return m.group(1).decode("utf-8", "replace") if m else ""


def mail_state(root):
    """Counter of (folder, Message-ID, flags) over every message of a Maildir tree."""
    out = collections.Counter()
    for folder in fsutil.maildir_folders(root):
        rel = os.path.relpath(folder, root)
        for sub in fsutil.SHARED_DIRS:
            d = os.path.join(folder, sub)
            for name in os.listdir(d):
                if not name.startswith("."):
                    out[(rel, message_id(os.path.join(d, name)), flags_of(name))] += 1
    return out


def normalise(data):
    """An item's content lines, unfolded and sorted: servers re-serialise what they serve
    (Radicale reorders properties and folds lines at other places than the file it stores),
    so the order of lines and where they are folded say nothing about the item."""
    text = data.replace(b"\r\n", b"\n")
    unfolded = re.sub(rb"\n[ \t]", b"", text)
    return b"\n".join(sorted(line.rstrip() for line in unfolded.split(b"\n") if line.strip()))


def dav_state(root):
    """{collection directory: Counter of normalised contents} over the items below `root`,
    skipping Radicale's own files and directories (.Radicale.*). Radicale keeps an item as a
    file named by its href, which need not end in .ics or .vcf: every regular file counts."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                content = normalise(f.read())
            out.setdefault(os.path.relpath(dirpath, root), collections.Counter())[content] += 1
    return out


def dav_difference(server, local, what="local"):
    """None if both hold the same collections (by their items, not their directory names,
    which each tool chooses itself) with the same items, else what differs. `server` is the
    reference (the corpus as generated), `local` what is checked against it, named `what`."""
    def shape(state):
        return sorted(tuple(sorted(c.items())) for c in state.values() if c)
    if shape(server) == shape(local):
        return None
    all_server = sum(server.values(), collections.Counter())
    all_local = sum(local.values(), collections.Counter())
    return (f"calendars/contacts of {what} differ from the corpus: "
            f"{sum((all_server - all_local).values())} items missing, "
            f"{sum((all_local - all_server).values())} not in the corpus, in "
            f"{len([c for c in server.values() if c])} vs {len([c for c in local.values() if c])} "
            f"collections")


def difference(server, local, what):
    """None if the two multisets are equal, else one line saying how they differ."""
    if server == local:
        return None
    only_server = server - local
    only_local = local - server
    sample = next(iter(only_server or only_local))
    shown = tuple(x if not isinstance(x, bytes) else x[:60] for x in sample)
    return (f"{what} differ: {sum(only_server.values())} only on the server, "
            f"{sum(only_local.values())} only local (e.g. {shown!r})")
