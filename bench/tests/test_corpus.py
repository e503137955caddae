"""The corpus is deterministic and has the promised shape."""

import hashlib
import os
import statistics
import tempfile
import unittest

from pimbench import corpus, fsutil


def tree_digest(root):
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            h.update(os.path.relpath(os.path.join(dirpath, name), root).encode())
            with open(os.path.join(dirpath, name), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class CorpusTest(unittest.TestCase):
    def write(self, messages, seed, folders=10, attachments=True):
        d = tempfile.mkdtemp(prefix="pimbench-test-")
        self.addCleanup(lambda: fsutil.remove(d))
        return d, corpus.write_dovecot_maildir(d, messages, folders, seed, attachments)

    def test_same_seed_same_bytes_other_seed_other_bytes(self):
        a, _ = self.write(60, 7)
        b, _ = self.write(60, 7)
        c, _ = self.write(60, 8)
        self.assertEqual(tree_digest(a), tree_digest(b))
        self.assertNotEqual(tree_digest(a), tree_digest(c))

    def test_sizes_flags_and_folders(self):
        root, stats = self.write(3000, 1, attachments=False)
        sizes = []
        for folder in fsutil.maildir_folders(root):
            for name in os.listdir(os.path.join(folder, "cur")):
                size = os.path.getsize(os.path.join(folder, "cur", name))
                # Dovecot trusts S= and W= in the name: they must be exact.
                self.assertIn(f",S={size},", name)
                sizes.append(size)
        self.assertEqual(len(sizes), 3000)
        self.assertEqual(stats.messages, 3000)
        self.assertTrue(3000 < statistics.median(sizes) < 5500, statistics.median(sizes))
        self.assertTrue(0.60 <= stats.seen / 3000 <= 0.70, stats.seen)
        self.assertTrue(0.02 <= stats.flagged / 3000 <= 0.06, stats.flagged)
        self.assertEqual(len(fsutil.maildir_folders(root)), 10)
        self.assertEqual(sum(stats.per_folder.values()), 3000)
        self.assertEqual(stats.attachments, 0)

    def test_attachments_are_multi_megabyte(self):
        _, stats = self.write(400, 3)
        self.assertGreater(stats.attachments, 0)
        self.assertGreater(stats.bytes, stats.attachments * corpus.ATTACH_MIN)

    def test_huge_messages_have_the_asked_sizes_and_exact_names(self):
        root = tempfile.mkdtemp(prefix="pimbench-test-")
        self.addCleanup(lambda: fsutil.remove(root))
        stats = corpus.write_huge_maildir(root, (3, 5), 4, 11)
        cur = os.path.join(root, "INBOX", "cur")
        sizes = sorted(os.path.getsize(os.path.join(cur, n)) for n in os.listdir(cur))
        self.assertEqual((stats.messages, stats.attachments), (6, 2))
        self.assertEqual(len(sizes), 6)
        mib = 1 << 20
        self.assertTrue(3 * mib <= sizes[-2] < 3 * mib + 65536, sizes)
        self.assertTrue(5 * mib <= sizes[-1] < 5 * mib + 65536, sizes)
        for name in os.listdir(cur):
            self.assertIn(f",S={os.path.getsize(os.path.join(cur, name))},", name)

    def test_folder_names_are_stable_and_unique(self):
        self.assertEqual(corpus.folder_names(50), corpus.folder_names(50))
        self.assertEqual(len(set(corpus.folder_names(50))), 50)
        self.assertEqual(corpus.folder_names(3), ["INBOX", "Archive", "Archive/2023"])

    def test_calendar_and_contacts(self):
        d = tempfile.mkdtemp(prefix="pimbench-test-")
        self.addCleanup(lambda: fsutil.remove(d))
        total = corpus.write_radicale_collections(d, 2, 50, 30, 5)
        self.assertEqual(total, 130)
        self.assertEqual(fsutil.count_files(d, ".ics"), 100)
        self.assertEqual(fsutil.count_files(d, ".vcf"), 30)
        texts = []
        for dirpath, _, files in os.walk(d):
            for f in files:
                if f.endswith(".ics"):
                    with open(os.path.join(dirpath, f), newline="") as fh:
                        texts.append(fh.read())
        self.assertTrue(any("RRULE:" in t for t in texts), "no recurring event")
        self.assertTrue(all(t.endswith("END:VCALENDAR\r\n") for t in texts))


if __name__ == "__main__":
    unittest.main()
