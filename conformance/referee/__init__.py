"""The conformance referee: a scripted mock LLM provider that records the wire.

Typical use from a test::

    from referee import Referee, Script, Write

    with Referee(Script(writes=[Write(b"data: [DONE]\\n\\n")])) as ref:
        run_implementation(base_url=ref.url)
        ref.wait_closed(timeout=5.0)
    assert ref.record.requests == 1
"""

from __future__ import annotations

from . import dialects
from .errors import RefereeError, ScriptError, ServerError
from .personas import persona_script
from .record import Connection, Record, WriteRecord
from .script import Script, Write, scripts_for_case
from .server import Referee

__all__ = [
    "Connection",
    "Record",
    "Referee",
    "RefereeError",
    "Script",
    "ScriptError",
    "ServerError",
    "Write",
    "WriteRecord",
    "dialects",
    "persona_script",
    "scripts_for_case",
]
