"""Fake: a result whose counted_chars is a string (a schema violation)."""

import json

from _common import describe, result

describe("wrong-field")
print(json.dumps(result(counted_chars="0")))
