"""Secrets in Redis URLs: the one place that hides a password and puts it back.

A Redis URL may carry a password (``redis://:secret@host/0``,
``redis://user:secret@host``, ``rediss://...``, or ``?password=secret``).
League never writes or prints one: ``run.json``, error messages and status
output hold :func:`redact_url`'s form, with the password replaced by
:data:`REDACTED`. A command that reconnects to a run's Redis later (``league
run --resume``, ``league status``, ...) takes the password back from
``--redis-url`` (the same flag), or from the environment: ``LEAGUE_REDIS_URL``
(the full URL) or ``REDIS_PASSWORD`` (:func:`resolve_redis_url`).

Example:
    >>> redact_url("redis://:secret@127.0.0.1:6379/0")
    'redis://:***@127.0.0.1:6379/0'
    >>> redact_url("rediss://user:secret@host/1?password=secret")
    'rediss://user:***@host/1?password=***'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import overload
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from league.errors import UsageError

#: What a password is replaced with.
REDACTED = "***"
#: Environment variable holding a run's full Redis URL (with its password).
URL_ENV = "LEAGUE_REDIS_URL"
#: Environment variable holding the password of a run's Redis.
PASSWORD_ENV = "REDIS_PASSWORD"
#: Where a password can come from, for error messages.
PASSWORD_SOURCES = f"pass --redis-url with the password or set {URL_ENV} (the full URL) or {PASSWORD_ENV}"


def _split(url: str) -> tuple[str, str, str, str, str, list[tuple[str, str]], str | None]:
    """(scheme, userinfo-less host, path, fragment, user, query pairs, password) of ``url``."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    query = parse_qsl(parts.query, keep_blank_values=True)
    secret: str | None = unquote(password) if colon else None
    for key, value in query:
        if key == "password":
            secret = value
    return parts.scheme, host if at else parts.netloc, parts.path, parts.fragment, user, query, secret


def _join(scheme: str, host: str, path: str, fragment: str, user: str, query: list[tuple[str, str]],
          password: str | None) -> str:
    userinfo = user if password is None else f"{user}:{password}"
    netloc = f"{userinfo}@{host}" if userinfo else host
    encoded = urlencode(query, safe="*")
    # Built by hand, not urlunsplit: that drops the "//" of a unix:///path URL.
    return (f"{scheme}://{netloc}{path}" + (f"?{encoded}" if encoded else "")
            + (f"#{fragment}" if fragment else ""))


@overload
def redact_url(url: str) -> str: ...
@overload
def redact_url(url: None) -> None: ...
def redact_url(url: str | None) -> str | None:
    """``url`` with its password (in the user part or a ``password`` query parameter) replaced by ``***``.

    A URL without a password, and None, come back unchanged.
    """
    if url is None or password_of(url) is None:
        return url
    scheme, host, path, fragment, user, query, _password = _split(url)
    in_userinfo = urlsplit(url).netloc.rpartition("@")[0].find(":") >= 0
    query = [(k, REDACTED if k == "password" else v) for k, v in query]
    return _join(scheme, host, path, fragment, user, query, REDACTED if in_userinfo else None)


def redact_text(text: str, url: str | None) -> str:
    """``text`` (an error message, say) with ``url``'s password and the URL itself redacted."""
    if url is None:
        return text
    password = password_of(url)
    text = text.replace(url, redact_url(url))
    if password and password != REDACTED:
        for form in {password, quote(password, safe="")}:
            text = text.replace(form, REDACTED)
    return text


def password_of(url: str) -> str | None:
    """The password ``url`` carries, or None."""
    return _split(url)[6]


def is_redacted(url: str | None) -> bool:
    """Whether ``url`` is a redacted URL (its password was replaced by :data:`REDACTED`)."""
    return url is not None and password_of(url) == REDACTED


def without_password(url: str) -> str:
    """``url`` with no password at all (the user part and other query parameters kept)."""
    scheme, host, path, fragment, user, query, _ = _split(url)
    return _join(scheme, host, path, fragment, user, [(k, v) for k, v in query if k != "password"], None)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in its user part (any password it had is dropped)."""
    scheme, host, path, fragment, user, query, _ = _split(without_password(url))
    return _join(scheme, host, path, fragment, user, query, quote(password, safe=""))


def resolve_redis_url(stored: str | None, given: str | None = None,
                      environ: Mapping[str, str] | None = None) -> str | None:
    """The URL to reach a run's Redis, from ``run.json``'s (redacted) URL and the password the user gives.

    The password comes from, in this order: ``given`` (``--redis-url``; it must
    name the same server as ``stored``), ``LEAGUE_REDIS_URL`` (used when it
    names the same server), ``REDIS_PASSWORD`` (used only when ``stored`` had
    a password). Without one, a redacted ``stored`` comes back without its
    password: a server that needs one then refuses with an error naming
    these three (:func:`league.ledger.redis_ledger.connect`).

    Args:
        stored: ``run.json``'s URL (None: the run uses the embedded Redis).
        given: ``--redis-url``, if given.
        environ: The environment (default ``os.environ``).

    Raises:
        UsageError: if ``given`` names another server than the run's, or the run uses the embedded Redis.

    Example:
        >>> resolve_redis_url("redis://:***@host:6379/0", environ={"REDIS_PASSWORD": "pw"})
        'redis://:pw@host:6379/0'
    """
    environ = os.environ if environ is None else environ
    if stored is None:
        if given is not None:
            raise UsageError(f"--redis-url {redact_url(given)!r}: this run keeps its ledger in the embedded "
                             "Redis of its run folder; drop --redis-url")
        return None
    if given is not None:
        if without_password(given) != without_password(stored):
            raise UsageError(f"--redis-url {redact_url(given)!r} is not this run's Redis "
                             f"{redact_url(stored)!r}; give the run's URL (with its password)")
        if password_of(given) is not None:
            return given
    from_env = environ.get(URL_ENV)
    if from_env and password_of(from_env) is not None \
            and without_password(from_env) == without_password(stored):  # another server's URL is not this run's
        return from_env
    if password_of(stored) is not None:
        password = environ.get(PASSWORD_ENV)
        if password:
            return with_password(stored, password)
        return without_password(stored) if is_redacted(stored) else stored
    return stored


def is_node_local_url(url: str) -> bool:
    """Whether a Redis URL reaches only this machine (a unix socket, localhost or a loopback address)."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return True
    host = (parsed.hostname or "").lower()
    return host in ("localhost", "") or host.startswith("127.") or host == "::1"
