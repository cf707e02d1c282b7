"""Online store identities as state keys: the same store keeps its key when the repo folder moves."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


def repo_relative(identity: str, repo: Path) -> str:
    """``identity`` with a file path inside ``repo`` written relative to it (``sqlite:data/online.db``).

    Identities are ``<scheme>:<rest>``; when ``rest`` is an absolute path inside the repo folder it is made
    relative, so moving the repo keeps the key. Any other identity is returned as is.

    >>> repo_relative("sqlite:/srv/repo/data/online.db", Path("/srv/repo"))
    'sqlite:data/online.db'
    >>> repo_relative("redis://127.0.0.1:6379/0", Path("/srv/repo"))
    'redis://127.0.0.1:6379/0'
    """
    scheme, sep, rest = identity.partition(":")
    if not sep or not rest.startswith("/") or rest.startswith("//"):
        return identity
    path, root = PurePosixPath(rest), PurePosixPath(Path(repo).resolve().as_posix())
    if not path.is_relative_to(root):
        return identity
    return f"{scheme}:{path.relative_to(root).as_posix()}"
