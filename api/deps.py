"""Dependencies the routers declare with ``Annotated``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.principals import KeyPrincipal
from api.services import Services
from rag.access import Principal
from rag.errors import PermissionDeniedError

# With RAG_AUTH_DISABLED=true (loopback only) whoever reaches the API is the machine's own user.
AUTH_DISABLED_KEY = KeyPrincipal("auth-disabled", "admin")


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


def caller(request: Request, svc: ServicesDep) -> Principal:
    """Who this request speaks for (a plain ``def``: FastAPI runs it on a worker thread, and finding a
    user's groups may ask an LDAP server)."""
    key: KeyPrincipal = getattr(request.state, "key", AUTH_DISABLED_KEY)
    principal = svc.identity.resolve(key, {k.lower(): v for k, v in request.headers.items()})
    request.state.principal = principal
    return principal


CallerDep = Annotated[Principal, Depends(caller)]


def admin(principal: CallerDep) -> Principal:
    if not principal.unrestricted:  # an admin acting for a user is that user for this request
        raise PermissionDeniedError(
            "This needs an admin key (not acting for a user): uploads, deletes, listing failed files, "
            "upload jobs and metrics are for admins."
        )
    return principal


AdminDep = Annotated[Principal, Depends(admin)]
