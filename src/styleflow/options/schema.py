"""A workflow config against its JSON schema, as one line: where, what is wrong, the closest key.

Snakemake's own ``validate`` reports a refused config with the whole schema attached (hundreds of
lines); the Snakefile calls :func:`check_config` first, so a misspelt key reads
``config videos.demo.max_frame: unknown key; did you mean max_frames?``. ``validate`` still runs
afterwards (it fills in the defaults).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from styleflow.errors import StyleflowError
from styleflow.options.registry import name_hint

#: Longest message shown for one refused value (a repr of a large mapping is cut).
MAX_MESSAGE = 240


def _where(error: ValidationError) -> str:
    """``videos.demo.step``, ``runs[0].variant``: the config key of ``error``."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def problem(config: Mapping[str, Any], schema: Mapping[str, Any]) -> str | None:
    """The first thing ``schema`` refuses in ``config``, in one line (None: valid)."""
    error = best_match(Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return None
    where = _where(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        if extra:
            key = f"{where}.{extra[0]}" if where else str(extra[0])
            return f"config {key}: unknown key; {name_hint(str(extra[0]), allowed)}"
    message = " ".join(error.message.split())
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return f"config {where or '(top level)'}: {message}"


def check_config(config: Mapping[str, Any], schema_file: str | Path) -> None:
    """Raise a one-line StyleflowError for the first thing the schema in ``schema_file`` refuses."""
    found = problem(config, yaml.safe_load(Path(schema_file).read_text()))
    if found:
        raise StyleflowError(found)
