"""Running `campaign ...` in-process, as a user would from a shell."""

from __future__ import annotations

from click.testing import CliRunner, Result

from runner.main import cli


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the command line with ARGS (and ENV added to the environment). A Python exception
    escaping it, or a traceback in its output, fails the test: users never see one."""
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"campaign {' '.join(args)} raised {result.exception!r}") from result.exception
    assert "Traceback" not in result.output
    return result
