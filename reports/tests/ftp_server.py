"""A local FTP/FTPS server for the publication tests (pyftpdlib from PyPI; FTPS needs pyOpenSSL).

Listens on 127.0.0.1, a free port (prints `PORT <n>` once it accepts connections), serves ROOT
for one user with full rights, and appends what it does with files to EVENTS, one line each:
`STORED <path>` when an upload completes and `RENAMED <from> <to>` (paths relative to ROOT,
with `/`). Runs until killed.

Options: --root DIR --events FILE --user U --password P (all required),
--tls CERT KEY (explicit FTPS: AUTH TLS and PROT P required before login and transfers).
"""

import argparse
import os
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--events", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()

    root = os.path.realpath(a.root)

    def rel(path):
        return os.path.relpath(os.path.realpath(path), root).replace(os.sep, "/")

    def record(line):
        with open(a.events, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    base = FTPHandler
    if a.tls:
        from pyftpdlib.handlers import TLS_FTPHandler

        base = TLS_FTPHandler

    class Handler(base):
        def on_file_received(self, file):
            record("STORED " + rel(file))

        def ftp_RNTO(self, path):
            result = super().ftp_RNTO(path)
            if result:
                record("RENAMED " + rel(result[0]) + " " + rel(result[1]))
            return result

    if a.tls:
        Handler.certfile = a.tls[0]
        Handler.keyfile = a.tls[1]
        Handler.tls_control_required = True
        Handler.tls_data_required = True

    auth = DummyAuthorizer()
    auth.add_user(a.user, a.password, root, perm="elradfmwMT")
    Handler.authorizer = auth
    Handler.banner = "emkit test ftp"

    server = FTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.socket.getsockname()[1], flush=True)
    server.serve_forever(handle_exit=True)


if __name__ == "__main__":
    sys.exit(main())
