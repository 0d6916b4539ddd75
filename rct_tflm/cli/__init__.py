"""`rct-tflm`: the command line. Each stage's commands live in their own module here.

Command modules import heavy dependencies (TensorFlow) inside the command functions only, so
`rct-tflm --help` and the non-training commands start fast.
"""
from __future__ import annotations

import importlib
import signal
import sys

import click

from ..errors import UserError

# Modules that define commands; each exposes `COMMANDS`, a list of click commands.
_COMMAND_MODULES = [  # one module per command, named after it; each exposes `COMMANDS`
    "train", "compare", "partition", "generate", "build", "flash", "emulate", "stream", "profile",
    "fleet", "verify", "export", "report", "demo", "anomaly", "boards", "layers", "ports",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rct_tflm")
def cli() -> None:
    """Resource Constrained Training (RCT): train, partition, generate, build, emulate, stream."""


for _mod in _COMMAND_MODULES:
    for _cmd in importlib.import_module(f"{__name__}.{_mod}").COMMANDS:
        cli.add_command(_cmd)


# SIGTERM (and SIGHUP: the terminal closed) unwind like Ctrl-C: `finally` blocks stop boards
# and remove staged outputs. SIGKILL cannot be caught: spawn_board's PDEATHSIG covers boards.
_UNWIND = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    old = {}
    try:
        for s in _UNWIND:
            old[s] = signal.signal(s, _terminated)
    except ValueError:  # not the main thread: leave signals alone
        pass
    try:
        _main(argv)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="rct-tflm", standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(UserError.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as e:  # bad or missing option: one line, like a UserError
        cmd = e.ctx.command_path if e.ctx is not None else "rct-tflm"
        msg = " ".join(e.format_message().splitlines()).rstrip(".")
        click.echo(f"error: {msg} (see `{cmd} --help`)", err=True)
        sys.exit(UserError.exit_code)
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        sys.exit(e.exit_code)
    except OSError as e:
        if e.filename is None:
            raise  # not about a path the user gave: a bug, keep the traceback
        click.echo(f"error: cannot write or read {e.filename} ({e.strerror}); check the path, "
                   f"its permissions and free space", err=True)
        sys.exit(UserError.exit_code)


if __name__ == "__main__":
    main()
