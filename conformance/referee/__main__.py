"""Run the referee by hand: ``python -m referee --persona openai`` (from conformance/).

It prints each request (credentials redacted), each write and the moment the client
disconnects to stderr, so you can watch a real HTTP cancellation without an API key::

    python -m referee --port 8080 --persona openai --pace-ms 100 --frames 500
    token-budget --provider openai --base-url http://127.0.0.1:8080/v1 --budget 7
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from .errors import RefereeError
from .personas import DEFAULT_TEXT, persona_script
from .script import DEFAULT_RECHUNK_SEED, RECHUNK_MODES, Script, scripts_for_case
from .server import Referee

logger = logging.getLogger("referee")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.quiet)
    try:
        scripts = _scripts(args)
        with Referee(scripts, port=args.port) as ref:
            _announce(ref, args)
            threading.Event().wait()
    except KeyboardInterrupt:
        return 0
    except (RefereeError, OSError, ValueError) as exc:
        sys.stderr.write(f"referee: {exc}\n")
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m referee",
        description="Scripted mock LLM provider on 127.0.0.1 that logs what the client did.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--persona",
        choices=["openai", "anthropic", "ollama"],
        help="serve a long, paced, well-formed stream in this dialect",
    )
    source.add_argument(
        "--case", type=Path, help="serve the server section of a case file"
    )
    parser.add_argument(
        "--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free)"
    )
    parser.add_argument(
        "--pace-ms", type=float, default=100.0, help="delay between frames"
    )
    parser.add_argument("--frames", type=int, default=500, help="number of text deltas")
    parser.add_argument(
        "--text", default=DEFAULT_TEXT, help="words the persona streams"
    )
    parser.add_argument(
        "--rechunk",
        choices=RECHUNK_MODES,
        help="replay the same body re-split (as the harness's variants do)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_RECHUNK_SEED,
        help="seed of --rechunk random",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print every write")
    return parser


def _scripts(args: argparse.Namespace) -> list[Script]:
    if args.persona:
        scripts = [persona_script(args.persona, args.frames, args.pace_ms, args.text)]
    else:
        scripts = scripts_for_case(json.loads(args.case.read_text(encoding="utf-8")))

    if args.rechunk:
        scripts = [s.rechunked(args.rechunk, args.seed) for s in scripts]
    return scripts


def _configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s.%(msecs)03d %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger("referee")
    root.addHandler(handler)
    root.setLevel(logging.INFO if quiet else logging.DEBUG)


def _announce(ref: Referee, args: argparse.Namespace) -> None:
    what = f"persona {args.persona}" if args.persona else f"case {args.case}"
    logger.info("serving %s on %s (Ctrl-C to stop)", what, ref.url)
    if args.persona == "openai":
        logger.info(
            "try: token-budget --provider openai --base-url %s/v1 --budget 7", ref.url
        )
    elif args.persona:
        logger.info(
            "try: token-budget --provider %s --base-url %s --budget 7",
            args.persona,
            ref.url,
        )


if __name__ == "__main__":
    raise SystemExit(main())
