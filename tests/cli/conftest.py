"""Running `llmedge` commands in tests: in-process through `main()`, or as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from llmedge.cli import main
from tests.stack_fixture import child_environment, free_port


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """`cli("ask", "hi", "--url", …)` runs `llmedge` in this process; its exit code and output."""

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run


def run_subprocess(*argv: str, env: dict[str, str] | None = None, stdin: str = "") -> Ran:
    """`python -m llmedge …` as a user runs it: what reaches the terminal, tracebacks included."""
    completed = subprocess.run(
        [sys.executable, "-m", "llmedge", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**child_environment(), **(env or {})},
        timeout=60,
    )
    return Ran(completed.returncode, completed.stdout, completed.stderr)


def nothing_listening() -> str:
    return f"http://127.0.0.1:{free_port()}"


def assert_one_line_error(ran: Ran, command: str, *fragments: str) -> None:
    """The error is the last line of stderr, alone (progress lines off a terminal may precede it)."""
    assert ran.code == 1, ran
    assert "Traceback" not in ran.err
    lines = ran.err.strip().splitlines()
    errors = [line for line in lines if line.startswith(f"llmedge {command}: ")]
    assert errors == lines[-1:], f"expected the error as the one last line, got:\n{ran.err}"
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
