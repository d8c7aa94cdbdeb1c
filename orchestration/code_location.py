"""The code location Dagster loads (workspace.yaml): definitions for this environment.

Kept apart from ``orchestration.definitions`` so that importing the factory (as
``kvalreg process`` and the tests do) does not build a second set of definitions.
"""

from orchestration.definitions import build_definitions

defs = build_definitions()
