"""The raw-FETCH limit counts every literal, across chunk boundaries, and reports failures."""

import socket
import threading
import unittest

from pimbench import rawfetch


def fake_server(script):
    """A one-connection IMAP server on loopback that answers each command line with the next
    bytes of `script` (a list of responses, `{tag}` replaced by the command's tag)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn, conn.makefile("rb") as f:
            conn.sendall(b"* OK fake\r\n")
            for response in script:
                line = f.readline()
                if not line:
                    return
                tag = line.split(b" ", 1)[0]
                data = response.replace(b"{tag}", tag)
                # Dribble the answer in small pieces so literals straddle reads.
                for i in range(0, len(data), 7):
                    conn.sendall(data[i:i + 7])
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


BODY_A = b"Subject: a\r\n\r\nhello\r\n"
BODY_B = b"Subject: b\r\n\r\n" + b"x" * 5000 + b"\r\n"


class RawFetchTest(unittest.TestCase):
    def test_counts_every_body_in_every_selectable_folder(self):
        fetch = (b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(BODY_A) + BODY_A + b")\r\n"
                 + b"* 2 FETCH (UID 7 BODY[] {%d}\r\n" % len(BODY_B) + BODY_B + b")\r\n"
                 + b"{tag} OK done\r\n")
        port = fake_server([
            b"{tag} OK logged in\r\n",
            b'* LIST (\\HasChildren) "/" INBOX\r\n* LIST (\\Noselect) "/" "Old"\r\n'
            b'* LIST () "/" "Archive/2024"\r\n{tag} OK\r\n',
            b"{tag} OK examined\r\n", fetch,
            b"{tag} OK examined\r\n", b"{tag} OK nothing\r\n",
            b"* BYE\r\n{tag} OK\r\n",
        ])
        messages, total = rawfetch.fetch_all("127.0.0.1", port, "u", "p")
        self.assertEqual(messages, 2)
        self.assertEqual(total, len(BODY_A) + len(BODY_B))

    def test_no_answer_is_an_error(self):
        port = fake_server([b"{tag} NO [AUTHENTICATIONFAILED] bad\r\n"])
        with self.assertRaisesRegex(rawfetch.ImapError, "AUTHENTICATIONFAILED"):
            rawfetch.fetch_all("127.0.0.1", port, "u", "p")

    def test_connection_cut_inside_a_literal_is_an_error(self):
        port = fake_server([b"{tag} OK\r\n", b'* LIST () "/" INBOX\r\n{tag} OK\r\n',
                            b"{tag} OK\r\n", b"* 1 FETCH (BODY[] {100}\r\nshort"])
        with self.assertRaises(rawfetch.ImapError):
            rawfetch.fetch_all("127.0.0.1", port, "u", "p")

    def test_list_names(self):
        self.assertEqual(rawfetch.parse_list_name(b'* LIST () "/" "a \\"b\\""\r\n'), 'a "b"')
        self.assertIsNone(rawfetch.parse_list_name(b'* LIST (\\Noselect) "/" x\r\n'))


if __name__ == "__main__":
    unittest.main()
