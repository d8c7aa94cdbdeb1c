"""Metadata generated from the platform's own lineage: variable catalogue, DCAT-AP-NO, HTML.

Codebooks, ``registry.yaml``, the dbt manifest and the warehouse are the single source; nothing
here is written by hand, so the published documentation cannot drift from what runs.
``kvalreg.metadata.build.write_metadata`` is the one entry point (used by ``kvalreg metadata``
and the Dagster ``metadata/catalogue`` asset).
"""
