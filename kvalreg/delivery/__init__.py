"""Encrypted, signed delivery of named file sets to recipients over SFTP (no Dagster here)."""
