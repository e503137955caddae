"""File helpers: fast resets by link-copying, and counting what a Maildir or vdir holds."""

import os
import shutil

# Message files are never rewritten in place by Dovecot, mbsync, OfflineIMAP or pimlink (flag
# changes rename, expunges unlink), so a reset may share them by hard link. Everything else
# (indexes, uidlists, state files, journals) is appended to or rewritten, so it is copied.
SHARED_DIRS = ("cur", "new")
# The same holds for vdir items: vdirsyncer and pimlink replace a file (temp file + rename) and
# never write into it. Sharing matters there: both take a vdir item's etag from its mtime and
# inode, so a copied file has a new etag and a restored baseline looked entirely edited.
SHARED_EXTENSIONS = (".ics", ".vcf")


def remove(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def link_tree(src, dst):
    """Copies the tree `src` to `dst`: Maildir message files as hard links, other files as
    copies, keeping owners (the server's mail belongs to `nobody` when running as root)."""
    as_root = os.geteuid() == 0
    dirs = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target = os.path.normpath(os.path.join(dst, rel))
        os.makedirs(target, exist_ok=True)
        dirs.append((dirpath, target))
        share = os.path.basename(dirpath) in SHARED_DIRS
        for name in filenames:
            s, d = os.path.join(dirpath, name), os.path.join(target, name)
            if share or name.endswith(SHARED_EXTENSIONS):
                os.link(s, d)
            else:
                shutil.copy2(s, d)
                if as_root:
                    fst = os.stat(s)
                    os.chown(d, fst.st_uid, fst.st_gid)
    # Directory times last, deepest first: filling a directory changes its mtime, and a copy
    # whose directories all look "modified just now" makes Dovecot rescan and mbsync wait.
    for dirpath, target in reversed(dirs):
        st = os.stat(dirpath)
        if as_root:
            os.chown(target, st.st_uid, st.st_gid)
        shutil.copystat(dirpath, target)


def maildir_folders(root):
    """Every directory below `root` that is a Maildir folder (has cur/ and new/), sorted."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        if "cur" in dirnames and "new" in dirnames:
            found.append(dirpath)
        # Do not descend into a folder's own cur/new/tmp.
        dirnames[:] = sorted(d for d in dirnames if d not in ("cur", "new", "tmp"))
    return sorted(found)


def count_messages(root):
    """Number of message files in all Maildir folders below `root`."""
    total = 0
    for folder in maildir_folders(root):
        for sub in SHARED_DIRS:
            total += sum(1 for n in os.listdir(os.path.join(folder, sub)) if not n.startswith("."))
    return total


def count_files(root, suffix):
    """Number of files ending in `suffix` below `root` (vdir items)."""
    return sum(1 for _, _, files in os.walk(root) for n in files if n.endswith(suffix))


def toggle_flag(path, letter):
    """Renames a Maildir file in cur/ to add or remove one flag letter; returns the new path."""
    head, sep, flags = os.path.basename(path).partition(":2,")
    if not sep:
        raise ValueError(f"{path}: no ':2,' flag suffix")
    flags = flags.replace(letter, "") if letter in flags else "".join(sorted(flags + letter))
    new = os.path.join(os.path.dirname(path), f"{head}:2,{flags}")
    os.rename(path, new)
    return new
