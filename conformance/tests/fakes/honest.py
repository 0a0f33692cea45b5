"""Fake: a tiny but honest OpenAI-only client, enough for the harness's trivial case.

FAKE_MODE=drain makes it read the whole body even after the budget is reached (the
"never cancels" bug); FAKE_MODE=late-linger keeps the connection open while lingering.
"""

import json
import math
import os
import sys
import time
import urllib.request

from _common import describe, option, result

describe("honest")
budget = int(option("--budget", "100") or 100)
ratio = float(option("--chars-per-token", "4") or 4)
linger = int(option("--linger-ms", "0") or 0) / 1000.0
mode = os.environ.get("FAKE_MODE", "")
prompt = sys.argv[sys.argv.index("--") + 1] if "--" in sys.argv else "p"
body = json.dumps(
    {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": budget,
    }
).encode()
request = urllib.request.Request(
    option("--base-url", "") + "/chat/completions",
    data=body,
    headers={"Content-Type": "application/json"},
)
response = urllib.request.urlopen(request)
content, counted, chunks, end, finish, usage = "", 0, 0, "truncated", None, None
for raw in response:
    line = raw.decode().rstrip("\r\n")
    if not line.startswith("data: "):
        continue
    data = line[6:]
    if data == "[DONE]":
        end = "complete"
        break
    event = json.loads(data)
    if isinstance(event.get("usage"), dict):
        p, o = (
            event["usage"].get("prompt_tokens"),
            event["usage"].get("completion_tokens"),
        )
        usage = {"prompt_tokens": p, "completion_tokens": o, "total_tokens": p + o}
    for choice in event.get("choices", []):
        text = choice.get("delta", {}).get("content") or ""
        finish = choice.get("finish_reason") or finish
        content += text
        counted += len(text)
        chunks += 1 if text else 0
    if counted and max(1, math.ceil(counted / ratio)) >= budget:
        end = "budget"
        if mode == "drain":
            response.read()  # the bug: reads the rest instead of hanging up
        break
if mode != "late-linger":
    response.close()
estimate = max(1, math.ceil(counted / ratio)) if counted else 0
error = None
if end == "truncated":
    error = {
        "kind": "truncated",
        "message": "no [DONE]",
        "status": None,
        "retry_after": None,
    }
print(
    json.dumps(
        result(
            implementation="honest",
            content=content,
            counted_chars=counted,
            estimated_tokens=estimate,
            chunks=chunks,
            end=end,
            budget_reached=end == "budget",
            finish_reason=finish,
            error=error,
            usage=usage,
            cost={
                "basis": "estimate",
                "prompt_tokens": max(1, math.ceil(len(prompt) / ratio)),
                "completion_tokens": estimate,
                "usd": None,
                "note": "fake",
            },
        )
    ),
    flush=True,
)
time.sleep(linger)
if end == "truncated":
    sys.stderr.write("token-budget: the stream ended without [DONE]\n")
    sys.exit(1)
