"""The contract's fixed numbers (SPEC.md), in a module that imports nothing."""

CONTRACT_VERSION = 1
IMPLEMENTATION = "python"
MAX_BUDGET = 2_147_483_647
