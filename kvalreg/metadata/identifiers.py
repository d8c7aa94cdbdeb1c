"""Identifier class of a variable in the catalogue: how directly it points at a person.

The one place this is decided. The codebook states a class (``identifikator``: direkte, kvasi,
annan; ``kvalreg.codebook.IdentifierClass``, which data releases also read), but a variable
without the column reads as ``annan``. So the catalogue takes the more identifying of the
codebook's class and one derived from the registry's keys and the variable's kind:

* ``direkte``: the fødselsnummer and the registry's patient key;
* ``kvasi``: birth date, dates, municipality, age and sex (re-identifying in combination);
* ``annan``: everything else.

Erring towards the stronger class is the safe side for published documentation. Derived
columns (staging, marts) take the strongest class of the columns they come from (see
``strongest``), so a hashed fnr is still flagged; aggregates are ``annan``.
"""

from __future__ import annotations

import re

from kvalreg.codebook import IdentifierClass, Variable, VarType
from kvalreg.registry import Keys

_RANK = {IdentifierClass.OTHER: 0, IdentifierClass.QUASI: 1, IdentifierClass.DIRECT: 2}
_QUASI_NAME = re.compile(r"fodsel|fødsel|birth|kommune|municip|bydel|postn|alder|^age$|kjonn|kjønn")
_DATES = (VarType.DATE, VarType.DATETIME)


def derived(variable: Variable, keys: Keys) -> IdentifierClass:
    """The class implied by the registry's keys and the variable's type and name."""
    if variable.name in (keys.fnr, keys.patient):
        return IdentifierClass.DIRECT
    if variable.type in _DATES or _QUASI_NAME.search(variable.name.lower()):
        return IdentifierClass.QUASI
    return IdentifierClass.OTHER


def classify(variable: Variable, keys: Keys) -> tuple[IdentifierClass, str]:
    """The catalogue's class and its basis: the codebook's, or derived where that is stronger."""
    rule = derived(variable, keys)
    if _RANK[rule] > _RANK[variable.identifier]:
        return rule, "derived: registry keys, variable type and name (stronger than codebook)"
    return variable.identifier, "codebook (identifikator)"


def strongest(classes: list[IdentifierClass]) -> IdentifierClass:
    """The most identifying of the given classes (``annan`` for none)."""
    return max(classes, key=_RANK.__getitem__, default=IdentifierClass.OTHER)
