"""A tiny Ollama stand-in on 127.0.0.1 for the bash example's end-to-end tests.

Usage: python3 mock_ollama.py PORT_FILE REQUEST_DIR

It listens on an ephemeral port, writes the port number to PORT_FILE, stores each
request body as REQUEST_DIR/request-N.json and answers /api/chat with a short NDJSON
stream that completes. It runs until it is killed.
"""

from __future__ import annotations

import json
import pathlib
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LINES = [
    {"message": {"role": "assistant", "content": "Hello"}, "done": False},
    {"message": {"role": "assistant", "content": " there"}, "done": False},
    {
        "message": {"role": "assistant", "content": ""},
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 7,
        "eval_count": 2,
    },
]


class Handler(BaseHTTPRequestHandler):
    counter = 0
    lock = threading.Lock()
    request_dir = pathlib.Path(".")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with Handler.lock:
            Handler.counter += 1
            number = Handler.counter
        (Handler.request_dir / f"request-{number}.json").write_bytes(body)

        payload = b"".join(json.dumps(line).encode() + b"\n" for line in LINES)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: bats shows stderr only when a test fails."""


def main() -> None:
    port_file, request_dir = sys.argv[1:3]
    Handler.request_dir = pathlib.Path(request_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    # Write to a temporary name first so the test never reads a half-written port.
    tmp = pathlib.Path(port_file + ".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.rename(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
