"""The key that signs session cookies: AUTOFIX_SESSION_SECRET, or one generated once into the data
directory (mode 0600) so sessions survive restarts without anyone having to invent a secret."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from app.settings import Settings

FILE_NAME = "session.secret"


def load_session_secret(settings: Settings) -> str:
    if settings.autofix_session_secret is not None:
        return settings.autofix_session_secret.get_secret_value()
    path = Path(settings.autofix_data_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # written whole under another name, then linked: a reader never sees half
        tmp = path.with_name(f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    text = path.read_text().strip()
    if len(text) < 32:
        raise ValueError(f"{path} holds no usable session secret; delete it to generate one")
    return text
