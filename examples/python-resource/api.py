"""A tiny API protected by Gatehouse, on the standard library's http.server.

  GET  <path of API_RESOURCE>/meetings   needs the scope meeting:read   → 200 {"subject", "client_id", "scopes"}
  POST <path of API_RESOURCE>/meetings   needs the scope meeting:write  → 201
  GET  /.well-known/oauth-protected-resource<path of API_RESOURCE>       RFC 9728 metadata

Configuration (environment):
  GATEHOUSE_ISSUER          the issuer, exactly as in its tokens (https://login.example.com)
  API_RESOURCE              this API's resource identifier, the aud of its tokens (https://api.example.com/v1)
  API_INTROSPECTION_CLIENT_ID, API_INTROSPECTION_CLIENT_SECRET
                            a client created with `gatehouse clients add --name "Meetings API"
                            --grant client_credentials --resource-server` (opaque tokens and API keys)
  API_ALGORITHMS            the JWT algorithms to accept, space-separated (default ES256: Gatehouse's
                            GATEHOUSE_ACCESS_TOKEN_ALG)
  API_REALM                 realm in WWW-Authenticate (optional)
  API_HOST, API_PORT        where to listen (default 127.0.0.1:8000)
"""

import json
import os
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gatehouse_check import BearerError, TokenChecker, require_scopes

ISSUER = os.environ["GATEHOUSE_ISSUER"]
RESOURCE = os.environ["API_RESOURCE"]
REALM = os.environ.get("API_REALM") or None

_resource = urllib.parse.urlsplit(RESOURCE)
BASE_PATH = _resource.path.rstrip("/")
# RFC 9728 §3.1: the well-known part goes between the host and the resource's path.
METADATA_PATH = "/.well-known/oauth-protected-resource" + BASE_PATH
METADATA_URL = f"{_resource.scheme}://{_resource.netloc}{METADATA_PATH}"

checker = TokenChecker(
    issuer=ISSUER,
    audience=RESOURCE,
    introspection_client_id=os.environ.get("API_INTROSPECTION_CLIENT_ID"),
    introspection_client_secret=os.environ.get("API_INTROSPECTION_CLIENT_SECRET"),
    algorithms=os.environ.get("API_ALGORITHMS", "ES256").split(),
)

# Each route and the scope it needs.
ROUTES = {("GET", BASE_PATH + "/meetings"): "meeting:read", ("POST", BASE_PATH + "/meetings"): "meeting:write"}


class Handler(BaseHTTPRequestHandler):
    # http.server's default HTTP/1.0: one request per connection, so a request body left unread does no harm.

    def do_GET(self):
        if self.path.split("?")[0] == METADATA_PATH:
            self._send(
                200,
                {
                    "resource": RESOURCE,
                    "authorization_servers": [ISSUER],
                    "scopes_supported": sorted(set(ROUTES.values())),
                    "bearer_methods_supported": ["header"],
                },
                {"Cache-Control": "public, max-age=300"},
            )
            return
        self._protected("GET")

    def do_POST(self):
        self._protected("POST")

    def _protected(self, method):
        scope = ROUTES.get((method, self.path.split("?")[0]))
        if scope is None:
            self._send(404, {"error": "not_found"})
            return
        try:
            token = checker.check_request(self.headers.get_all("Authorization") or [])
            require_scopes(token, scope)
        except BearerError as error:
            self._send(error.status, error.body(), error.headers(realm=REALM, resource_metadata=METADATA_URL))
            return
        self._send(
            201 if method == "POST" else 200,
            {"subject": token.subject, "client_id": token.client_id, "scopes": sorted(token.scopes)},
        )

    def _send(self, status, body, headers=None):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_request(self, code="-", size="-"):
        # Method, path and status: no query string, no headers, so no token reaches the log.
        status = int(code) if isinstance(code, int) else code
        sys.stderr.write(f"{self.command} {self.path.split('?')[0]} {status}\n")


def main():
    host = os.environ.get("API_HOST", "127.0.0.1")
    port = int(os.environ.get("API_PORT", "8000"))
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"listening on http://{host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
