"""Push verdicts to any SPARQL store, with credentials that never appear on a command line.

Each assessment graph goes in one HTTP PUT of the SPARQL 1.1 Graph Store Protocol
(``?graph=IRI``), which every conforming store accepts, so results live where the hospital's
knowledge graph lives; a PUT replaces that graph, so re-screening a patient is idempotent.

Credentials come from a file (``--credentials-file``: its first line, a bearer token, or
``user:password``) or else from the environment: ``QL1706KG_PUSH_TOKEN`` (a bearer token), or
``QL1706KG_PUSH_USER`` and ``QL1706KG_PUSH_PASSWORD`` (HTTP Basic). Never from the command
line: an endpoint URL with ``user:password@`` is refused (without echoing it). They are never
printed: a message shows the endpoint without its query string, and any text from the store
is shown with the secrets masked.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import Graph

from .dataset import assessment_graphs
from .serve import ServeError, SettingError

ENV_TOKEN = "QL1706KG_PUSH_TOKEN"
ENV_USER = "QL1706KG_PUSH_USER"
ENV_PASSWORD = "QL1706KG_PUSH_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """An ``Authorization`` header and the secrets to mask in any message."""

    kind: str
    header: str = field(repr=False)
    secrets: tuple[str, ...] = field(repr=False)

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret:
                text = text.replace(secret, "***")
        return text


def bearer(token: str) -> Credentials:
    return Credentials("bearer token", f"Bearer {token}", (token, f"Bearer {token}"))


def basic(user: str, password: str) -> Credentials:
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return Credentials("user and password", f"Basic {encoded}", (password, encoded))


def credentials_from(environ: Mapping[str, str] = os.environ, file: Path | None = None
                     ) -> Credentials | None:
    """The push credentials: the file's if given, else the environment's, else none."""
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").strip().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SettingError(f"cannot read the credentials file {file}: "
                               f"{getattr(exc, 'strerror', None) or type(exc).__name__}"
                               ) from None
        line = lines[0].strip() if lines else ""
        if not line:
            raise SettingError(f"the credentials file {file} is empty")
        user, colon, password = line.partition(":")
        return basic(user, password) if colon else bearer(line)
    token = environ.get(ENV_TOKEN, "")
    user, password = environ.get(ENV_USER, ""), environ.get(ENV_PASSWORD, "")
    if token and (user or password):
        raise SettingError(f"set either {ENV_TOKEN} or {ENV_USER} and {ENV_PASSWORD}, not both")
    if token:
        return bearer(token)
    if user or password:
        if not (user and password):
            raise SettingError(f"{ENV_USER} and {ENV_PASSWORD} go together")
        return basic(user, password)
    return None


def shown(endpoint: str) -> str:
    """The endpoint as messages show it: no user information, no query string."""
    parts = urllib.parse.urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_endpoint(endpoint: str) -> None:
    try:
        parts = urllib.parse.urlsplit(endpoint)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise SettingError("the endpoint is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingError("the endpoint must be an http(s) Graph Store URL, e.g. "
                           "http://host:7878/store")
    if parts.username is not None or parts.password is not None:
        raise SettingError(f"the endpoint URL must not carry a user name or password: put "
                           f"them in {ENV_USER} and {ENV_PASSWORD} or in --credentials-file")


def plain_http_beyond_loopback(endpoint: str) -> bool:
    """Whether credentials would cross the network unencrypted."""
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http":
        return False
    if parts.hostname == "localhost":
        return False
    try:
        return not ipaddress.ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return True


def push(verdicts: Graph, endpoint: str, credentials: Credentials | None = None,
         timeout: float = 30) -> list[str]:
    """PUT each assessment graph to a Graph Store Protocol endpoint; return the graph IRIs."""
    check_endpoint(endpoint)
    mask = credentials.mask if credentials else (lambda text: text)
    where = shown(endpoint)
    headers = {"Content-Type": "text/turtle"}
    if credentials:
        headers["Authorization"] = credentials.header
    pushed = []
    for name, graph in assessment_graphs(verdicts).items():
        body = graph.serialize(format="turtle").encode("utf-8")
        separator = "&" if "?" in endpoint else "?"
        url = f"{endpoint}{separator}graph={urllib.parse.quote(str(name), safe='')}"
        request = urllib.request.Request(url, data=body, method="PUT", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            said = " ".join(exc.read()[:200].decode(errors="replace").split())
            raise ServeError(mask(f"{where} refused graph {name}: HTTP {exc.code} {said}"
                                  ).strip()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ServeError(mask(f"cannot reach {where}: {getattr(exc, 'reason', exc)}")
                             ) from None
        pushed.append(str(name))
    return pushed
