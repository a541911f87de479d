#!/usr/bin/env python3
"""A test Time-Stamping Authority over HTTP (RFC 3161 section 3.4) on 127.0.0.1.

Usage: tsa_server.py DIR SECTION   (DIR made by make-tsa.sh; SECTION tsa_rsa, tsa_ec, ...)

Binds a free port on 127.0.0.1 and prints "listening on 127.0.0.1:PORT" as its first line.
Each POST with Content-Type application/timestamp-query (at most 64 KiB) is answered by running
`openssl ts -reply` with DIR/ts.cnf and SECTION, one at a time (openssl bumps a serial file),
as application/timestamp-reply. Anything else gets 400/405/413. Stops on SIGTERM or when its
standard input closes (so a test that dies does not leave it running).
"""
import http.server
import os
import subprocess
import sys
import tempfile
import threading

MAX = 64 * 1024
LOCK = threading.Lock()


def main():
    tsa_dir, section = sys.argv[1], sys.argv[2]
    cnf = os.path.join(tsa_dir, "ts.cnf")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def fail(self, code, msg):
            body = (msg + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            self.fail(405, "POST a time-stamp query")

        def do_POST(self):
            if self.headers.get("Content-Type") != "application/timestamp-query":
                return self.fail(400, "Content-Type must be application/timestamp-query")
            try:
                n = int(self.headers.get("Content-Length", "-1"))
            except ValueError:
                n = -1
            if n < 0:
                return self.fail(400, "Content-Length required")
            if n > MAX:
                return self.fail(413, "query too large")
            query = self.rfile.read(n)
            with tempfile.TemporaryDirectory() as tmp, LOCK:
                q, r = os.path.join(tmp, "q.tsq"), os.path.join(tmp, "r.tsr")
                with open(q, "wb") as f:
                    f.write(query)
                p = subprocess.run(["openssl", "ts", "-reply", "-config", cnf, "-section", section,
                                    "-queryfile", q, "-out", r], capture_output=True)
                if p.returncode != 0:
                    return self.fail(400, "openssl ts -reply failed: " + p.stderr.decode(errors="replace")[-300:])
                with open(r, "rb") as f:
                    reply = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
