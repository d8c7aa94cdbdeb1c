"""A built release delivered to a real sshd: package to the researcher, key file to the
trusted third party, exactly once; then locked against rebuilds and visible to innsyn."""

from __future__ import annotations

import polars as pl
import pytest
from delivery.conftest import pki, server, server_root  # noqa: F401 - fixtures

from kvalreg.cli import main
from kvalreg.delivery.config import DeliveryConfig, load_config
from kvalreg.delivery.devenv import dev_config, write_config
from kvalreg.delivery.devpki import DevPki
from kvalreg.delivery.devsshd import DevSshd
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.build import build_release, is_delivered
from kvalreg.release.deliver import TRUSTED_THIRD_PARTY, deliver_release
from kvalreg.release.log import ReleaseLog
from kvalreg.release.request import ReleaseRefused, load_request
from release.support import DEMO_REQUEST


@pytest.fixture
def delivery_config(
    release_env: Layout,
    pki: DevPki,  # noqa: F811 - the delivery fixture of that name
    server: DevSshd,  # noqa: F811
) -> DeliveryConfig:
    write_config(dev_config(pki, server, release_env.delivery_config, timeout=5.0))
    return load_config(release_env.delivery_config)


def test_release_delivered_once_locked_and_answered_by_innsyn(
    release_env: Layout,
    hoftebrudd: dict[str, Registry],
    delivery_config: DeliveryConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = build_release(DEMO_REQUEST, release_env, hoftebrudd, triggered_by="test")
    request = load_request(DEMO_REQUEST, hoftebrudd)
    assert request.delivery_recipient == "forsker_demo"

    first = deliver_release(release_env, delivery_config, request)
    assert [(r.action, r.record.recipient) for r in first.results] == [
        ("delivered", "forsker_demo"),
        ("delivered", TRUSTED_THIRD_PARTY),
    ]
    package, keys = (r.record for r in first.results)
    assert [f["name"] for f in package.files] == [built.archive.name]
    assert all("linkage" in f["name"] for f in keys.files)
    assert first.logged == 2 and is_delivered(release_env, built.release_id)

    again = deliver_release(release_env, delivery_config, request)
    assert [r.action for r in again.results] == ["already_delivered"] * 2
    assert again.logged == 0
    with pytest.raises(ReleaseRefused, match="never overwritten"):
        build_release(DEMO_REQUEST, release_env, hoftebrudd)

    log = ReleaseLog(release_env.release_log, release_env.secrets)
    assert log.verify().ok
    assert [e["recipient"] for e in log.entries() if e["kind"] == "delivery"] == [
        "forsker_demo",
        TRUSTED_THIRD_PARTY,
    ]
    assert built.linkage_archive is not None
    key_csv = built.linkage_archive.parent / f"{built.release_id}-linkage" / "keyfile.csv"
    person = pl.read_csv(key_csv, infer_schema=False)["fnr"][0]
    assert main(["innsyn", person]) == 0
    out = capsys.readouterr().out
    assert person not in out and out.count("delivered on") == 2
