"""Who a request speaks for: the key's own principal, or the end user a trusted front end acts for.

Only a ``service`` key may act for an end user, and only through a claim it cannot forge: Open WebUI's
signed user token (``X-OpenWebUI-User-Jwt``, HS256 with the shared RAG_OPENWEBUI_JWT_SECRET, expiry
enforced). Plain ``X-OpenWebUI-User-*`` headers count only for a key with ``trust_user_headers``. An
admin key may narrow itself to a user with ``X-Act-As-User`` (to see what that user sees); an admin
reads everything anyway, so this grants nothing. The user's groups come from the group directory,
never from the request.
"""

from __future__ import annotations

from collections.abc import Mapping

import jwt

from api.directory import GroupDirectory
from api.principals import KeyPrincipal
from rag.access import Principal
from rag.errors import AuthenticationError, PermissionDeniedError

OPENWEBUI_JWT_HEADER = "x-openwebui-user-jwt"
OPENWEBUI_EMAIL_HEADER = "x-openwebui-user-email"
OPENWEBUI_ID_HEADER = "x-openwebui-user-id"
ACT_AS_HEADER = "x-act-as-user"
_CLOCK_SKEW_S = 30


class IdentityResolver:
    def __init__(
        self,
        directory: GroupDirectory,
        openwebui_jwt_secret: str | None,
        openwebui_jwt_header: str = OPENWEBUI_JWT_HEADER,
    ) -> None:
        self._directory = directory
        self._secret = openwebui_jwt_secret
        self._jwt_header = openwebui_jwt_header.lower()

    def resolve(self, key: KeyPrincipal, headers: Mapping[str, str]) -> Principal:
        """``headers``: the request's, with lower-case names."""
        own = Principal(key=key.name, role=key.role, groups=key.groups)
        act_as = headers.get(ACT_AS_HEADER, "").strip()
        if key.role == "service":
            if act_as:
                raise PermissionDeniedError(
                    "A service key acts for a user only through Open WebUI's signed user token "
                    "(X-OpenWebUI-User-Jwt), not X-Act-As-User."
                )
            user = self._user_of_service_request(key, headers)
            return own if user is None else own.acting_for(user, self._directory.groups_of(user))
        if act_as:
            if key.role != "admin":
                raise PermissionDeniedError("Only an admin key may send X-Act-As-User.")
            return own.acting_for(act_as, self._directory.groups_of(act_as))
        return own

    def for_user(self, user: str, key: str = "local") -> Principal:
        """A user as the CLI's `--as USER` sees them: their own groups from the directory."""
        return Principal(key=key, role="admin").acting_for(user, self._directory.groups_of(user))

    def _user_of_service_request(self, key: KeyPrincipal, headers: Mapping[str, str]) -> str | None:
        token = headers.get(self._jwt_header, "").strip()
        if token:
            return self._verified_user(token)
        if key.trust_user_headers:
            return headers.get(OPENWEBUI_EMAIL_HEADER, "").strip() or headers.get(OPENWEBUI_ID_HEADER) or None
        return None  # the service speaking for itself: it reads what its own groups may

    def _verified_user(self, token: str) -> str:
        if not self._secret:
            raise AuthenticationError(
                "This request carries Open WebUI's signed user token, but RAG_OPENWEBUI_JWT_SECRET is not "
                "set: set it to Open WebUI's FORWARD_USER_INFO_HEADER_JWT_SECRET."
            )
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"require": ["exp"]},
                leeway=_CLOCK_SKEW_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError(
                "The Open WebUI user token has expired: send the request again."
            ) from exc
        except jwt.InvalidSignatureError as exc:
            raise AuthenticationError(
                "The Open WebUI user token does not verify: RAG_OPENWEBUI_JWT_SECRET must equal Open "
                "WebUI's FORWARD_USER_INFO_HEADER_JWT_SECRET."
            ) from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError(f"The Open WebUI user token is not valid ({exc}).") from exc
        user = str(claims.get("email") or claims.get("sub") or "").strip()
        if not user:
            raise AuthenticationError("The Open WebUI user token names no user (no `email` or `sub`).")
        return user
