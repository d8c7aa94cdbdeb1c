"""A real OpenSSH sshd for development and tests: 127.0.0.1, a free high port, its own config.

Nothing is mocked: this is ``/usr/sbin/sshd -D -e -f <config>`` with its own Ed25519 host key,
public-key authentication only, and the in-process ``internal-sftp`` server. It logs in one
unprivileged account (:data:`SFTP_USER`, created if missing; needs root) and gives every
recipient its own drop directory: each recipient's client key is authorised with
``restrict,command="internal-sftp -d <dir>"``, so a session starts in that recipient's
directory. Running the server as root with an unprivileged account keeps permission faults
(a directory that is not writable) real, which they would not be for root.

The tree lives under ``root`` (which the account must be able to traverse, so not under a
0700 pytest directory)::

    etc/sshd_config  etc/authorized_keys/<user>  hostkey/ssh_host_ed25519_key (0700 dir)
    drop/<recipient>/          one drop directory per recipient
    sshd.pid  sshd.log
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kvalreg.atomic import write_atomic, write_private

SSHD = Path("/usr/sbin/sshd")
SFTP_USER = "kvsftp"
PRIVSEP_DIR = Path("/run/sshd")


class SshdError(RuntimeError):
    """The development sshd could not be set up or started."""


def require_sshd() -> Path:
    if not SSHD.is_file():
        raise SshdError(
            f"{SSHD} is missing: install the Debian package openssh-server "
            "(`make sshd` does it; tests need it)"
        )
    return SSHD


def ensure_account(user: str = SFTP_USER) -> pwd.struct_passwd:
    """The unprivileged SFTP account, created (no password, no login shell) if missing."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise SshdError(f"account {user!r} is missing and only root can create it")
    # "*" (not "!") as the password: no password login, but not a locked account, which
    # sshd without PAM would refuse even for key authentication.
    subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            "--password",
            "*",
            user,
        ],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(user)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            out.append(k)
            todo.append(k)
    return out


@dataclass
class DevSshd:
    root: Path
    port: int
    host_key_line: str  # "ssh-ed25519 AAAA..." of the server's host key
    drops: dict[str, Path]  # recipient -> drop directory
    user: str = SFTP_USER
    process: subprocess.Popen | None = field(default=None, repr=False)

    host: str = "127.0.0.1"

    @property
    def config(self) -> Path:
        return self.root / "etc" / "sshd_config"

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"

    def known_hosts_line(self) -> str:
        """The pinned entry as OpenSSH's clients want it (``[host]:port`` for a non-22 port)."""
        return f"[{self.host}]:{self.port} {self.host_key_line}"

    def start(self, timeout: float = 10.0) -> DevSshd:
        if self.process is not None and self.process.poll() is None:
            return self
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        log = open(self.log, "ab")  # noqa: SIM115 - handed to the child, closed below
        try:
            self.process = subprocess.Popen(
                [str(require_sshd()), "-D", "-e", "-f", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdError(f"sshd exited with {self.process.returncode}; see {self.log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5) as s:
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SshdError(f"sshd did not answer on port {self.port} within {timeout:.0f} s")

    def kill_sessions(self) -> int:
        """Kill every per-connection sshd process (a server crash as a client sees it)."""
        if self.process is None:
            return 0
        kids = _children(self.process.pid)
        for k in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(k, signal.SIGKILL)
        return len(kids)

    def stop(self) -> None:
        if self.process is None:
            return
        kids = _children(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for k in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(k, signal.SIGKILL)
        self.process = None

    def __enter__(self) -> DevSshd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _host_key(path: Path) -> str:
    if not path.exists():
        key = ed25519.Ed25519PrivateKey.generate()
        write_private(
            path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.OpenSSH,
                serialization.NoEncryption(),
            ),
        )
    key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
    pub = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return pub.decode()


def prepare_sshd(
    root: Path, clients: dict[str, Path], port: int | None = None, user: str = SFTP_USER
) -> DevSshd:
    """Write the server tree for ``clients`` (recipient -> client public key file); not started.

    Re-preparing an existing tree keeps its host key (so pinned entries stay valid) and the
    files already in the drop directories.
    """
    require_sshd()
    account = ensure_account(user)
    root = root.resolve()
    for d in (root, root / "etc", root / "etc" / "authorized_keys", root / "drop"):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
    for parent in root.parents:
        if not os.stat(parent).st_mode & 0o001:
            raise SshdError(f"{parent} is not traversable by {user}; put the server elsewhere")
    host_line = _host_key(root / "hostkey" / "ssh_host_ed25519_key")
    drops: dict[str, Path] = {}
    lines = []
    for name, pub in sorted(clients.items()):
        drop = root / "drop" / name
        drop.mkdir(exist_ok=True)
        os.chown(drop, account.pw_uid, account.pw_gid)
        os.chmod(drop, 0o750)
        drops[name] = drop
        key = " ".join(pub.read_text().split()[:2])
        lines.append(f'restrict,command="internal-sftp -d {drop}" {key} {name}\n')
    write_atomic(root / "etc" / "authorized_keys" / user, "".join(lines).encode(), mode=0o644)
    port = port or free_port()
    config = f"""\
# kvalreg development sshd (kvalreg.delivery.devsshd); not for production use
Port {port}
ListenAddress 127.0.0.1
HostKey {root}/hostkey/ssh_host_ed25519_key
PidFile {root}/sshd.pid
AuthorizedKeysFile {root}/etc/authorized_keys/%u
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
MaxAuthTries 3
LoginGraceTime 20
ClientAliveInterval 10
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""
    write_atomic(root / "etc" / "sshd_config", config.encode(), mode=0o644)
    return DevSshd(root=root, port=port, host_key_line=host_line, drops=drops, user=user)


def remove_tree(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
