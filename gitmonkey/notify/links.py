"""Links from messages to commits on the account repository's GitHub or GitLab web UI."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from gitmonkey.gitcmd import git_process

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def repository_url(remote_url: str | None) -> str | None:
    """``https://github.com/o/r`` for a GitHub or GitLab remote URL, or None for any other remote.

    Accepts ``git@host:o/r.git``, ``ssh://git@host[:port]/o/r.git`` and ``https://[user@]host/o/r``;
    credentials in the URL are never carried into the link.
    """
    if not remote_url:
        return None
    remote_url = remote_url.strip()
    if "://" in remote_url:
        parts = urlsplit(remote_url)
        if parts.scheme not in ("https", "http", "ssh", "git", "git+ssh", "ssh+git"):
            return None
        host, path = parts.hostname or "", parts.path
    else:
        match = _SCP_LIKE.match(remote_url)
        if not match:
            return None
        host, path = match["host"], match["path"]
    path = path.strip("/")
    path = path.removesuffix(".git")
    if not host or path.count("/") < 1 or ".." in path.split("/"):
        return None
    if not re.fullmatch(r"[A-Za-z0-9._~/-]+", path) or not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        return None
    host = host.lower()
    if "github" in host or "gitlab" in host:
        return f"https://{host}/{path}"
    return None


def web_base(remote_url: str | None) -> str | None:
    """``https://github.com/o/r/commit/`` style prefix for a remote URL, or None if not GitHub/GitLab."""
    repository = repository_url(remote_url)
    if repository is None:
        return None
    return f"{repository}/-/commit/" if _is_gitlab(repository) else f"{repository}/commit/"


def file_url(repository: str | None, branch: str, path: str) -> str | None:
    """A file of the branch on the repository's web UI (``repository`` from ``repository_url``)."""
    if not repository:
        return None
    blob = "-/blob" if _is_gitlab(repository) else "blob"
    return f"{repository}/{blob}/{branch}/{path}"


def _is_gitlab(repository: str) -> bool:
    return "gitlab" in (urlsplit(repository).hostname or "")


def repo_web_base(repo_path: Path | None, fallback_remote: str | None = None) -> str | None:
    """The commit link prefix of ``origin`` in ``repo_path`` (or of ``fallback_remote``)."""
    remote = None
    if repo_path is not None and (repo_path / ".git").exists():
        proc = git_process(repo_path, "remote", "get-url", "origin")
        if proc.returncode == 0:
            remote = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return web_base(remote or fallback_remote)


def commit_url(base: str | None, sha: str | None) -> str | None:
    if not base or not sha or not re.fullmatch(r"[0-9a-f]{7,64}", sha):
        return None
    return base + sha
