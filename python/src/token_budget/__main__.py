"""`python -m token_budget` runs the command line."""

from token_budget.cli import main

raise SystemExit(main())
