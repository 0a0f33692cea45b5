"""Tests of token_budget.ledger (a package, so its module names stay apart)."""
