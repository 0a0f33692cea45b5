"""The executable arithmetic of conformance/SPEC.md, version 1 (sections 2 and 3).

Every number an implementation reports about counting is checked against these few
functions. Keep them boring: any change here is a contract change and bumps
``CONTRACT_VERSION``.
"""

from __future__ import annotations

import math

CONTRACT_VERSION = 1


def code_points(text: str) -> int:
    """Count Unicode code points, the unit of SPEC.md section 2 (not bytes, not UTF-16)."""
    return len(text)


def ratio_estimate(counted_chars: int, chars_per_token: float) -> int:
    """SPEC.md section 3: 0 for no text, else max(1, ceil(C / r)) in one double division."""
    if counted_chars == 0:
        return 0

    return max(1, math.ceil(float(counted_chars) / chars_per_token))
