"""The `token-budget` command.

`main()` dispatches on the first argument through `COMMANDS`; anything that is not a
registered command name runs the default command (stream one prompt under a budget).
A prompt that happens to equal a command name can be passed after `--`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from token_budget.errors import UsageError, one_line

Command = Callable[[list[str]], int]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _run(argv: list[str]) -> int:
    # Parse first: --help and usage errors never pay for importing httpx.
    from token_budget.cli.args import parse

    settings = parse(argv, os.environ, getattr(sys.stdin, "buffer", None))

    from token_budget.cli.run import run

    return run(
        settings, env=os.environ, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr
    )


def _ledger(name: str) -> Command:
    def command(argv: list[str]) -> int:
        from token_budget.ledger.cli import handle_ledger_command

        code = handle_ledger_command([name, *argv])
        return EXIT_USAGE if code is None else code

    return command


# Sub-commands by name; a prompt equal to one of these names goes after `--`.
COMMANDS: dict[str, Command] = {name: _ledger(name) for name in ("quota", "usage")}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code. Never lets a traceback out."""
    args = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8", errors="replace")

    try:
        command = COMMANDS.get(args[0]) if args else None
        return command(args[1:]) if command is not None else _run(args)
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted; no result was printed", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing useful is left to say.
        _silence_stdout()
        return EXIT_FAILED
    except Exception as exc:  # pragma: no cover - the last line of defence
        return _fail(f"internal error: {exc!r} (please report this)", EXIT_FAILED)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"token-budget: {one_line(message, 1000)}\n")
    sys.stderr.flush()
    return code


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
