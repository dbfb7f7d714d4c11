#!/usr/bin/env python3
"""Tiny HTTP server for the download tests (standard library only).

Serves the folder given as argv[1] on 127.0.0.1 with a random port and prints
the port on stdout. GET /redirect/<path> answers 302 to /<path>, as GitHub
redirects release assets. Exits when stdin closes or on SIGTERM.
"""
import http.server
import os
import sys
import threading


class Handler(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super().do_GET()

    def log_message(self, *args):
        pass


def main():
    root = sys.argv[1]
    handler = lambda *a, **k: Handler(*a, directory=root, **k)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()  # the test closes our stdin (or kills us) when done
    srv.shutdown()


if __name__ == "__main__":
    main()
