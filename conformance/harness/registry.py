"""Which implementations exist, how to run them, how to build them.

The registry is ``conformance/implementations.json`` (schema in
``conformance/schema/implementations.schema.json``). Resolving an entry turns its
placeholders into a real argv and says whether it can run here; an implementation that
cannot run is *unavailable* with a reason, never silently skipped or counted as passing.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from .errors import RegistryError

log = logging.getLogger("harness.registry")

CONFORMANCE_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = CONFORMANCE_DIR.parent
REGISTRY_PATH = CONFORMANCE_DIR / "implementations.json"
SCHEMA_DIR = CONFORMANCE_DIR / "schema"

_ENV_PLACEHOLDER = re.compile(r"\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Implementation:
    """One registry entry, placeholders not yet filled in."""

    name: str
    language: str
    command: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...] = ()
    requires_files: tuple[str, ...] = ()
    build: tuple[str, ...] | None = None
    toolchain: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    """An implementation as it stands on this machine."""

    impl: Implementation
    argv: tuple[str, ...] | None
    reason: str | None

    @property
    def name(self) -> str:
        return self.impl.name

    @property
    def available(self) -> bool:
        return self.argv is not None


def load_registry(path: Path = REGISTRY_PATH) -> list[Implementation]:
    """Read and validate the registry; raise RegistryError with what to fix."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read the registry {path}: {exc}") from exc

    schema = json.loads((SCHEMA_DIR / "implementations.schema.json").read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: e.path
    )
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise RegistryError(f"{path}: {errors[0].message} (at /{where})")

    impls = [_entry(item) for item in data["implementations"]]
    names = [i.name for i in impls]
    if len(set(names)) != len(names):
        raise RegistryError(f"{path}: implementation names must be unique, got {names}")
    return impls


def _entry(item: Mapping[str, Any]) -> Implementation:
    build = item.get("build")
    return Implementation(
        name=item["name"],
        language=item["language"],
        command=tuple(item["command"]),
        alternatives=tuple(tuple(a) for a in item.get("alternatives", [])),
        requires_files=tuple(item.get("requires_files", [])),
        build=tuple(build) if build else None,
        toolchain=tuple(item.get("toolchain", [])),
    )


def fill(
    word: str, env: Mapping[str, str] | None = None, python: str | None = None
) -> str | None:
    """Replace {python}, {root} and {env:NAME}; None when a variable is unset."""
    env = os.environ if env is None else env
    filled = word.replace("{python}", python or sys.executable)
    filled = filled.replace("{root}", str(REPO_ROOT))
    for name in _ENV_PLACEHOLDER.findall(filled):
        if not env.get(name):
            return None
        filled = filled.replace(f"{{env:{name}}}", env[name])
    return filled


def _fill_argv(argv: Sequence[str], env: Mapping[str, str] | None) -> list[str] | None:
    words = [fill(w, env) for w in argv]
    return (
        None if any(w is None for w in words) else [w for w in words if w is not None]
    )


def _runnable(program: str) -> bool:
    if os.sep in program:
        return os.path.isfile(program) and os.access(program, os.X_OK)
    return shutil.which(program) is not None


def resolve(impl: Implementation, env: Mapping[str, str] | None = None) -> Resolved:
    """Find the first candidate command that exists, or say why none does."""
    missing_files = [
        f
        for f in (fill(p, env) for p in impl.requires_files)
        if f and not Path(f).exists()
    ]
    candidates = [impl.command, *impl.alternatives]
    tried: list[str] = []
    for candidate in candidates:
        argv = _fill_argv(candidate, env)
        if argv is None:
            continue
        tried.append(argv[0])
        if _runnable(argv[0]) and not missing_files:
            return Resolved(impl, tuple(argv), None)

    return Resolved(impl, None, _unavailable_reason(impl, tried, missing_files))


def _unavailable_reason(
    impl: Implementation, tried: list[str], missing_files: list[str]
) -> str:
    """Say what is missing and how to get it, so the reader can act on it."""
    if missing_files:
        what = f"missing {', '.join(missing_files)}"
    else:
        what = f"no executable at {' or '.join(tried) or '(no candidate)'}"

    absent_tools = [t for t in impl.toolchain if shutil.which(t) is None]
    if absent_tools:
        return f"{what}; toolchain not on PATH: {', '.join(absent_tools)}"
    if impl.build:
        build = _fill_argv(impl.build, None) or list(impl.build)
        return f"{what}; build it with `{' '.join(build)}` or run pytest with --build"
    return what


def build(impl: Implementation, timeout_s: float = 900.0) -> tuple[bool, str]:
    """Run the entry's build command; return (ok, the tail of its output)."""
    if impl.build is None:
        return False, f"{impl.name} has no build command"

    argv = _fill_argv(impl.build, None)
    if argv is None or shutil.which(argv[0]) is None:
        return False, f"cannot build {impl.name}: {impl.build[0]} is not on PATH"

    log.info("building %s: %s", impl.name, " ".join(argv))
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, f"building {impl.name} took longer than {timeout_s:.0f} s"

    tail = (done.stdout + done.stderr)[-2000:]
    return done.returncode == 0, tail


def select(
    impls: Sequence[Implementation],
    requested: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> list[Resolved]:
    """The implementations of this run.

    Requested names (``--impl`` or ``TB_IMPLS``) are all reported, available or not;
    without a request, every implementation whose command exists runs.
    """
    by_name = {i.name: i for i in impls}
    unknown = [n for n in requested if n not in by_name]
    if unknown:
        raise RegistryError(
            f"unknown implementation(s) {', '.join(unknown)}; "
            f"the registry has {', '.join(by_name)}"
        )

    if requested:
        return [resolve(by_name[n], env) for n in dict.fromkeys(requested)]
    resolved = [resolve(i, env) for i in impls]
    return [r for r in resolved if r.available]
