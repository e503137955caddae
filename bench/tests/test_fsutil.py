"""Resets share message files, copy everything else and keep directory times."""

import os
import tempfile
import time
import unittest

from pimbench import fsutil


class LinkTreeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pimbench-test-")
        self.addCleanup(lambda: fsutil.remove(self.tmp))
        self.src = os.path.join(self.tmp, "src")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(self.src, "INBOX", sub))
        with open(os.path.join(self.src, "INBOX", "cur", "1.x:2,S"), "w") as f:
            f.write("message")
        with open(os.path.join(self.src, "INBOX", "dovecot.index.log"), "w") as f:
            f.write("index")
        old = time.time() - 3600
        for d in ("INBOX/cur", "INBOX"):
            os.utime(os.path.join(self.src, d), (old, old))

    def test_messages_linked_state_copied_times_kept(self):
        dst = os.path.join(self.tmp, "dst")
        fsutil.link_tree(self.src, dst)
        s, d = (os.path.join(r, "INBOX", "cur", "1.x:2,S") for r in (self.src, dst))
        self.assertEqual(os.stat(s).st_ino, os.stat(d).st_ino)
        s, d = (os.path.join(r, "INBOX", "dovecot.index.log") for r in (self.src, dst))
        self.assertNotEqual(os.stat(s).st_ino, os.stat(d).st_ino)
        for sub in ("INBOX", "INBOX/cur"):
            self.assertEqual(int(os.stat(os.path.join(self.src, sub)).st_mtime),
                             int(os.stat(os.path.join(dst, sub)).st_mtime), sub)
        self.assertEqual(fsutil.count_messages(dst), 1)

    def test_vdir_items_linked_metadata_copied(self):
        cal = os.path.join(self.src, "calendars", "work")
        os.makedirs(cal)
        for name in ("e1.ics", "displayname"):
            with open(os.path.join(cal, name), "w") as f:
                f.write(name)
        dst = os.path.join(self.tmp, "dst")
        fsutil.link_tree(self.src, dst)
        s, d = (os.path.join(r, "calendars", "work", "e1.ics") for r in (self.src, dst))
        # Same inode and mtime: the same etag for vdirsyncer and pimlink, as an untouched vdir.
        self.assertEqual(os.stat(s).st_ino, os.stat(d).st_ino)
        s, d = (os.path.join(r, "calendars", "work", "displayname") for r in (self.src, dst))
        self.assertNotEqual(os.stat(s).st_ino, os.stat(d).st_ino)

    def test_toggle_flag_keeps_ascii_order(self):
        path = os.path.join(self.src, "INBOX", "cur", "1.x:2,S")
        path = fsutil.toggle_flag(path, "F")
        self.assertTrue(path.endswith(":2,FS"))
        path = fsutil.toggle_flag(path, "F")
        self.assertTrue(path.endswith(":2,S"))
        self.assertEqual(fsutil.count_messages(self.src), 1)


if __name__ == "__main__":
    unittest.main()
