"""Research data releases (utlevering): request, pseudonyms, generalisation, k-anonymity,
deterministic packages, key files for a trusted third party, the release log and innsyn.

No Dagster here: ``assets/release.py`` and ``sensors/release.py`` only call ``build_release``.
"""
