"""Codebooks: each registration system's own format, converted to one canonical form."""

from kvalreg.codebook.canonical import Codebook, IdentifierClass, Variable, VarType

__all__ = ["Codebook", "IdentifierClass", "VarType", "Variable"]
