"""The release log: a hash chain under a secret key; verify detects edits and removals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvalreg.cli import main
from kvalreg.paths import Layout
from kvalreg.release.log import PersonEntries, ReleaseLog


@pytest.fixture
def log(kvalreg_env: Layout) -> ReleaseLog:
    log = ReleaseLog(kvalreg_env.release_log, kvalreg_env.secrets)
    log.append([{"kind": "release", "release": "a@v1", "persons": 2}])
    log.append([{"kind": "person", "release": "a@v1", "person": f"p{i}"} for i in range(3)])
    log.append([{"kind": "release", "release": "b@v1", "persons": 1}])
    return log


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_an_intact_log_verifies(log: ReleaseLog, capsys: pytest.CaptureFixture[str]) -> None:
    result = log.verify()
    assert result.ok and result.entries == 5
    assert [e["seq"] for e in log.entries()] == [1, 2, 3, 4, 5]
    assert main(["log", "verify"]) == 0
    assert "OK, 5 entries" in capsys.readouterr().out


def test_entries_of_one_kind(log: ReleaseLog) -> None:
    """Lines of other kinds are skipped unparsed; a person whose text names another kind is
    still a person entry."""
    odd = 'x","kind":"release",'
    log.append([PersonEntries("c@v1", [odd])])
    assert [e["release"] for e in log.entries("release")] == ["a@v1", "b@v1"]
    assert [e["person"] for e in log.entries("person")] == ["p0", "p1", "p2", odd]
    assert [e["seq"] for e in log.entries()] == [1, 2, 3, 4, 5, 6]


def test_an_edited_entry_is_detected(log: ReleaseLog, capsys: pytest.CaptureFixture[str]) -> None:
    text = lines(log.path)
    entry = json.loads(text[0])
    entry["persons"] = 1
    text[0] = json.dumps(entry, sort_keys=True) + "\n"
    log.path.write_text("".join(text), encoding="utf-8")
    result = log.verify()
    assert not result.ok
    assert any("line 1: entry seq 1 was edited" in p for p in result.problems)
    assert main(["log", "verify"]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_a_removed_entry_is_detected(log: ReleaseLog) -> None:
    text = lines(log.path)
    del text[2]
    log.path.write_text("".join(text), encoding="utf-8")
    problems = log.verify().problems
    assert any("seq 4 where 3 was expected" in p for p in problems)
    assert any("does not chain" in p for p in problems)


def test_removing_the_last_entries_is_detected(log: ReleaseLog) -> None:
    log.path.write_text("".join(lines(log.path)[:-2]), encoding="utf-8")
    assert any("head says the last entry is seq 5" in p for p in log.verify().problems)


def test_a_recomputed_chain_without_the_secret_is_detected(log: ReleaseLog) -> None:
    """Rewriting an entry and its hash with a guessed key does not pass: the mac is keyed."""
    import hashlib
    import hmac

    text = lines(log.path)
    entry = json.loads(text[-1])
    entry.pop("mac")
    entry["persons"] = 99
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    entry["mac"] = hmac.new(b"guess", body, hashlib.sha256).hexdigest()
    text[-1] = json.dumps(entry, sort_keys=True) + "\n"
    log.path.write_text("".join(text), encoding="utf-8")
    assert not log.verify().ok


def test_an_append_larger_than_one_write_batch_chains(log: ReleaseLog) -> None:
    persons = ({"kind": "person", "release": "c@v1", "person": f"q{i}"} for i in range(25_001))
    assert log.append(persons) == 5 + 25_001
    assert log.verify().ok


def test_person_entries_are_the_canonical_entries_of_their_dicts(
    log: ReleaseLog, kvalreg_env: Layout
) -> None:
    """The template for a release's person entries writes what the JSON encoder would: verify
    re-encodes every entry canonically, so one byte off breaks its mac; a hash that needs
    escaping, a release id with non-ASCII and a batch boundary are included."""
    hashes = ["plain", 'q"uote\\', "ø\u2028"] + [f"h{i}" for i in range(10_001)]
    release = "æøå-demo@v1"
    assert log.append([{"kind": "release", "release": release}, PersonEntries(release, hashes)])
    assert log.verify().ok
    other = ReleaseLog(kvalreg_env.home / "other.jsonl", kvalreg_env.secrets)
    other.append({"kind": "person", "release": release, "person": h} for h in hashes)
    ignore = {"seq", "prev", "mac", "at"}
    ours = list(log.entries())[-len(hashes) :]  # not splitlines: U+2028 is no line end here
    theirs = list(other.entries())
    assert [{k: v for k, v in e.items() if k not in ignore} for e in ours] == [
        {k: v for k, v in e.items() if k not in ignore} for e in theirs
    ]
    assert [e["seq"] for e in ours] == list(range(7, 7 + len(hashes)))


def test_an_append_that_fails_midway_leaves_the_log_as_it_was(log: ReleaseLog) -> None:
    before = log.path.read_bytes()

    def persons() -> Iterator[dict[str, str]]:
        for i in range(15_000):  # the first batch is written before the failure
            yield {"kind": "person", "release": "c@v1", "person": f"q{i}"}
        raise RuntimeError("hashing failed")

    with pytest.raises(RuntimeError, match="hashing failed"):
        log.append(persons())
    assert log.path.read_bytes() == before
    assert log.verify().ok
    assert log.append([{"kind": "release", "release": "c@v1", "persons": 0}]) == 6


def test_each_mac_is_hmac_sha256_of_the_entry_under_the_log_key(
    log: ReleaseLog, kvalreg_env: Layout
) -> None:
    """An auditor holding the key can check any entry with a standard HMAC-SHA256 of its
    canonical JSON; the keyed state copied per mac must give exactly that."""
    import hashlib
    import hmac

    from kvalreg.release.pseudonym import derive_key, master_secret

    log.append([PersonEntries("c@v1", ["x", "y"])])
    key = derive_key(master_secret(kvalreg_env.secrets), "release-log", "chain")
    for line in lines(log.path):
        entry = json.loads(line)
        mac = entry.pop("mac")
        body = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert mac == hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
