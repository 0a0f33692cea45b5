"""Build, test and check every token-budget implementation.

`nox` with no arguments runs what CI runs (``nox.options.sessions``); `nox -s NAME`
runs one session, `nox -l` lists them all. Each session installs what it needs. A
session whose toolchain is missing skips and says why: a skip is never a pass.

The per-language sessions drive scripts/setup-sdk.sh and scripts/test-examples.sh, so
that CI and a developer exercise the same installed-SDK workflow. They use the SDK
tree at $NXUSKIT_SDK_DIR, else the checkout's default `.sdk/`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.sessions = [
    "lint",
    "typecheck",
    "python",
    "bash",
    "go",
    "rust",
    "conformance",
    "mutants",
]

ROOT = Path(__file__).resolve().parent
PYTHON_DIR = ROOT / "python"
EXAMPLE = ROOT / "examples" / "patterns" / "token-budget"
SETUP_SDK = str(ROOT / "scripts" / "setup-sdk.sh")
TEST_EXAMPLES = str(ROOT / "scripts" / "test-examples.sh")

# CI keeps Rust build output outside the checkout so it survives between runs.
DEFAULT_CARGO_TARGET = Path.home() / ".cache" / "token-budget" / "cargo-target"

SHELL_FILES = [
    "scripts/token-budget",
    "scripts/test.sh",
    "scripts/lib/devenv.sh",
    ".ci/run",
    "bash/lib/common.sh",
    "bash/bin/ensure-bats",
    "scripts/setup-sdk.sh",
    "scripts/test-examples.sh",
    "examples/patterns/token-budget/bash/token-budget",
    "examples/patterns/token-budget/bash/run.sh",
    "examples/patterns/token-budget/bash/bench.sh",
]


def sdk_dir() -> Path:
    """The SDK tree every session shares: the user's choice, else the default."""
    return Path(os.environ.get("NXUSKIT_SDK_DIR") or ROOT / ".sdk")


def sdk_env() -> dict[str, str]:
    return {"NXUSKIT_SDK_DIR": str(sdk_dir())}


def require_tools(session: nox.Session, *tools: str) -> None:
    """Skip the session, naming the first missing tool."""
    for tool in tools:
        if shutil.which(tool) is None:
            session.skip(f"{tool} is not installed, so this session cannot run")


def build_sdk(session: nox.Session) -> None:
    session.run(SETUP_SDK, "--sdk-dir", str(sdk_dir()), external=True)


def test_examples(session: nox.Session, *args: str) -> None:
    """Run scripts/test-examples.sh; its exit status 3 means nothing ran at all."""
    session.run(
        TEST_EXAMPLES,
        "--sdk-dir",
        str(sdk_dir()),
        *args,
        *session.posargs,
        external=True,
        env=sdk_env(),
    )


# --- one session per language ------------------------------------------------------


@nox.session(venv_backend="none")
def python(session: nox.Session) -> None:
    """Build the Python SDK tree, run the demo's smoke test and python/tests with it."""
    require_tools(session, "python3")
    build_sdk(session)
    test_examples(session, "--lang", "python", "--test")


@nox.session(venv_backend="none")
def bash(session: nox.Session) -> None:
    """The bash example (make build, bats tests) and the scripts' own bats tests."""
    require_tools(session, "bash", "make", "python3")
    build_sdk(session)
    test_examples(session, "--lang", "bash", "--test")

    # The scripts' tests build their own SDK trees in temporary folders.
    bats = session.run(
        str(ROOT / "bash" / "bin" / "ensure-bats"), external=True, silent=True
    )
    session.run(str(bats).strip(), str(ROOT / "scripts" / "tests"), external=True)


@nox.session(venv_backend="none")
def go(session: nox.Session) -> None:
    """The Go example: make build and make test."""
    require_tools(session, "go", "make")
    test_examples(session, "--lang", "go", "--test")


@nox.session(venv_backend="none")
def rust(session: nox.Session) -> None:
    """The Rust example: cargo build --release and cargo test."""
    require_tools(session, "cargo")
    os.environ.setdefault("CARGO_TARGET_DIR", str(DEFAULT_CARGO_TARGET))
    test_examples(session, "--lang", "rust", "--test")


@nox.session(venv_backend="none")
def conformance(session: nox.Session) -> None:
    """The conformance suite against every implementation whose toolchain is here."""
    require_tools(session, "python3")
    if not (ROOT / "conformance" / "tests").is_dir():
        session.skip("conformance/tests does not exist yet")

    os.environ.setdefault("CARGO_TARGET_DIR", str(DEFAULT_CARGO_TARGET))
    build_sdk(session)
    test_examples(session, "--lang", "all", "--conformance")

    # The suite's own parts: the case files and the referee. test-examples installed
    # what they need into the SDK's Python.
    python = str(sdk_dir() / "python" / "bin" / "python")
    session.run(python, "conformance/check_cases.py", external=True)
    session.run(
        python,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "conformance/referee/tests",
        external=True,
    )


