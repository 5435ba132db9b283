from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request

from api.deps import AdminDep, CallerDep, ServicesDep
from api.schemas import Check, ReadyResponse
from rag.errors import RagError

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness (no auth)")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", response_model=ReadyResponse, summary="Store, embedder and LLM reachable?")
def ready(svc: ServicesDep, caller: CallerDep) -> JSONResponse:
    checks: dict[str, Check] = {}

    def probe(name: str, action: object) -> None:
        try:
            detail = action() if callable(action) else str(action)
            checks[name] = Check(ok=True, detail=str(detail))
        except RagError as exc:
            checks[name] = Check(ok=False, detail=exc.message)

    probe("store", lambda: f"{svc.kb.store.count()} chunks")
    probe("embedder", lambda: f"{svc.kb.embedder.name}, {len(svc.kb.embedder.embed_query('ready'))}-d")
    generator = svc.kb.generator
    if generator is None:
        checks["llm"] = Check(ok=True, detail="none configured (RAG_LLM=none): answers show passages")
    else:

        def llm() -> str:
            generator.check()
            return generator.name

        probe("llm", llm)
    if svc.watcher is not None:
        # Wedged: one file for longer than its parse budget allows (plus time to embed and write it).
        ok, detail = svc.watcher.health(wedged_after_s=svc.settings.file_timeout_s + 120)
        checks["watcher"] = Check(ok=ok, detail=detail)
    if not caller.unrestricted:
        # The details count chunks and name files (the watcher's last error): for admins only.
        checks = {name: Check(ok=c.ok, detail="ok" if c.ok else "failing") for name, c in checks.items()}
    body = ReadyResponse(ready=all(c.ok for c in checks.values()), checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(request: Request, _: AdminDep) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
