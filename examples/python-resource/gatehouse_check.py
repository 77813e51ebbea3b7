"""Check Gatehouse access tokens in a Python API (docs/any-language.md, in code).

JWT access tokens (RFC 9068) are verified offline with PyJWT against the keys of the issuer's jwks_uri; opaque
tokens (``gha_``) and API keys (``ghk_``) are sent to the introspection endpoint (RFC 7662) with this API's
resource-server client. Either way the same checks follow: issuer, audience, expiry, scope. Every refusal is a
BearerError that knows its RFC 6750 answer; a token that could not be checked at all (Gatehouse unreachable) is
a 503, never a 401, because a client throws away a token refused with invalid_token.

Needs PyJWT 2.x and cryptography (Debian: python3-jwt, python3-cryptography); everything else is the standard
library. PyJWT's PyJWKClient is not used: in PyJWT 2.6 (Debian 12) it fetches without a timeout and refetches
the key set for every token with an unknown kid, which lets anyone make the API hammer the issuer.
"""

import base64
import hashlib
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass

import jwt

__all__ = ["BearerError", "Token", "TokenChecker", "require_scopes"]

# RFC 6750 §2.1: b64token. The scheme is case-insensitive.
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
# Gatehouse's opaque tokens: prefix, body, and 6 characters of CRC32 (see _well_formed_opaque).
_OPAQUE_BODY_LENGTH = {"gha_": 9 + 43, "ghk_": 43}

RETRY_AFTER_SECONDS = 5


class BearerError(Exception):
    """How a protected resource says no (RFC 6750 §3). ``code`` None: no credentials at all, a bare challenge."""

    STATUS = {
        "invalid_request": 400,
        "invalid_token": 401,
        "insufficient_scope": 403,
        # Not RFC 6750's: the token could not be checked (RFC 6749 §4.1.2.1's code, with Retry-After).
        "temporarily_unavailable": 503,
    }

    def __init__(self, code=None, description=None, scope=None):
        super().__init__(description or code or "authentication required")
        self.code = code
        self.description = description
        self.scope = scope
        self.status = self.STATUS[code] if code else 401

    @classmethod
    def unavailable(cls, cause):
        error = cls("temporarily_unavailable", "The access token could not be checked right now")
        error.__cause__ = cause
        return error

    def headers(self, realm=None, resource_metadata=None):
        if self.code == "temporarily_unavailable":
            return {"Retry-After": str(RETRY_AFTER_SECONDS)}
        params = []
        if realm:
            params.append(f"realm={_quoted(realm)}")
        if self.code:
            params.append(f"error={_quoted(self.code)}")
        if self.description:
            params.append(f"error_description={_quoted(self.description)}")
        if self.scope:
            params.append(f"scope={_quoted(self.scope)}")
        # RFC 9728 §5.1: where a client (an MCP client, say) finds out which authorization server to ask.
        if resource_metadata:
            params.append(f"resource_metadata={_quoted(resource_metadata)}")
        return {"WWW-Authenticate": "Bearer " + ", ".join(params) if params else "Bearer"}

    def body(self):
        body = {}
        if self.code:
            body["error"] = self.code
        if self.description:
            body["error_description"] = self.description
        return body


def _quoted(value):
    # RFC 9110 quoted-string: escape backslash and double quote, drop control characters.
    kept = "".join(c for c in value if ord(c) >= 0x20 and ord(c) != 0x7F)
    return '"' + kept.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Token:
    """Who a checked token speaks for."""

    subject: str
    client_id: str
    scopes: frozenset
    audience: tuple
    expires_at: int | None  # epoch seconds; None for an API key without an end
    format: str  # "jwt" or "opaque"
    claims: dict


def require_scopes(token, *scopes):
    """403 insufficient_scope unless the token carries every scope named."""
    missing = [scope for scope in scopes if scope not in token.scopes]
    if missing:
        raise BearerError("insufficient_scope", "The token lacks the scope " + " ".join(missing), " ".join(scopes))


def bearer_token(authorization):
    """The token of an ``Authorization: Bearer`` header (a list: every such header the request had)."""
    if not authorization:
        raise BearerError()
    if len(authorization) > 1:
        raise BearerError("invalid_request", "Send one Authorization header")
    match = _BEARER.match(authorization[0])
    if match:
        return match.group(1)
    if re.match(r"^Bearer\b", authorization[0], re.IGNORECASE):
        raise BearerError("invalid_request", "The Authorization header is malformed")
    raise BearerError()  # another scheme: tell the client which one we take


