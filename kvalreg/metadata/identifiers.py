"""Identifier class of a variable: how directly it points at a person.

The one place this is decided. A codebook may state the class itself (an ``identifier_class``
attribute on the canonical ``Variable``, once the canonical codebook carries such a column);
otherwise it is derived from the registry's key columns and the variable's kind:

* ``direct``: the fødselsnummer and the registry's patient key;
* ``quasi``: birth date, dates, municipality, age and sex (re-identifying in combination);
* ``other``: everything else.

Derived columns (staging, marts) take the strongest class among the raw columns they come
from (see ``strongest``), so a hashed fnr is still flagged.
"""

from __future__ import annotations

import re
from enum import StrEnum

from kvalreg.codebook import Variable, VarType
from kvalreg.registry import Keys


class IdentifierClass(StrEnum):
    DIRECT = "direct"
    QUASI = "quasi"
    OTHER = "other"


_RANK = {IdentifierClass.OTHER: 0, IdentifierClass.QUASI: 1, IdentifierClass.DIRECT: 2}
_QUASI_NAME = re.compile(r"fodsel|fødsel|birth|kommune|municip|bydel|postn|alder|^age$|kjonn|kjønn")
_DATES = (VarType.DATE, VarType.DATETIME)


def classify(variable: Variable, keys: Keys) -> tuple[IdentifierClass, str]:
    """The class and its basis (``codebook`` or ``derived from keys and type``)."""
    stated = getattr(variable, "identifier_class", None)
    if stated:
        return IdentifierClass(str(stated).strip().lower()), "codebook"
    basis = "derived: registry keys, variable type and name"
    if variable.name in (keys.fnr, keys.patient):
        return IdentifierClass.DIRECT, basis
    if variable.type in _DATES or _QUASI_NAME.search(variable.name.lower()):
        return IdentifierClass.QUASI, basis
    return IdentifierClass.OTHER, basis


def strongest(classes: list[IdentifierClass]) -> IdentifierClass:
    """The most identifying of the given classes (``other`` for none)."""
    return max(classes, key=_RANK.__getitem__, default=IdentifierClass.OTHER)
