"""A local SMTP server for the alarms delivery tests (aiosmtpd from PyPI).

Listens on 127.0.0.1 (a free port unless --port; prints `PORT <n>` once it accepts connections) and
writes each message it receives to OUT/<n>.json: the envelope, the parsed headers and
text body, whether the session was under TLS, and which AUTH mechanism and user were
used. Runs until killed.

Options: --out DIR (required), --port N (default: a free one), --user U --password P (AUTH PLAIN and LOGIN, also over
plain text unless --tls), --tls CERT KEY (offer STARTTLS and require it before MAIL and
AUTH), --smtps CERT KEY (TLS from the first byte).
"""

import argparse
import email
import email.policy
import json
import os
import socket
import ssl
import logging
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Recorder:
    def __init__(self, out):
        self.out = out
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        auth = session.auth_data
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(msg["subject"]),
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "content_type": msg.get_content_type(),
            "body": body.get_content().replace("\r\n", "\n") if body is not None else None,
            "tls": session.ssl is not None
                   or server.transport.get_extra_info("ssl_object") is not None,
            "auth_mechanism": getattr(server, "last_mechanism", None),
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
        }
        self.count += 1
        path = os.path.join(self.out, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 OK"


def server_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class BoundController(Controller):
    """A Controller serving on a socket that is already bound."""

    def __init__(self, handler, sock, **kwargs):
        self.sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock,
                                       ssl=self.ssl_context)


def main():
    # aiosmtpd 1.4 logs a deprecation warning about its own use of Session.login_data.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    a = p.parse_args()

    # Bound here and handed to the server, so no other process can take the port between
    # choosing it and listening on it.
    sock = socket.create_server(("127.0.0.1", a.port))
    port = sock.getsockname()[1]

    kwargs = {}
    if a.user is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            server.last_mechanism = mechanism
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == a.user
                  and auth_data.password.decode() == a.password)
            # handled=False: aiosmtpd answers a failure with 535 itself.
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        kwargs.update(authenticator=authenticator, auth_require_tls=bool(a.tls))
    if a.tls:
        kwargs.update(tls_context=server_context(*a.tls), require_starttls=True)
    if a.smtps:
        kwargs.update(ssl_context=server_context(*a.smtps))

    controller = BoundController(Recorder(a.out), sock, **kwargs)
    controller.start()
    print("PORT %d" % port, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
