"""The full comparison after every timed run: it must catch what a count would not."""

import collections
import os
import tempfile
import unittest

from pimbench import verify


def deliver(root, folder, sub, name, message_id, body="body"):
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, folder, s), exist_ok=True)
    with open(os.path.join(root, folder, sub, name), "w") as f:
        f.write(f"Subject: x\r\nMessage-Id:  {message_id} \r\n\r\nMessage-ID: <body@x>\r\n{body}")


def item(root, collection, name, text):
    os.makedirs(os.path.join(root, collection), exist_ok=True)
    with open(os.path.join(root, collection, name), "w") as f:
        f.write(text)


class VerifyTest(unittest.TestCase):
    def test_flags_ignore_order_and_keyword_letters(self):
        self.assertEqual(verify.flags_of("1.M1.host,S=5:2,SFa"), "FS")
        self.assertEqual(verify.flags_of("1.M1.host"), "")

    def test_same_count_but_a_flag_a_folder_or_a_duplicate_differs(self):
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            deliver(a, "INBOX", "cur", "1.x:2,S", "<1@x>")
            deliver(a, "INBOX", "cur", "2.x:2,", "<2@x>")
            deliver(b, "INBOX", "new", "9.y", "<1@x>")
            deliver(b, "INBOX", "cur", "8.y:2,", "<2@x>")
            self.assertEqual(verify.mail_state(a)[("INBOX", "<1@x>", "S")], 1,
                             "the header's Message-ID, not the body's")
            self.assertIn("1 only on the server",
                          verify.difference(verify.mail_state(a), verify.mail_state(b), "m"))
            os.rename(os.path.join(b, "INBOX", "new", "9.y"),
                      os.path.join(b, "INBOX", "cur", "9.y:2,S"))
            self.assertIsNone(verify.difference(verify.mail_state(a), verify.mail_state(b), "m"))
            # A duplicate beside a loss keeps the count.
            os.remove(os.path.join(b, "INBOX", "cur", "8.y:2,"))
            deliver(b, "INBOX", "cur", "7.y:2,S", "<1@x>")
            self.assertIsNotNone(verify.difference(verify.mail_state(a), verify.mail_state(b),
                                                   "m"))
            # The same message in another folder.
            os.remove(os.path.join(b, "INBOX", "cur", "7.y:2,S"))
            deliver(b, "Archive", "cur", "8.y:2,", "<2@x>")
            self.assertIsNotNone(verify.difference(verify.mail_state(a), verify.mail_state(b),
                                                   "m"))

    def test_dav_items_compare_by_content_not_by_directory_names(self):
        with tempfile.TemporaryDirectory() as server, tempfile.TemporaryDirectory() as local:
            item(server, "cal1", "a", "BEGIN:VCALENDAR\r\nUID:a\r\nEND:VCALENDAR\r\n")
            item(server, "cal1/.Radicale.cache", "x", "cache")
            item(server, "cal1", ".Radicale.props", "{}")
            item(server, "cal1", "b", "BEGIN:VCALENDAR\r\nUID:b\r\nSUMMARY:long one\r\nEND:VCALENDAR\r\n")
            # Served re-serialised: other line order, folded, LF endings.
            item(local, "8c1d", "a.ics", "BEGIN:VCALENDAR\nUID:a  \nEND:VCALENDAR\n")
            item(local, "8c1d", "b.ics", "BEGIN:VCALENDAR\nSUMMARY:long\n  one\nUID:b\nEND:VCALENDAR\n")
            self.assertIsNone(verify.dav_difference(verify.dav_state(server),
                                                    verify.dav_state(local)))
            item(local, "8c1d", "a.ics", "BEGIN:VCALENDAR\nUID:a\nSUMMARY:x\nEND:VCALENDAR\n")
            self.assertIn("1 items missing",
                          verify.dav_difference(verify.dav_state(server),
                                                verify.dav_state(local)))
            # A Xandikos collection: a git repository whose working tree holds the items.
            item(server, "calendars/cal1/.git", "HEAD", "ref: refs/heads/master\n")
            item(server, "calendars/cal1", ".xandikos", "[DEFAULT]\n")
            self.assertNotIn(".git", str(verify.dav_state(server)))

    def test_counter_of_empty_trees_is_equal(self):
        with tempfile.TemporaryDirectory() as a:
            self.assertEqual(verify.mail_state(a), collections.Counter())


if __name__ == "__main__":
    unittest.main()
