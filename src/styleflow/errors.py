"""User-facing errors.

Every error a user can cause (a missing file, a bad option, a corrupt flow file) is raised as
:class:`StyleflowError` with a one-line message that names the file or option, says what was
expected and, where possible, how to fix it. The command line prints the message without a
traceback (unless ``--debug``) and exits with status 2.
"""

from __future__ import annotations


class StyleflowError(Exception):
    """An error caused by input or configuration, reported to the user in one line."""
