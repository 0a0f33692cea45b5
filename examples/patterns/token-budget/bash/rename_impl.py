"""Relabel the Python CLI's `--describe` output as the bash implementation's own.

The bash example execs the Python reference, so every JSON object it prints names
"python". The contract (SPEC.md sections 6 and 7) wants the name of the implementation
that was run: `implementation` in a result, `name` and `language` in `--describe`.

The wrapper runs this filter for `--describe` (results go through a cheaper filter in
bash, see `relabel_result` in ./token-budget; mode "result" here does the same job and
is kept for callers without that shortcut). It forwards each object as soon as it is
complete (a lingering process must not hold its result back) and passes anything that
is not a JSON object through byte for byte.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import BinaryIO

NAME = "bash"


def relabel(obj: dict[str, object], mode: str) -> dict[str, object]:
    """Return the object with the implementation fields set for the given mode."""
    if mode == "describe":
        obj["name"] = NAME
        obj["language"] = NAME
    elif "implementation" in obj:
        obj["implementation"] = NAME

    return obj


def encode(buffer: bytes, mode: str) -> bytes | None:
    """Relabel a complete JSON object, or None while the buffer is not one yet."""
    try:
        obj = json.loads(buffer)
    except ValueError:
        return None

    if not isinstance(obj, dict):
        return buffer

    # ASCII output keeps any lone surrogate escapes valid and the bytes plain.
    return (json.dumps(relabel(obj, mode)) + "\n").encode("ascii")


def pump(source: BinaryIO, sink: BinaryIO, mode: str) -> None:
    """Copy source to sink, relabelling every JSON object (one or several lines)."""
    pending = b""

    for line in iter(source.readline, b""):
        # Text that cannot start an object is not ours to touch: forward it at once.
        if not pending and not line.lstrip().startswith(b"{"):
            sink.write(line)
            sink.flush()
            continue

        pending += line
        encoded = encode(pending, mode)
        if encoded is not None:
            sink.write(encoded)
            sink.flush()
            pending = b""

    sink.write(pending)
    sink.flush()


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "result"

    # Ctrl-C is for the CLI, which still prints its result: keep reading until it ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pump(sys.stdin.buffer, sys.stdout.buffer, mode)
    except BrokenPipeError:
        # The reader went away; the CLI reports its own exit status.
        return 0

    return 0


if __name__ == "__main__":
    sys.exit(main())
