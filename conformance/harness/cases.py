"""The case files of ``conformance/cases/`` and the variants the harness derives.

A case is data (one JSON file per case, the file name equals its permanent ``id``).
Besides the case as written, a case with ``"rechunk": true`` is replayed with the same
bytes split differently: one byte per write, seeded random splits, and everything in
one write. Every variant must give the same result.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from .errors import CaseError
from .registry import CONFORMANCE_DIR, SCHEMA_DIR

log = logging.getLogger("harness.cases")

CASES_DIR = CONFORMANCE_DIR / "cases"
ORIGINAL = "original"
RECHUNK_VARIANTS = ("bytewise", "random", "single")
RECHUNK_SEED = 20240531
# JSON files in the cases folder that are not cases.
NOT_CASES = frozenset({"index.json"})

# Delays up to this many seconds in total are treated as not mattering: re-chunking
# drops them without changing what the case checks.
_NEGLIGIBLE_DELAY_S = 0.05


@dataclass(frozen=True)
class Case:
    """One case file, as loaded."""

    id: str
    data: Mapping[str, Any]
    path: Path

    @property
    def provider(self) -> str:
        return str(self.data.get("provider", "openai"))

    @property
    def requires(self) -> list[str]:
        return list(self.data.get("requires", []))

    @property
    def client(self) -> Mapping[str, Any]:
        client = self.data.get("client", {})
        return client if isinstance(client, Mapping) else {}

    @property
    def expect(self) -> Mapping[str, Any]:
        expect = self.data.get("expect", {})
        return expect if isinstance(expect, Mapping) else {}

    @property
    def servers(self) -> list[Mapping[str, Any]]:
        server = self.data.get("server", {})
        return list(server) if isinstance(server, list) else [server]

    def variants(self, allowed: Sequence[str] | None = None) -> list[str]:
        """The original, plus the re-chunked replays when they keep the case's meaning.

        ``allowed`` limits the variants (env ``TB_VARIANTS``, for quick local runs).
        """
        found = [ORIGINAL]
        if self.data.get("rechunk", False) and not self._delays_matter():
            found += list(RECHUNK_VARIANTS)
        if any(server.get("end") == "reset" for server in self.servers):
            # A TCP reset discards bytes the kernel has not sent yet; after many tiny
            # writes that loses the tail, so only the one-write replay is the same bytes.
            found = [v for v in found if v in (ORIGINAL, "single")]
        return [v for v in found if allowed is None or v in allowed]

    def _delays_matter(self) -> bool:
        total = 0.0
        for server in self.servers:
            for write in server.get("writes", []):
                total += float(write.get("delay_ms", 0)) * int(write.get("repeat", 1))
        return total / 1000.0 > _NEGLIGIBLE_DELAY_S


@dataclass
class CaseSet:
    """All cases of a folder, with the hash that goes into every report header."""

    cases: list[Case] = field(default_factory=list)
    sha256: str = ""
    problems: list[str] = field(default_factory=list)


def load_cases(folder: Path = CASES_DIR) -> CaseSet:
    """Load every ``*.json`` case; problems are collected, not raised, and reported."""
    found = CaseSet()
    digest = hashlib.sha256()
    validator = _case_validator()
    for path in sorted(folder.glob("*.json")):
        if path.name in NOT_CASES:
            continue
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw + b"\0")
        try:
            found.cases.append(_load_case(path, raw, validator))
        except CaseError as exc:
            found.problems.append(str(exc))

    found.sha256 = digest.hexdigest()
    return found


def _case_validator() -> jsonschema.Draft202012Validator | None:
    path = SCHEMA_DIR / "case.schema.json"
    if not path.exists():
        log.warning("no %s yet; case files are loaded without validation", path)
        return None
    return jsonschema.Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def _load_case(
    path: Path, raw: bytes, validator: jsonschema.Draft202012Validator | None
) -> Case:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CaseError(f"{path.name}: not JSON: {exc}") from exc

    if not isinstance(data, dict):
        raise CaseError(f"{path.name}: a case must be a JSON object")
    if validator is not None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(data))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise CaseError(f"{path.name}: {error.message} (at /{where})")
    if data.get("id") != path.stem:
        raise CaseError(f"{path.name}: id {data.get('id')!r} must equal the file name")
    return Case(id=data["id"], data=data, path=path)


def check_id(case_id: str, variant: str) -> str:
    """The id expected-failure files use: the case id, plus ``@variant`` for replays."""
    return case_id if variant == ORIGINAL else f"{case_id}@{variant}"


def applicable(
    requires: Sequence[str], provider: str, describe: Mapping[str, Any]
) -> str | None:
    """None when the implementation can run the case, else why it does not apply."""
    providers = describe.get("providers", [])
    if provider not in providers:
        return f"provider {provider} not in --describe providers {providers}"

    capabilities = set(describe.get("capabilities", []))
    missing = [c for c in requires if c not in capabilities]
    if missing:
        return f"needs capability {', '.join(missing)} (not in --describe)"
    return None
