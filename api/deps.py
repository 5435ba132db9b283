"""Dependencies the routers declare with ``Annotated``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.services import Services


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]
