"""Command-line flags derived from the option registry (:mod:`styleflow.options.registry`).

Every option with a ``cli`` scope becomes a ``--name-with-dashes`` flag of ``styleflow image`` or
``styleflow video`` (:func:`add_flags`); its value is parsed and range-checked by the registry
when the command line is read (:func:`parse_text`), so a bad number is a one-line usage error
before any work. :func:`cli_number` gives the other number flags (``--height``, ``--step`` ...)
the same checks and messages.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, Iterable

from styleflow.errors import StyleflowError
from styleflow.options.registry import OPTIONS, Option, check_value, options


def cli_options(command: str) -> tuple[Option, ...]:
    """The options ``styleflow COMMAND`` (``image`` or ``video``) has a flag for, in registry order:
    ``image``: the image options with ``cli`` ``both`` or ``image``; ``video``: those with ``both``
    and every video option (``cli="video"``: the variant's fields, over ``--variant``'s values)."""
    wanted = {"image": ("both", "image"), "video": ("both", "video")}[command]
    return tuple(o for o in OPTIONS if o.cli in wanted)


def parse_text(opt: Option, text: str) -> Any:
    """A command-line string as a checked value of ``opt``: numbers by their kind; ``offsets`` as
    ``1,2,4``; ``layers`` as ``relu4_2`` or ``relu1_1=0.5,relu2_1=0.5`` (layers without ``=W``
    share a weight of 1 equally). Raises a one-line StyleflowError naming the option."""
    value: Any = text
    if opt.auto and text == "auto":
        return value
    try:
        if opt.kind == "int":
            value = int(text)
        elif opt.kind == "float":
            value = float(text)
        elif opt.kind == "offsets":
            value = [int(t) for t in text.replace(",", " ").split()]
        elif opt.kind == "layers":
            items = [t for t in text.replace(" ", ",").split(",") if t]
            plain = [t for t in items if "=" not in t]
            value = {t: 1.0 / len(plain) for t in plain}
            value.update({k: float(w) for k, w in (t.split("=", 1) for t in items if "=" in t)})
    except ValueError:
        raise StyleflowError(f"{opt.name}: expected {opt.expected()}, got {text!r}") from None
    return check_value(opt, value)


def _cli_type(opt: Option) -> Callable[[str], Any]:
    """argparse ``type=`` of ``opt``: parse and range-check the text at parse time (one-line usage error)."""

    def parse(text: str) -> Any:
        try:
            return parse_text(opt, text)
        except StyleflowError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{opt.name}: ")) from None

    parse.__name__ = opt.kind
    return parse


def cli_option_type(opt: Option) -> Callable[[str], Any]:
    """argparse ``type=`` of registry option ``opt`` for a flag :func:`add_flags` does not make
    (e.g. ``styleflow image --model-scale``, a video option): parsed and checked as the others."""
    return _cli_type(opt)


def cli_number(kind: str, minimum: float | None = None, maximum: float | None = None, *,
               exclusive_minimum: bool = False) -> Callable[[str], Any]:
    """argparse ``type=`` for a number flag that is not a registry option (``--height``,
    ``--max-frames`` ...): ``kind`` ``int`` or ``float``, range-checked as the options are."""
    return _cli_type(Option("value", kind, None, "", minimum=minimum, maximum=maximum,
                            exclusive_minimum=exclusive_minimum))


def add_flags(group: argparse._ArgumentGroup, command: str, only: Iterable[str] | None = None,
              scope: str = "image") -> None:
    """The flags of the options of ``scope`` that ``command`` exposes (:func:`cli_options`), or of
    the options of ``scope`` named in ``only``.

    Every flag defaults to None, meaning "the preset's value" (image options) or "the variant's
    value" (video options); booleans get ``--x/--no-x``. Values are parsed and range-checked by
    the registry when the command line is read, before any work.
    """
    wanted = None if only is None else set(only)
    for o in options(scope):
        if wanted is not None:
            if o.name not in wanted:
                continue
        elif o not in cli_options(command):
            continue
        shown = ("on" if o.default else "off") if o.kind == "bool" else o.default
        if o.default is None:
            help_text = o.help
        elif scope == "image":
            help_text = f"{o.help} (gatys: {shown})"
        else:
            help_text = f"{o.help} (default: {shown}, unless --variant sets it)"
        help_text = help_text.replace("%", "%%")
        if o.kind == "bool":
            group.add_argument(o.flag, dest=o.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
            continue
        choices = o.cli_choices or (None if o.open_choices else o.choices)
        parse = str if choices or o.kind == "str" else _cli_type(o)
        group.add_argument(o.flag, dest=o.name, type=parse, default=None, choices=list(choices) if choices else None,
                           metavar=o.metavar, help=help_text)


def flag_values(args: argparse.Namespace, command: str, scope: str = "image") -> dict[str, Any]:
    """``{option: value}`` of the ``scope`` option flags of ``command`` (None: not given)."""
    return {o.name: getattr(args, o.name) for o in cli_options(command) if o.scope == scope}
