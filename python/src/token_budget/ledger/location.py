"""Where the ledger lives: ``--ledger``, then ``TOKEN_BUDGET_LEDGER``, then a file in
the user's data directory.

Accepted locations: ``sqlite:///absolute/path``, a plain file path (SQLite),
``memory://`` and ``redis://host:port/db`` (also ``rediss://`` and ``unix://``), where
Redis URLs may carry ``?prefix=NAME`` to keep several ledgers on one server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import InvalidLedgerURL
from .ledger import Ledger
from .memory import MemoryStore
from .options import ENV_LEDGER
from .store import LedgerStore

APP_NAME = "token-budget"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def default_ledger_path(environ: Mapping[str, str] | None = None) -> Path:
    """The SQLite file used when no location is given."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_DATA_HOME", "")
    # The XDG spec says relative values are invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_NAME / "ledger.sqlite3"
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".local" / "share" / APP_NAME / "ledger.sqlite3"
    return Path(platformdirs.user_data_path(APP_NAME)) / "ledger.sqlite3"


def resolve_ledger_url(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str:
    """The option wins, then the environment (an empty value counts as absent)."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get(ENV_LEDGER):
        return env[ENV_LEDGER]
    return f"sqlite://{default_ledger_path(env)}"


def open_store(url: str) -> LedgerStore:
    if url in ("memory://", "memory:"):
        return MemoryStore()
    if url.startswith(_REDIS_SCHEMES):
        from .redis_store import RedisStore

        return RedisStore(url)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path or path == "/":
            raise InvalidLedgerURL(
                f"ledger URL {url!r} names no file; write sqlite:///path/to/ledger.sqlite3"
            )
        return _sqlite(path)
    if "://" in url:
        raise InvalidLedgerURL(
            f"unknown ledger location {url!r}; use sqlite:///PATH, "
            "redis://HOST:PORT/DB or memory://"
        )
    return _sqlite(url)


def open_ledger(
    url: str | None = None, *, environ: Mapping[str, str] | None = None, **options: Any
) -> Ledger:
    """Open the ledger at ``url`` (or the configured default); options go to Ledger."""
    resolved = resolve_ledger_url(url, environ)
    _refuse_missing_folder(resolved, environ)
    return Ledger(open_store(resolved), **options)


def _refuse_missing_folder(url: str, environ: Mapping[str, str] | None) -> None:
    """A chosen SQLite file must live in an existing folder.

    Only the default location is created on demand: a mistyped --ledger path would
    otherwise start a new, empty ledger and quietly lift every user's quota.
    """
    env = os.environ if environ is None else environ
    if url == f"sqlite://{default_ledger_path(env)}":
        return
    if url.startswith("sqlite://"):
        path = url[len("sqlite://") :]
    elif "://" in url:
        return
    else:
        path = url
    folder = Path(path).expanduser().parent
    if path and not folder.is_dir():
        raise InvalidLedgerURL(
            f"the folder {str(folder)!r} of the ledger {url!r} does not exist; check "
            "the --ledger path (or TOKEN_BUDGET_LEDGER) or create the folder first"
        )


def _sqlite(path: str) -> LedgerStore:
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(path).expanduser())
