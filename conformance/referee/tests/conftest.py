"""Make ``referee`` importable when pytest runs from anywhere: put conformance/ on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

CONFORMANCE = Path(__file__).resolve().parents[2]
if str(CONFORMANCE) not in sys.path:
    sys.path.insert(0, str(CONFORMANCE))
