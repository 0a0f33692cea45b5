"""Fake: a valid result that echoes somebody else's case id."""

import json

from _common import describe, result

describe("crosstalk")
print(json.dumps(result(case_id="some-other-case")))
