"""What git knows about the project: the author of data commits, the code's commit."""

from __future__ import annotations

from pathlib import Path


def git_author(root: Path) -> str:
    """``Name <email>`` from git's config for the project (one git call), or "" (the store
    then records the login name)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "config", "--get-regexp", r"^user\.(name|email)$"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = dict(line.partition(" ")[::2] for line in done.stdout.splitlines())
    name, email = found.get("user.name", "").strip(), found.get("user.email", "").strip()
    return f"{name} <{email}>" if name and email else name or email


def git_commit(root: Path) -> dict[str, str]:
    """The project's git commit, recorded in data commits for lineage (when there is one)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"git_commit": done.stdout.strip()} if done.returncode == 0 else {}
