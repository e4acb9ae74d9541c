"""Files only this user may read: the stack's generated keys, passwords and demo credentials.

Written through a temporary file created 0600 and renamed into place, in a folder created 0700, so
there is no moment in which another local user could read one, and a crash never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    """Writes `text` to `path`, readable and writable by this user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    temp.replace(path)


def read_private(path: Path) -> str:
    """Reads a private file, first taking back any access a copy or an older run left to others."""
    path.chmod(0o600)
    return path.read_text()
