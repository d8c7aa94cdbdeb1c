"""A registry is data: a folder with ``registry.yaml`` and its native codebook.

Adding a registry means adding such a folder (to ``kvalreg/registries/`` or to a directory
named in ``KVALREG_REGISTRIES``), never platform code. Everything registry-specific that the
platform needs is described here: file-name patterns, format hints, key identifiers, date-order
rules and the registration deadline.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from kvalreg.codebook import Codebook, Variable
from kvalreg.codebook.formats import read_codebook

BUILTIN_DIR = Path(__file__).parent / "registries"
REGISTRY_FILE = "registry.yaml"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


@dataclass(frozen=True)
class FormatHints:
    """How this registry's export files are written."""

    encodings: tuple[str, ...] = ("utf-8-sig", "cp1252")  # tried in order
    separator: str = ";"
    decimal: str = ","
    date_formats: tuple[str, ...] = ("%d.%m.%Y", "%Y-%m-%d")  # strptime formats
    datetime_formats: tuple[str, ...] = ("%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")
    true_values: tuple[str, ...] = ("1", "TRUE", "True", "true", "Ja", "ja")
    false_values: tuple[str, ...] = ("0", "FALSE", "False", "false", "Nei", "nei")


@dataclass(frozen=True)
class DateRule:
    """``earlier`` must not be after ``later`` within one row of ``form``."""

    form: str
    earlier: str
    later: str


@dataclass(frozen=True)
class Keys:
    """Column names of the key identifiers; a form holds those of them it exports."""

    patient: str
    episode: str
    unit: str
    fnr: str | None = None
    event_date: str | None = None  # main date (HovedDato) of the base form
    registered: str | None = None  # when the form was registered, for timeliness
    status: str | None = None  # SkjemaStatus (-1 created, 0 saved, 1 completed)


@dataclass(frozen=True)
class Form:
    """One export file type (skjema)."""

    name: str  # skjema_id in the canonical codebook
    file_token: str  # how the form is named in the file name
    role: str  # "base" or "followup" (joined to base on the episode key)
    variables: tuple[Variable, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)


@dataclass(frozen=True)
class Registry:
    name: str
    title: str
    system: str  # mrs | oqr | npr | other: the registration system it exports from
    folder: Path
    file_pattern: str  # regex with named groups ``form`` (the form's file token) and ``date``
    format: FormatHints
    keys: Keys
    forms: tuple[Form, ...]
    codebook: Codebook
    date_rules: tuple[DateRule, ...] = ()
    deadline_days: int | None = None  # registration deadline after the event, for timeliness
    extra: dict = field(default_factory=dict)  # anything else in registry.yaml, e.g. ``synthetic``

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.file_pattern)

    def form(self, name: str) -> Form:
        for f in self.forms:
            if f.name == name:
                return f
        raise KeyError(f"registry {self.name!r} has no form {name!r}")

    def match_file(self, file_name: str) -> Form | None:
        """The form a dump file belongs to, or None if the name fits no pattern of this registry."""
        m = self.pattern.fullmatch(file_name)
        if not m:
            return None
        token = m.group("form")
        return next((f for f in self.forms if f.file_token == token), None)


def registry_dirs() -> list[Path]:
    """Built-in registries plus any directories listed in ``KVALREG_REGISTRIES`` (os.pathsep)."""
    dirs = [BUILTIN_DIR]
    extra = os.environ.get("KVALREG_REGISTRIES", "")
    dirs += [Path(p) for p in extra.split(os.pathsep) if p]
    return dirs


def load_registries(dirs: list[Path] | None = None) -> dict[str, Registry]:
    """Every registry found as ``<dir>/<name>/registry.yaml``, keyed by name."""
    found: dict[str, Registry] = {}
    for base in dirs if dirs is not None else registry_dirs():
        for cfg in sorted(base.glob(f"*/{REGISTRY_FILE}")):
            reg = load_registry(cfg.parent)
            if reg.name in found:
                raise ValueError(f"{cfg}: registry {reg.name!r} is defined twice")
            found[reg.name] = reg
    return found


def load_registry(folder: Path) -> Registry:
    cfg_path = folder / REGISTRY_FILE
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    name = cfg.get("name", "")
    if not NAME_RE.match(name):
        raise ValueError(f"{cfg_path}: name {name!r} must match {NAME_RE.pattern}")
    cb = cfg["codebook"]
    codebook = read_codebook(cb["format"], folder / cb["path"])
    forms = tuple(
        Form(
            name=form_name,
            file_token=str(spec.get("file_token", form_name)),
            role=spec.get("role", "base"),
            variables=codebook.form(form_name),
        )
        for form_name, spec in cfg["forms"].items()
    )
    fmt = cfg.get("format", {})
    hints = FormatHints(**{k: tuple(v) if isinstance(v, list) else v for k, v in fmt.items()})
    pattern = cfg["files"]["pattern"]
    if not {"form", "date"} <= set(re.compile(pattern).groupindex):
        raise ValueError(f"{cfg_path}: files.pattern needs named groups 'form' and 'date'")
    known = {
        "name",
        "title",
        "system",
        "codebook",
        "forms",
        "format",
        "files",
        "keys",
        "date_rules",
        "deadline_days",
    }
    return Registry(
        name=name,
        title=cfg.get("title", name),
        system=cfg.get("system", "other"),
        folder=folder,
        file_pattern=pattern,
        format=hints,
        keys=Keys(**cfg["keys"]),
        forms=forms,
        codebook=codebook,
        date_rules=tuple(DateRule(**r) for r in cfg.get("date_rules", [])),
        deadline_days=cfg.get("deadline_days"),
        extra={k: v for k, v in cfg.items() if k not in known},
    )
