"""Dagster wiring: ``Definitions``, the instance configuration, and ``kvalreg process``."""
