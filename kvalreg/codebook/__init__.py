"""Codebooks: each registration system's own format, converted to one canonical form."""

from kvalreg.codebook.canonical import Codebook, Variable, VarType

__all__ = ["Codebook", "VarType", "Variable"]
