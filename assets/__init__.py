"""Dagster assets and jobs: thin wiring over ``kvalreg``'s ingestion."""
