"""Tool configs say what the README documents; the pimlink row turns itself on and off."""

import os
import stat
import tempfile
import unittest

from pimbench import fsutil, tools


class FakeServer:
    port = 1143

    def mail_dir(self, account):
        return "/nonexistent/" + account


def fake_binary(directory, exit_status, message):
    path = os.path.join(directory, f"pimlink-{exit_status}")
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\necho '{message}' >&2\nexit {exit_status}\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


class ToolsTest(unittest.TestCase):
    def setUp(self):
        self.work = tempfile.mkdtemp(prefix="pimbench-test-")
        self.addCleanup(lambda: fsutil.remove(self.work))
        self.addCleanup(tools.Pimlink.probe_result.clear)

    def test_mbsync_config_is_the_documented_one(self):
        tool = tools.Mbsync(self.work, FakeServer(), "bench")
        tool.clean()
        with open(os.path.join(tool.dir, "mbsyncrc")) as f:
            text = f.read()
        for line in ("Host 127.0.0.1", "Port 1143", "Sync All", "Create Both", "Expunge Both",
                     "SubFolders Verbatim", "Patterns *"):
            self.assertIn(line + "\n", text)

    def test_offlineimap_config_only_loopback(self):
        tool = tools.OfflineImap(self.work, FakeServer(), "bench")
        tool.clean()
        with open(os.path.join(tool.dir, "offlineimaprc")) as f:
            text = f.read()
        self.assertIn("remotehost = 127.0.0.1\n", text)
        self.assertNotIn("\nmaxconnections", text)

    def test_pimlink_row_skipped_until_the_binary_can_sync(self):
        tools.Pimlink.binary = fake_binary(self.work, 2, "type imap cannot be synced yet")
        tool = tools.Pimlink(self.work, FakeServer(), "bench")
        self.assertEqual(tool.available(), "not yet: type imap cannot be synced yet")
        self.assertFalse(os.path.exists(tool.dir), "the probe must clean up after itself")
        tools.Pimlink.binary = fake_binary(self.work, 0, "")
        self.assertIsNone(tool.available())
        tools.Pimlink.binary = None
        self.assertTrue(tool.available().startswith("not built"))


if __name__ == "__main__":
    unittest.main()
