"""deploy/haproxy.cfg's health check against the real /ready route: a replica whose LLM is unreachable
answers /ready with 503, yet stays in the balancer (the LLM is shared: taking every replica out for it
would stop searches too); a replica that refuses the health-check key is taken out; searches go only
to the replicas in. A real haproxy and the real app under uvicorn (a hashing embedder: no model)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import httpx
from pydantic import SecretStr
from support.fakes import HashingEmbedder
from support.haproxy import HAProxy, haproxy_binary

from api.app import create_app
from rag.config import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
from api_support import serve, unreachable_url

KEY = "health-check-key-0c5e7a19"


def app_settings(data: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data, "llm": "none", "api_keys": SecretStr(KEY)}
    return Settings(**(values | overrides), _env_file=None)  # type: ignore[arg-type, call-arg]


def test_a_replica_without_its_llm_stays_in_and_one_refusing_the_key_is_taken_out(tmp_path: Path) -> None:
    haproxy_binary()
    no_llm = app_settings(tmp_path / "a", llm="ollama:qwen2.5:14b", ollama_host=unreachable_url())
    other_key = app_settings(tmp_path / "b", api_keys=SecretStr("a-key-the-balancer-does-not-have"))
    healthy = app_settings(tmp_path / "c")
    apps = [create_app(s, embedder=HashingEmbedder()) for s in (no_llm, other_key, healthy)]
    with serve(apps[0]) as url_a, serve(apps[1]) as url_b, serve(apps[2]) as url_c:
        ready = httpx.get(f"{url_a}/ready", headers={"Authorization": f"Bearer {KEY}"})
        assert ready.status_code == 503 and ready.json()["checks"]["llm"]["ok"] is False, ready.text

        haproxy = HAProxy([u.removeprefix("http://") for u in (url_a, url_b, url_c)], KEY, tmp_path)
        try:
            haproxy.wait_status("api2", "DOWN", timeout_s=30)
            for server in ("api1", "api3"):
                haproxy.wait_status(server, "UP", timeout_s=30)
            stats = haproxy.stats()
            assert stats["rag_replicas/api1"]["check_status"] == "L7OK"  # read /ready's body, not its 503
            assert stats["rag_replicas/api2"]["check_status"] != "L7OK"  # 401: matches nothing

            served = Counter[str]()
            with httpx.Client(base_url=haproxy.url, headers={"Authorization": f"Bearer {KEY}"}) as http:
                for _ in range(20):
                    response = http.post("/v1/search", json={"query": "travel"})
                    assert response.status_code == 200, response.text
                    served[response.headers["X-Served-By"]] += 1
            assert set(served) == {"api1", "api3"}, served
        finally:
            haproxy.stop()
