"""``releases/requests/``: where approved requests are dropped, and what the sensor sees there.

A request file is picked up when it is a visible ``.yaml``/``.yml`` file that has been quiet
for the settle time (as in ``landing/``). Its release id (``<request>@v<version>``) and the
SHA-256 of its bytes identify the run: the same bytes are built once, a corrected file under
the same version is refused by the build, a new version is a new release.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from kvalreg.atomic import write_atomic
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.request import RequestError, load_request, request_identity

SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RequestFile:
    path: Path
    release_id: str
    sha256: str


@dataclass(frozen=True)
class Unreadable:
    path: Path
    reason: str


def scan_requests(
    layout: Layout, settle_seconds: float, now: float | None = None
) -> tuple[list[RequestFile], list[Unreadable]]:
    """Settled request files (sorted by name) and those whose id/version cannot be read."""
    folder = layout.release_requests
    if not folder.is_dir():
        return [], []
    now = time.time() if now is None else now
    found: list[RequestFile] = []
    bad: list[Unreadable] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.suffix not in SUFFIXES or not path.is_file():
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue
        try:
            request_id, version = request_identity(path)
        except RequestError as exc:
            bad.append(Unreadable(path, "; ".join(exc.problems)))
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        found.append(RequestFile(path, f"{request_id}@v{version}", digest))
    return found, bad


def find_request(layout: Layout, release_id: str) -> Path:
    """The request file for a release id (for a run started without the sensor's tag)."""
    for request in scan_requests(layout, settle_seconds=0.0)[0]:
        if request.release_id == release_id:
            return request.path
    raise FileNotFoundError(f"no request for release {release_id} in {layout.release_requests}")


def submit(path: Path, layout: Layout, registries: dict[str, Registry]) -> Path:
    """Check a request against the codebook and copy it atomically into ``requests/``."""
    request = load_request(path, registries)
    target = layout.release_requests / f"{request.release_id}.yaml"
    # 0644 as the umask used to give it: a request holds no personal data.
    write_atomic(target, path.read_bytes(), mode=0o644)
    return target
