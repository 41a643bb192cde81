"""Command-line interface ``youtu-embed``: a Typer app extended by plugins.

Build the app with :func:`build_app` (for tests: ``typer.testing.CliRunner().invoke(build_app(), [...])``)
or run it with :func:`main`. Readers and writers of input/output files are in :mod:`.io`.
"""

from youtu_embedding.core.cli.app import USAGE_ERROR_EXIT_CODE, ErrorReportingGroup, build_app, main

__all__ = ["USAGE_ERROR_EXIT_CODE", "ErrorReportingGroup", "build_app", "main"]
