"""Fake: prints something that is not JSON and exits 0."""

from _common import describe

describe("garbage")
print("Hi! budget reached maybe? {not json")
