#!/usr/bin/env python3
"""A webhook receiver for trying Rollcall locally: prints every event it
gets and checks its Standard Webhooks signature (stdlib only).

    python3 scripts/webhook_receiver.py --port 9000 --secret whsec_...
"""

import argparse
import base64
import hashlib
import hmac
import json
from http.server import BaseHTTPRequestHandler, HTTPServer


def verify(secret: str, headers, body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(sig.split(",", 1)[-1], expected) for sig in headers.get("webhook-signature", "").split())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--secret", help="the endpoint's whsec_ secret, to verify signatures")
    args = p.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            ok = verify(args.secret, self.headers, body) if args.secret else None
            event = json.loads(body)
            mark = {True: "signature ok", False: "BAD SIGNATURE", None: "signature not checked"}[ok]
            print(f"{event['event']:28} seq {event['sequence']:>4}  {event['id']}  ({mark})", flush=True)
            self.send_response(204 if ok is not False else 401)
            self.send_header("Connection", "close")
            self.end_headers()

    print(f"listening on http://127.0.0.1:{args.port}/hook", flush=True)
    HTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
