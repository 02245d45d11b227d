"""Loading every module's event subscribers and job handlers, wherever the application runs.

Modules react to each other's events and run jobs through registries filled at import time. The web
application, the command line and a standalone job worker all call ``load_modules`` first, so that a
lab file imported from the command line reaches tracing just as one uploaded on a page does.
"""

from __future__ import annotations

from functools import cache


@cache
def load_modules() -> None:
    """Import the modules whose import registers subscribers and job handlers."""
    import fangkong.command.reactions  # templates' tasks and alerts' problems
    import fangkong.models  # every table on the metadata
    import fangkong.testing.results  # job: a lab file's import
    import fangkong.tracing.reactions  # a positive becomes a case
    import fangkong.tracing.runs  # noqa: F401  (job: a tracing run)
