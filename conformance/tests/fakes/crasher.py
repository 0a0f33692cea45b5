"""Fake: dies with a Python traceback on stderr and no result."""

from _common import describe

describe("crasher")
raise RuntimeError("fake crash on purpose")