@nox.session(name="conformance-deep", venv_backend="none")
def conformance_deep(session: nox.Session) -> None:
    """The suite with the deep Hypothesis profile (300 examples a property); not in CI."""
    os.environ["TB_HYPOTHESIS_PROFILE"] = "deep"
    conformance(session)


# --- checks --------------------------------------------------------------------------


def ensure_shellcheck(session: nox.Session) -> str | None:
    """Find shellcheck, installing the Debian package when we are root."""
    found = shutil.which("shellcheck")
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found

    session.run("apt-get", "install", "-y", "-q", "shellcheck", external=True)
    return shutil.which("shellcheck")


def lint_shell(session: nox.Session) -> None:
    shellcheck = ensure_shellcheck(session)
    if shellcheck is None:
        session.warn("shellcheck is not installed: shell scripts NOT linted")
        return

    tests = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("scripts/tests/*.ba*"))
    tests += sorted(
        str(p.relative_to(ROOT)) for p in (EXAMPLE / "bash" / "test").glob("*.ba*")
    )
    session.run(shellcheck, "-x", *SHELL_FILES, *tests, external=True)


def lint_go(session: nox.Session) -> None:
    go_dir = EXAMPLE / "go"
    if shutil.which("go") is None or not go_dir.is_dir():
        session.warn("go or the Go example is missing: gofmt and go vet NOT run")
        return

    unformatted = session.run("gofmt", "-l", str(go_dir), external=True, silent=True)
    if str(unformatted).strip():
        session.warn(f"gofmt would reformat:\n{unformatted}")
        raise CommandFailed("gofmt -l listed files")
    with session.chdir(go_dir):
        session.run("go", "vet", "./...", external=True)


def lint_rust(session: nox.Session) -> None:
    rust_dir = EXAMPLE / "rust"
    if shutil.which("cargo") is None or not rust_dir.is_dir():
        session.warn("cargo or the Rust example is missing: fmt and clippy NOT run")
        return

    os.environ.setdefault("CARGO_TARGET_DIR", str(DEFAULT_CARGO_TARGET))
    with session.chdir(rust_dir):
        session.run("cargo", "fmt", "--check", external=True)
        session.run(
            "cargo", "clippy", "--all-targets", "--", "-D", "warnings", external=True
        )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, shellcheck, gofmt/go vet, cargo fmt/clippy: whatever toolchains exist.

    Every check runs even when an earlier one fails, so one run lists all problems.
    """
    session.install("ruff")
    checks = {
        "ruff check": lambda: session.run("ruff", "check", "."),
        "ruff format": lambda: session.run("ruff", "format", "--check", "."),
        "shell": lambda: lint_shell(session),
        "go": lambda: lint_go(session),
        "rust": lambda: lint_rust(session),
    }

    failed = []
    for name, check in checks.items():
        try:
            check()
        except CommandFailed:
            failed.append(name)
    if failed:
        session.error(f"lint failed: {', '.join(failed)}")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the Python reference."""
    session.install("mypy", f"{PYTHON_DIR}[exact,test]")
    with session.chdir(PYTHON_DIR):
        session.run("mypy", "--strict", "src")


@nox.session
def mutants(session: nox.Session) -> None:
    """Broken variants of the reference that the conformance suite must catch."""
    runner = ROOT / "conformance" / "mutants" / "run.py"
    if not runner.is_file():
        session.skip("conformance/mutants/run.py does not exist yet")

    session.install(f"{PYTHON_DIR}[test]", "-r", "conformance/requirements.txt")
    # The runner's own tests first: a broken runner must not pass for a strong suite.
    session.run("python", "-m", "pytest", "-q", "conformance/mutants/test_run.py")
    session.run("python", str(runner), *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Every script in python/benchmarks/ (each compares against its own baseline)."""
    scripts = sorted((PYTHON_DIR / "benchmarks").glob("*.py"))
    if not scripts:
        session.skip("python/benchmarks/ has no benchmark scripts")

    session.install(f"{PYTHON_DIR}[exact,test]")
    for script in scripts:
        session.run("python", str(script), *session.posargs)


@nox.session(venv_backend="none")
def demo(session: nox.Session) -> None:
    """The Python demo and `make run` of the bash example, on the loopback provider."""
    require_tools(session, "make", "python3")
    build_sdk(session)

    sdk_python = str(sdk_dir() / "python" / "bin" / "python")
    with session.chdir(EXAMPLE / "python"):
        session.run(sdk_python, "main.py", external=True, env=sdk_env())
    session.run(
        "make", "-C", str(EXAMPLE / "bash"), "run", external=True, env=sdk_env()
    )
