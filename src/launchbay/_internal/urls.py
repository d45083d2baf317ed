"""The API URL a run is given, and rewriting its host for where the run lives
(a container's ``host.docker.internal``, a cluster's DNS name)."""

from __future__ import annotations

import re

API_URL_ENV = "LAUNCHBAY_API_URL"
LOCAL_HOSTS = ("localhost", "127.0.0.1")


def url_host(url: str) -> str | None:
    """The URL's host, lower-cased; None when the URL does not parse or has none."""
    from urllib.parse import urlsplit  # here: the CLI's fast path never asks

    try:
        return urlsplit(url).hostname  # already lower-cased by urllib
    except ValueError:
        return None


def is_local(url: str | None) -> bool:
    """Whether the URL points at this machine's loopback (``LOCALHOST`` too)."""
    return bool(url) and url_host(url or "") in LOCAL_HOSTS


def replace_host(url: str, new_host: str) -> str:
    """``url`` with its host (only: never a user, password, port or path)
    replaced by ``new_host``, whatever the case it was written in."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    userinfo, at, hostport = parts.netloc.rpartition("@")
    index = hostport.lower().find(host)
    if not host or index < 0:
        return url
    hostport = hostport[:index] + new_host + hostport[index + len(host) :]
    return parts._replace(netloc=f"{userinfo}{at}{hostport}").geturl()


def local_url_rewritten(url: str | None, new_host: str) -> str | None:
    """The URL with a loopback host replaced by ``new_host``; None when it does
    not point at loopback (or does not parse): nothing to rewrite."""
    if not url or not is_local(url):
        return None
    return replace_host(url, new_host)


# Credentials in URLs, masked for display: the password of ``user:password@``
# and password-like query parameters (libpq takes ``?password=``).
REDACTED = "***"
_USERINFO_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:]*:)([^\s/?#]*)(@)")
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|passwd|pwd|secret|token|access_token)=)([^&#\s]*)")


def redact_url(url: str) -> str:
    """``url`` with any password masked (``postgresql://u:***@h/db``), for
    messages, previews and logs; anything else is kept as written."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """``text`` with the password of every URL in it masked."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO_PASSWORD.sub(lambda m: f"{m[1]}{REDACTED if m[2] else ''}{m[3]}", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m[1]}{REDACTED if m[2] else ''}", text)
