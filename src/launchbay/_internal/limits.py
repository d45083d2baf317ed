"""The open-file limit, raised only when asked (the CLI asks; library callers
call ``launchbay.raise_open_file_limit()``): each concurrent run holds a pidfd,
and pipes when its output is relayed, so a thousand runs need more than the
usual soft limit of 1024."""

from __future__ import annotations


def raise_open_file_limit(target: int | None = None) -> int:
    """Raise this process's soft RLIMIT_NOFILE to ``target`` (default: the hard
    limit) and return the soft limit now in effect. Never lowers it."""
    try:
        import resource
    except ImportError:  # Windows
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if target is None else target
    if hard != resource.RLIM_INFINITY:
        wanted = min(wanted, hard)
    if soft == resource.RLIM_INFINITY or (wanted != resource.RLIM_INFINITY and wanted <= soft):
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError):
        return soft
    return wanted


def open_file_limit() -> int | None:
    """This process's soft RLIMIT_NOFILE now (None where there is none)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
