"""SFTP upload with paramiko: pinned host keys, key authentication only, atomic and resumable.

Safety:
- Host keys are pinned from configuration (``[host]:port`` entries for a non-22 port) and
  unknown keys are refused (``RejectPolicy``) before authentication, so nothing is sent to
  an impostor. Only the configured client key is offered (``look_for_keys=False``,
  ``allow_agent=False``); connect, banner, auth and channel steps all have timeouts.
- A file is written as ``<name>.part`` and moved into place with ``posix_rename``; the caller
  uploads the manifest last, so a recipient who sees it knows the delivery is complete.
- An interrupted upload resumes: the ``.part`` is stat'ed, opened ``r+b`` and continued at its
  size from the same local bytes (OpenSSH's sftp-server applies writes in order, so the
  ``.part`` is always a prefix). After the rename the remote size is compared with the local.

Throughput: writes are pipelined with a bounded number of outstanding requests, each sized to
fit one SSH packet of the server's maximum (OpenSSH: 32 KiB) instead of paramiko's 32 KiB
payload that spills into a second packet; the channel window is raised and AES-GCM (no
separate MAC pass) is preferred. ``bench/sftp.py`` measures this against OpenSSH's ``sftp``.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import stat
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paramiko
from paramiko.sftp import CMD_STATUS, CMD_WRITE, int64

from kvalreg.delivery.config import Recipient

PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr")
WINDOW_BYTES = 64 * 1024 * 1024
SSH_PACKET_OVERHEAD = 64  # paramiko keeps this much of the peer's max packet for headers
SFTP_WRITE_OVERHEAD = 4 + 1 + 4 + 4 + 256 + 8 + 4  # length, type, id, handle (<=256), offset


class TransportError(RuntimeError):
    """A transfer failed. ``retryable`` says whether trying again may help (network trouble)."""

    retryable = True


class HostKeyRefused(TransportError):
    retryable = False


class LoginRefused(TransportError):
    retryable = False


class RemoteDirectoryError(TransportError):
    """The remote directory is missing or not writable: an operator must fix the server."""

    retryable = False


class RemoteWriteError(TransportError):
    """The server refused a write (disk full, quota, I/O error)."""


class RemoteConflict(TransportError):
    """A different file already holds a name we would write; never overwritten silently."""

    retryable = False


@dataclass(frozen=True)
class Tuning:
    """Knobs the benchmark varies; the defaults are what delivery uses."""

    window_bytes: int = WINDOW_BYTES
    outstanding: int = 64  # SFTP write requests in flight
    ciphers: tuple[str, ...] = PREFERRED_CIPHERS
    read_bytes: int = 4 * 1024 * 1024  # local read size


DEFAULT_TUNING = Tuning()


def host_keys_for(recipient: Recipient) -> paramiko.HostKeys:
    """The pinned keys as a paramiko ``HostKeys`` under the name paramiko will look up."""
    entry = recipient.host if recipient.port == 22 else f"[{recipient.host}]:{recipient.port}"
    keys = paramiko.HostKeys()
    for line in recipient.host_keys:
        kind, data = line.split()[:2]
        key = paramiko.PKey.from_type_string(kind, base64.b64decode(data))
        keys.add(entry, key.get_name(), key)
    return keys


def _transport_factory(tuning: Tuning) -> Callable[..., paramiko.Transport]:
    def make(sock: socket.socket, **kwargs: object) -> paramiko.Transport:
        t = paramiko.Transport(
            sock,
            default_window_size=tuning.window_bytes,
            **kwargs,  # type: ignore[arg-type]
        )
        opts = t.get_security_options()
        available = [c for c in tuning.ciphers if c in opts.ciphers]
        opts.ciphers = tuple(available + [c for c in opts.ciphers if c not in available])
        return t

    return make


class SftpSession:
    """One authenticated SFTP session to a recipient (a context manager)."""

    def __init__(self, recipient: Recipient, tuning: Tuning = DEFAULT_TUNING) -> None:
        self.recipient = recipient
        self.tuning = tuning
        self.client = paramiko.SSHClient()
        self.sftp: paramiko.SFTPClient | None = None

    def __enter__(self) -> SftpSession:
        r = self.recipient
        client = self.client
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        pinned = host_keys_for(r)
        for host, entries in pinned.items():
            for kind, key in entries.items():
                client.get_host_keys().add(host, kind, key)
        try:
            pkey = paramiko.PKey.from_path(r.client_key)
        except (OSError, paramiko.SSHException) as exc:
            raise LoginRefused(f"client key {r.client_key} cannot be read: {exc}") from None
        try:
            client.connect(
                r.host,
                port=r.port,
                username=r.user,
                pkey=pkey,
                look_for_keys=False,
                allow_agent=False,
                timeout=r.timeout_seconds,
                banner_timeout=r.timeout_seconds,
                auth_timeout=r.timeout_seconds,
                channel_timeout=r.timeout_seconds,
                transport_factory=_transport_factory(self.tuning),
            )
        except paramiko.BadHostKeyException:
            client.close()
            raise HostKeyRefused(
                f"{r.name}: the host key of {r.host}:{r.port} differs from the pinned key; "
                "nothing was sent"
            ) from None
        except paramiko.SSHException as exc:
            client.close()
            if "not found in known_hosts" in str(exc):
                raise HostKeyRefused(
                    f"{r.name}: {r.host}:{r.port} offered a host key that is not pinned; "
                    "nothing was sent"
                ) from None
            if isinstance(exc, paramiko.AuthenticationException):
                raise LoginRefused(f"{r.name}: login as {r.user!r} refused") from None
            raise TransportError(f"{r.name}: SSH connection failed: {exc}") from None
        except OSError as exc:
            client.close()
            raise TransportError(f"{r.name}: cannot connect to {r.host}:{r.port}: {exc}") from None
        self.sftp = client.open_sftp()
        self.sftp.get_channel().settimeout(r.timeout_seconds)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session; on a connection that already died, closing its channel raises
        (EOFError), which must not hide the error that ended the upload."""
        if self.sftp is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self.sftp.close()
            self.sftp = None
        self.client.close()

    def alive(self) -> bool:
        t = self.client.get_transport()
        chan = self.sftp.get_channel() if self.sftp is not None else None
        return bool(t and t.is_active() and chan is not None and not chan.closed)

    @property
    def transport(self) -> paramiko.Transport:
        t = self.client.get_transport()
        assert t is not None
        return t

    def _stat(self, path: str) -> paramiko.SFTPAttributes | None:
        assert self.sftp is not None
        try:
            return self.sftp.stat(path)
        except FileNotFoundError:
            return None

    def ensure_dir(self, base: str, sub: str) -> str:
        """``base/sub`` (created if missing); ``base`` itself must exist and be writable."""
        assert self.sftp is not None
        st = self._stat(base)
        if st is None or not stat.S_ISDIR(st.st_mode or 0):
            raise RemoteDirectoryError(f"{self.recipient.name}: remote directory {base} is missing")
        path = f"{base.rstrip('/')}/{sub}"
        if self._stat(path) is None:
            try:
                self.sftp.mkdir(path)
            except PermissionError:
                raise RemoteDirectoryError(
                    f"{self.recipient.name}: remote directory {base} is not writable"
                ) from None
        return path

    def listdir(self, path: str) -> list[str]:
        assert self.sftp is not None
        return self.sftp.listdir(path)

    def upload(
        self,
        local: Path,
        remote_dir: str,
        name: str,
        progress: Callable[[int], None] | None = None,
    ) -> str:
        """Put ``local`` at ``remote_dir/name`` atomically, resuming a ``.part`` if present.

        Returns ``"present"`` if the final file already had the right size (a completed
        upload of an earlier attempt), else ``"uploaded"`` or ``"resumed"``.
        """
        assert self.sftp is not None
        size = local.stat().st_size
        final = f"{remote_dir}/{name}"
        part = f"{final}.part"
        st = self._stat(final)
        if st is not None:
            if st.st_size == size:
                return "present"
            raise RemoteConflict(
                f"{self.recipient.name}: {final} exists with {st.st_size} bytes, expected {size}"
            )
        pst = self._stat(part)
        offset = pst.st_size or 0 if pst is not None else 0
        if offset > size:
            self.sftp.remove(part)
            offset = 0
        try:
            self._write(local, part, offset, size, progress)
        except PermissionError:
            raise RemoteDirectoryError(
                f"{self.recipient.name}: cannot write in {remote_dir} (permission denied)"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # The server answered with a failure status while the session is alive: a write
            # error on its side. A dead session: the connection dropped.
            if self.alive() and isinstance(exc, OSError):
                raise RemoteWriteError(
                    f"{self.recipient.name}: the server refused a write to {part}: {exc}"
                ) from None
            raise TransportError(
                f"{self.recipient.name}: upload of {name} interrupted: {exc or type(exc).__name__}"
            ) from None
        got = self._stat(part)
        if got is None or got.st_size != size:
            raise RemoteWriteError(
                f"{self.recipient.name}: {part} has {got and got.st_size} bytes after upload, "
                f"expected {size}"
            )
        self.sftp.posix_rename(part, final)
        got = self._stat(final)
        if got is None or got.st_size != size:
            raise RemoteWriteError(f"{self.recipient.name}: {final} size differs after rename")
        return "resumed" if offset else "uploaded"

    def _write(
        self,
        local: Path,
        remote: str,
        offset: int,
        size: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        """Pipelined SFTP writes of ``local[offset:]`` to ``remote``, at most
        ``tuning.outstanding`` in flight, each sized to fit a single SSH packet."""
        assert self.sftp is not None
        sftp = self.sftp
        chan = sftp.get_channel()
        request = max(4096, chan.out_max_packet_size - SSH_PACKET_OVERHEAD - SFTP_WRITE_OVERHEAD)
        fh = sftp.open(remote, "r+b" if offset else "wb")
        pending: deque[int] = deque()

        def settle(keep: int) -> None:
            while len(pending) > keep:
                t, _msg = sftp._read_response(pending.popleft())
                if t != CMD_STATUS:
                    raise paramiko.SFTPError("expected a status response to a write")

        try:
            pos = offset
            with open(local, "rb") as src:
                src.seek(offset)
                while pos < size:
                    block = memoryview(src.read(min(self.tuning.read_bytes, size - pos)))
                    if not block:
                        raise OSError(f"{local} shrank while being uploaded")
                    for i in range(0, len(block), request):
                        chunk = block[i : i + request]
                        pending.append(
                            sftp._async_request(type(None), CMD_WRITE, fh.handle, int64(pos), chunk)
                        )
                        pos += len(chunk)
                        if len(pending) >= self.tuning.outstanding:
                            settle(self.tuning.outstanding // 2)
                    if progress is not None:
                        progress(pos)
            settle(0)
        finally:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                fh.close()
