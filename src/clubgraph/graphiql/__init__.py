"""GraphiQL from the package itself: the page, its assets, and the workloads as its tabs.

The assets (GraphiQL, React, ReactDOM, the explorer plugin: production builds copied by
``scripts/vendor-graphiql.sh``, versions and licenses in ``THIRD_PARTY.md``) and the
page's own script and styles are served under ``/graphiql/assets/``, so that the page
loads nothing from any other host and its policy can be ``'self'`` alone. Their URLs
carry a digest of their content: a browser may keep them for a year.
"""

from __future__ import annotations

import gzip
import hashlib
import html
from dataclasses import dataclass, field
from importlib.resources import files
from string import Template

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import workloads

ASSETS_PATH = "/graphiql/assets"
# What the page's W3 tab shows, when the sandbox has them: a member billed by every source
# (the README's first query). Otherwise the page takes the first client it is shown.
FEATURED_MEMBER = "aria.dejong0@example.net"

# Served name: (file in this package, media type).
_FILES = {
    "react.production.min.js": "assets/react.production.min.js",
    "react-dom.production.min.js": "assets/react-dom.production.min.js",
    "graphiql.min.js": "assets/graphiql.min.js",
    "graphiql.min.css": "assets/graphiql.min.css",
    "graphiql-plugin-explorer.umd.js": "assets/graphiql-plugin-explorer.umd.js",
    "graphiql-plugin-explorer.css": "assets/graphiql-plugin-explorer.css",
    "page.js": "page.js",
    "page.css": "page.css",
}
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CACHE = "public, max-age=31536000, immutable"


@dataclass(slots=True)
class _Asset:
    body: bytes
    media: str
    digest: str = ""
    gzipped: bytes | None = None

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256(self.body).hexdigest()[:16]


@dataclass(slots=True)
class GraphiQLPage:
    """The page and its assets, read from the package once; ``routes`` serves the assets,
    ``render`` the page."""

    graphql_path: str = "/graphql"
    assets: dict[str, _Asset] = field(init=False)
    html: str = field(init=False)
    _page: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        here = files(__package__)
        self.assets = {
            name: _Asset((here / path).read_bytes(), _MEDIA[path[path.rindex(".") :]])
            for name, path in _FILES.items()
        }
        urls = {
            name.replace(".", "_").replace("-", "_"): f"{ASSETS_PATH}/{name}?v={asset.digest}"
            for name, asset in self.assets.items()
        }
        examples = {
            "graphqlPath": self.graphql_path,
            "featuredMember": FEATURED_MEMBER,
            "workloads": {name: workloads.load(name) for name in ("W1", "W2", "W3", "W4")},
        }
        # A data block is never run; "<" escaped, no text in it can close the element.
        data = orjson.dumps(examples).decode().replace("<", "\\u003c")
        page = Template((here / "index.html").read_text()).substitute(
            {k: html.escape(v) for k, v in urls.items()}, examples=data, nonce="\0"
        )
        self._page = tuple(page.split("\0"))
        self.html = self.render("")

    def render(self, nonce: str) -> str:
        """The page, with the style nonce (the request's, from the guard) for GraphiQL."""
        return html.escape(nonce).join(self._page)

    def routes(self) -> list[Route]:
        return [Route(ASSETS_PATH + "/{name}", self.asset, methods=["GET", "HEAD"])]

    async def asset(self, request: Request) -> Response:
        asset = self.assets.get(request.path_params["name"])
        if asset is None:
            return Response(status_code=404)
        etag = f'"{asset.digest}"'
        headers = {"cache-control": _CACHE, "etag": etag, "vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            if asset.gzipped is None:
                asset.gzipped = gzip.compress(asset.body, 6, mtime=0)
            body = asset.gzipped
            headers["content-encoding"] = "gzip"
        return Response(body, headers=headers, media_type=asset.media)


__all__ = ["ASSETS_PATH", "FEATURED_MEMBER", "GraphiQLPage"]
