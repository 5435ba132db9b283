from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, ServicesDep
from api.schemas import HitOut, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, summary="Search passages (no LLM)")
def search(body: SearchRequest, svc: ServicesDep, caller: CallerDep) -> SearchResponse:
    hits = svc.search(
        caller,
        body.query,
        top_k=body.top_k or svc.settings.top_k,
        mode=body.mode or svc.settings.search_mode,
        filters=body.filters.to_filters() if body.filters else None,
    )
    return SearchResponse(query=body.query, hits=[HitOut.of(h) for h in hits])
