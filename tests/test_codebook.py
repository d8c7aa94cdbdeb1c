"""Native codebook formats (MRS rapport, OQR klokebok) <-> canonical, with exact round trips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from kvalreg.codebook import Codebook, Variable, VarType
from kvalreg.codebook.formats import READERS, read_codebook
from kvalreg.codebook.mrs import (
    MrsCodebookError,
    read_rapport,
    write_rapport_csv,
    write_rapport_xlsx,
)
from kvalreg.codebook.oqr import OqrCodebookError, read_klokebok, write_klokebok
from kvalreg.registry import load_registries

STAMP = datetime(2025, 3, 1, 2, 15)


@pytest.fixture(scope="module")
def codebooks() -> dict[str, Codebook]:
    regs = load_registries()
    return {name: regs[name].codebook for name in ("hoftebrudd", "hjerneslag", "npr")}


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag", "npr"])
def test_round_trip_through_every_native_format(
    codebooks: dict[str, Codebook], name: str, tmp_path: Path
) -> None:
    cb = codebooks[name]
    write_rapport_xlsx(cb, tmp_path / "rapport.xlsx", timestamp=STAMP)
    write_rapport_csv(cb, tmp_path / "rapport.csv")
    write_klokebok(cb, tmp_path / "klokebok.csv", encoding="cp1252")
    cb.write_csv(tmp_path / "canonical.csv")
    assert read_rapport(tmp_path / "rapport.xlsx") == cb
    assert read_rapport(tmp_path / "rapport.csv") == cb
    assert read_klokebok(tmp_path / "klokebok.csv") == cb
    assert Codebook.read_csv(tmp_path / "canonical.csv") == cb


def test_round_trip_covers_the_interesting_attributes(codebooks: dict[str, Codebook]) -> None:
    """Guard against a vacuous round trip: the registries use what the formats must carry."""
    variables = codebooks["hoftebrudd"].variables + codebooks["hjerneslag"].variables
    assert {v.type for v in variables} >= set(VarType) - {VarType.DERIVED}
    assert any(v.unique for v in variables)
    assert any(v.missing_codes for v in variables)
    assert any(v.decimals for v in variables)
    assert any(isinstance(v.min, str) for v in variables)  # date limits
    assert any(v.min_plausible is not None and v.min_plausible != v.min for v in variables)


def test_derived_variable_with_formula_round_trips(tmp_path: Path) -> None:
    cb = Codebook(
        (
            Variable("f", "Vekt", "Vekt", VarType.NUMERIC, decimals=1, min=20.5, max=250.0),
            Variable("f", "BMI", "BMI", VarType.DERIVED, formula="Vekt / (Hoyde/100)^2"),
        )
    )
    write_rapport_xlsx(cb, tmp_path / "r.xlsx", timestamp=STAMP)
    write_klokebok(cb, tmp_path / "k.csv")
    assert read_rapport(tmp_path / "r.xlsx") == cb
    assert read_klokebok(tmp_path / "k.csv") == cb


def test_xlsx_bytes_are_deterministic(codebooks: dict[str, Codebook], tmp_path: Path) -> None:
    write_rapport_xlsx(codebooks["hoftebrudd"], tmp_path / "a.xlsx", timestamp=STAMP)
    write_rapport_xlsx(codebooks["hoftebrudd"], tmp_path / "b.xlsx", timestamp=STAMP)
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()


def test_formats_are_registered_for_dispatch(tmp_path: Path) -> None:
    assert {"canonical", "mrs_rapport", "oqr_klokebok"} <= set(READERS)
    src = load_registries()["hjerneslag"]
    assert read_codebook("oqr_klokebok", src.folder / "klokebok.csv") == src.codebook


def _mrs_csv(tmp_path: Path, row: str) -> Path:
    header = (
        "Skjemanavn;Visningsnavn;Variabelnavn;Felttype;Mulige verdier;Obligatorisk;Min;Maks;"
        "Min rimelig;Maks rimelig;Desimaler;Enhet;Hjelpetekst"
    )
    path = tmp_path / "rapport.csv"
    path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("f;Vekt;Vekt;Heltall;;Ja;;;;;;;", "Felttype", "unknown field type 'Heltall'"),
        ("f;Vekt;Vekt;Tall;;Ja;tjue;;;;;;", "Min", "expected a number"),
        ('f;Kjønn;Kjonn;Listevariabel;"1 Mann";Ja;;;;;;;', "Mulige verdier", "code = text"),
        ("f;Vekt;Vekt;Tall;;Kanskje;;;;;;;", "Obligatorisk", "Ja/Nei"),
    ],
)
def test_mrs_errors_name_file_row_and_column(
    tmp_path: Path, row: str, column: str, fragment: str
) -> None:
    path = _mrs_csv(tmp_path, row)
    with pytest.raises(MrsCodebookError) as err:
        read_rapport(path)
    assert str(path) in str(err.value)
    assert f"row 2, column {column!r}" in str(err.value)
    assert fragment in str(err.value)


def test_mrs_multiline_values_and_plain_export_without_extra_columns(tmp_path: Path) -> None:
    path = _mrs_csv(tmp_path, 'f;Kjønn;Kjonn;Listevariabel;"1 = Mann\n2 = Kvinne";Ja;;;;;;;')
    var = read_rapport(path).variable("f", "Kjonn")
    assert var.values == {"1": "Mann", "2": "Kvinne"}
    assert (var.unique, var.missing_codes, var.mandatory) == (False, (), True)


def test_oqr_errors_name_file_row_and_column(
    codebooks: dict[str, Codebook], tmp_path: Path
) -> None:
    path = tmp_path / "klokebok.csv"
    write_klokebok(codebooks["hjerneslag"], path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("Numerisk (heltall)", "Heltallsvariabel", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(OqrCodebookError, match=r"row 4, column 'type': unknown type"):
        read_klokebok(path)


def test_oqr_rejects_a_repeated_non_list_variable(tmp_path: Path) -> None:
    cb = Codebook((Variable("f", "Vekt", "Vekt", VarType.NUMERIC, decimals=0),))
    path = tmp_path / "k.csv"
    write_klokebok(cb, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    with pytest.raises(OqrCodebookError, match=r"row 3.*defined twice"):
        read_klokebok(path)


def test_a_variable_describes_itself_in_one_line_for_column_docs() -> None:
    coded = Variable(
        form="operasjon", name="ASA", label="ASA-grad", type=VarType.CODED,
        description="Preoperativ ASA-klassifisering", mandatory=True,
        values={"1": "Frisk", "2": "Moderat sykdom"},
    )  # fmt: skip
    assert coded.describe() == (
        "ASA-grad; Preoperativ ASA-klassifisering; codes: 1 = Frisk, 2 = Moderat sykdom; mandatory"
    )
    measured = Variable(
        form="operasjon", name="Vekt", label="Vekt", type=VarType.NUMERIC, description="Vekt",
        unit="kg",
    )  # fmt: skip
    # a description equal to the label is not repeated
    assert measured.describe() == "Vekt; unit: kg"
