"""A local HTTPS receiver for the alarms webhook test (Python standard library only).

Listens on 127.0.0.1 (a free port; prints `PORT <n>` once it accepts connections) with
the certificate and key given, answers every POST with 204 and writes its path, content
type and body to OUT/<n>.json before answering. Runs until killed.

Usage: https_receiver.py CERT KEY OUT
"""

import http.server
import json
import os
import ssl
import sys


def main():
    cert, key, out = sys.argv[1:4]
    count = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            count[0] += 1
            path = os.path.join(out, "%04d.json" % count[0])
            with open(path + ".tmp", "w") as f:
                json.dump({"path": self.path,
                           "content_type": self.headers.get("Content-Type"),
                           "body": body.decode()}, f)
            os.replace(path + ".tmp", path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
