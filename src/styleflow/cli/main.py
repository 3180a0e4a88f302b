"""The ``styleflow`` command line.

Each subcommand lives in ``styleflow/cli/<name>.py`` and provides
``register(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``. Errors the user can
fix are :class:`~styleflow.errors.StyleflowError`: printed as one line on stderr, exit status 2;
``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn, Sequence

from styleflow import __version__
from styleflow.errors import StyleflowError

#: Subcommand modules under ``styleflow.cli``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "image",
    "frames",
    "flow",
    "consistency",
    "encode",
    "video",
    "metrics",
    "layers",
    "train",
)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (and exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="styleflow",
        description="Artistic style transfer for images and videos (Gatys et al.; Ruder et al.).",
    )
    parser.add_argument("--version", action="version", version=f"styleflow {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"styleflow.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"styleflow.cli.{name}":
                continue  # not built yet
            raise
        sub_parser = module.register(sub)
        sub_parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                                help="show full tracebacks on errors")
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except StyleflowError as exc:
        if args.debug:
            raise
        print(f"styleflow {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"styleflow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
