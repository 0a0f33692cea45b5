"""The --step mode: explain each stage on stderr and wait for Enter on a terminal."""

from __future__ import annotations

from typing import TextIO

from token_budget.budget import BudgetObserver


class StepQuit(Exception):
    """The user typed q at a step prompt; `step` names the step they stopped before."""

    def __init__(self, step: str) -> None:
        super().__init__(step)
        self.step = step


class StepObserver(BudgetObserver):
    """Prints numbered steps; pauses only when `interactive` (stdin is a terminal)."""

    def __init__(self, out: TextIO, answers: TextIO | None, interactive: bool) -> None:
        self._out = out
        self._answers = answers
        self._interactive = interactive
        self._count = 0

    def step(self, name: str, explanation: str) -> None:
        self._count += 1
        self._out.write(f"\n[step {self._count}: {name}] {explanation}\n")
        if not self._interactive or self._answers is None:
            self._out.flush()
            return

        self._out.write("  Enter continues, q quits > ")
        self._out.flush()
        answer = self._answers.readline()
        if answer.strip().lower() == "q" or answer == "":
            raise StepQuit(name)