def _well_formed_opaque(token, prefix):
    # The last 6 characters are base64url (no padding) of the big-endian CRC-32 of everything before them: a
    # mistyped or truncated token is refused without a call to Gatehouse.
    if len(token) != len(prefix) + _OPAQUE_BODY_LENGTH[prefix] + 6:
        return False
    body, tail = token[:-6], token[-6:]
    crc = zlib.crc32(body.encode("ascii")).to_bytes(4, "big")
    return base64.urlsafe_b64encode(crc).rstrip(b"=").decode("ascii") == tail


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would carry the client credentials and the token somewhere the configuration did not name.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, "redirects are not followed", headers, fp)


class TokenChecker:
    """Checks tokens for one API (one resource identifier, the ``aud`` Gatehouse puts in its tokens)."""

    def __init__(
        self,
        issuer,
        audience,
        introspection_client_id=None,
        introspection_client_secret=None,
        algorithms=("ES256",),
        leeway=5,
        introspection_cache_seconds=30,
        timeout=5,
    ):
        self.issuer = issuer
        self.audiences = [audience] if isinstance(audience, str) else list(audience)
        # The allow-list: a token's own alg header never chooses how it is checked (alg "none", or HS256 keyed
        # with a public key, are refused here). Gatehouse signs access tokens with GATEHOUSE_ACCESS_TOKEN_ALG.
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.timeout = timeout
        self._credentials = None
        if introspection_client_id:
            # RFC 6749 §2.3.1: form-encode id and secret before Basic.
            pair = f"{urllib.parse.quote(introspection_client_id, safe='')}:" + urllib.parse.quote(
                introspection_client_secret or "", safe=""
            )
            self._credentials = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        self._http = urllib.request.build_opener(_NoRedirects)
        self._lock = threading.Lock()
        self._metadata = None
        self._keys = {}  # kid -> (alg, key)
        self._keys_fetched_at = float("-inf")
        self._next_fetch_attempt = float("-inf")
        self._cache_seconds = introspection_cache_seconds
        self._introspected = {}  # SHA-256 of the token -> (answer, keep until); never the token itself

    # --- the one entry point ---------------------------------------------------------------------------------

    def check_request(self, authorization):
        """Checks the request's token (``authorization``: the list of its Authorization headers)."""
        return self.check(bearer_token(authorization))

    def check(self, token):
        if token.startswith(("gha_", "ghk_")):
            if not _well_formed_opaque(token, token[:4]):
                raise BearerError("invalid_token", "The access token is malformed")
            return self._check_introspected(token)
        if not _JWT_SHAPE.match(token):
            raise BearerError("invalid_token", "The access token is malformed")
        return self._check_jwt(token)

    # --- JWT access tokens (RFC 9068), offline ---------------------------------------------------------------

    def _check_jwt(self, token):
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BearerError("invalid_token", "The access token is invalid") from None
        # RFC 9068 §4: typ at+jwt (or its full media type), so that an ID token, signed by the same issuer, is
        # never taken for an access token.
        typ = str(header.get("typ", "")).lower()
        alg = header.get("alg")
        kid = header.get("kid")
        if typ not in ("at+jwt", "application/at+jwt") or alg not in self.algorithms or not isinstance(kid, str):
            raise BearerError("invalid_token", "The access token is invalid")
        key_alg, key = self._signing_key(kid)
        if key_alg != alg:
            raise BearerError("invalid_token", "The access token is invalid")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audiences,
                leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "sub", "client_id"]},
            )
        except jwt.ExpiredSignatureError:
            raise BearerError("invalid_token", "The access token expired") from None
        except jwt.InvalidAudienceError:
            raise BearerError("invalid_token", "The access token is not meant for this resource") from None
        except jwt.InvalidIssuerError:
            raise BearerError("invalid_token", "The access token comes from another issuer") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise BearerError("invalid_token", "The access token is invalid") from None
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise BearerError("invalid_token", "The access token is invalid")
        aud = claims["aud"]
        return Token(
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(scope.split()),
            audience=tuple(aud) if isinstance(aud, list) else (aud,),
            expires_at=claims["exp"],
            format="jwt",
            claims=claims,
        )

    def _signing_key(self, kid):
        # Keys are kept 5 minutes (Gatehouse publishes a new key 10 minutes before it signs with it). An unknown
        # kid refetches at once, but at most every 30 s, so made-up kids cannot turn into a flood of fetches.
        # While the JWKS cannot be fetched, known keys keep working and unknown ones get 503, not 401.
        with self._lock:
            now = time.monotonic()
            age = now - self._keys_fetched_at
            if age > 300 or (kid not in self._keys and age > 30):
                if now < self._next_fetch_attempt:
                    if kid not in self._keys:
                        raise BearerError.unavailable(RuntimeError("the JWKS could not be fetched just now"))
                else:
                    try:
                        self._keys = self._fetch_keys()
                        self._keys_fetched_at = now
                    except BearerError:
                        self._next_fetch_attempt = now + RETRY_AFTER_SECONDS
                        if kid not in self._keys:
                            raise
            found = self._keys.get(kid)
        if found is None:
            raise BearerError("invalid_token", "The access token is invalid")
        return found

    def _fetch_keys(self):
        jwks = self._get_json(self._discovery()["jwks_uri"])
        keys = {}
        listed = jwks.get("keys")
        for jwk in listed if isinstance(listed, list) else []:
            # Only keys whose own alg is allowed; Gatehouse's JWKS also holds the ID-token keys (RS256).
            if not isinstance(jwk, dict) or jwk.get("alg") not in self.algorithms or jwk.get("use", "sig") != "sig":
                continue
            try:
                keys[jwk["kid"]] = (jwk["alg"], jwt.PyJWK(jwk).key)
            except (jwt.PyJWTError, KeyError, ValueError, TypeError):
                continue  # a key this PyJWT cannot use
        return keys

    # --- opaque tokens and API keys: introspection (RFC 7662) ------------------------------------------------

    def _check_introspected(self, token):
        answer = self._introspect(token)
        if answer.get("active") is not True:
            raise BearerError("invalid_token", "The access token is not active")
        if str(answer.get("token_type", "Bearer")).lower() != "bearer":
            raise BearerError("invalid_token", "This is not an access token")
        if answer.get("iss", self.issuer) != self.issuer:
            raise BearerError("invalid_token", "The access token comes from another issuer")
        aud = answer.get("aud")
        audience = tuple(aud) if isinstance(aud, list) else (aud,) if isinstance(aud, str) else ()
        if not any(a in self.audiences for a in audience):
            raise BearerError("invalid_token", "The access token is not meant for this resource")
        exp = answer.get("exp")
        if exp is not None and (not isinstance(exp, (int, float)) or exp <= time.time()):
            raise BearerError("invalid_token", "The access token expired")
        scope = answer.get("scope")
        return Token(
            subject=str(answer.get("sub", "")),
            client_id=str(answer.get("client_id", "")),
            scopes=frozenset(scope.split()) if isinstance(scope, str) else frozenset(),
            audience=audience,
            expires_at=exp,
            format="opaque",
            claims=answer,
        )

    def _introspect(self, token):
        if self._credentials is None:
            raise BearerError("invalid_token", "The access token is invalid")
        digest = hashlib.sha256(token.encode()).digest()
        now = time.time()
        with self._lock:
            cached = self._introspected.get(digest)
        if cached and cached[1] > now:
            return cached[0]
        request = urllib.request.Request(
            self._discovery()["introspection_endpoint"],
            data=urllib.parse.urlencode({"token": token}).encode(),
            headers={
                "Authorization": self._credentials,
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
            method="POST",
        )
        answer = self._read_json(request)
        if answer.get("active") is True:
            # Cached for a short, bounded time, never past the token's expiry: a revocation takes up to that long
            # to reach this API. "Inactive" is not cached (a token may be new to a lagging replica).
            exp = answer.get("exp")
            until = min(now + self._cache_seconds, exp if isinstance(exp, (int, float)) else float("inf"))
            with self._lock:
                if len(self._introspected) >= 10_000:
                    self._introspected.clear()
                self._introspected[digest] = (answer, until)
        return answer

    # --- talking to Gatehouse ------------------------------------------------------------------------------

    def _discovery(self):
        # RFC 8414 §3: the well-known path goes between the host and the issuer's path; §3.3: the document's
        # issuer must be exactly the one configured.
        if self._metadata is None:
            parts = urllib.parse.urlsplit(self.issuer)
            url = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"
            metadata = self._get_json(url)
            if metadata.get("issuer") != self.issuer:
                # A misconfiguration, not the client's fault: 503, and the operator reads why in the log.
                named = metadata.get("issuer")
                print(f"gatehouse_check: {url} names the issuer {named!r}", file=sys.stderr, flush=True)
                raise BearerError.unavailable(ValueError(f"{url} names another issuer"))
            self._metadata = metadata
        return self._metadata

    def _get_json(self, url):
        return self._read_json(urllib.request.Request(url, headers={"Accept": "application/json"}))

    def _read_json(self, request):
        # Whatever goes wrong here is Gatehouse not answering as it should: 503 for the client, the cause in the
        # log (never the token: it is only in the request body).
        try:
            with self._http.open(request, timeout=self.timeout) as response:
                answer = json.load(response)
        except (OSError, ValueError) as cause:  # URLError and HTTPError are OSErrors; bad JSON a ValueError
            print(f"gatehouse_check: {request.full_url}: {cause}", file=sys.stderr, flush=True)
            raise BearerError.unavailable(cause) from None
        if not isinstance(answer, dict):
            raise BearerError.unavailable(ValueError(f"{request.full_url} did not answer a JSON object"))
        return answer
