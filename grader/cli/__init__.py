"""The command line: parse options, call one library function, report GraderError as a clean error.

Exit codes: 0 ok, 1 user error (bad input), 2 usage error (bad options), 3 internal error.
"""

from __future__ import annotations

import signal
import sys

import click

from grader.cli import grading, info, lms, quality, serving  # noqa: F401  (the commands)
from grader.cli.common import cli, raise_interrupt, warn
from grader.errors import ExitCode

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point: exit 3 with a short message for anything unexpected; 130 when interrupted
    (Ctrl-C or SIGTERM, after temporary files are removed)."""
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            warn("Interrupted.")
            sys.exit(ExitCode.INTERRUPTED)
        warn("Aborted.")  # end of input at a prompt
        sys.exit(ExitCode.USER_ERROR)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        warn("Interrupted.")
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:
        warn(f"Internal error: {type(error).__name__}: {error}")
        warn("This is a bug in grader; please report it with the command you ran.")
        sys.exit(ExitCode.INTERNAL)
    sys.exit(ExitCode.OK)
