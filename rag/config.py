"""All settings in one place: environment variables with the ``RAG_`` prefix (and ``.env``).

Build a :class:`Settings` at start-up (``Settings()`` in the CLI entry point or ``create_app``), never at
import time, and pass it down. Every field's description is the documentation shown in the README table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.fusion import FusionMethod
from rag.types import ModelRef, SearchMode

EMBEDDER_KINDS = ("ollama", "sentence-transformers")
LLM_KINDS = ("ollama", "openai")
READ_CONSISTENCY_TYPES = ("majority", "quorum", "all")


def user_data_dir() -> Path:
    """The per-user default data dir (XDG): the same knowledge base from whatever folder `rag` runs."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "private-rag"


def user_config_file() -> Path:
    """Settings saved for this user (the quick start writes its embedder and collection here)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "private-rag" / "env"


class Settings(BaseSettings):
    # Later files win: the user's saved settings, then a .env in the current folder; the environment
    # wins over both.
    model_config = SettingsConfigDict(
        env_prefix="RAG_", env_file=(user_config_file(), ".env"), env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=user_data_dir,
        description="Where the embedded Qdrant store, the ingest ledger and uploaded files live. Default: "
        "`$XDG_DATA_HOME/private-rag` (`~/.local/share/private-rag`), whatever folder you run `rag` from.",
    )
    qdrant_url: str | None = Field(
        default=None,
        description="URL of a Qdrant server (e.g. http://qdrant:6333), or of several nodes of one Qdrant "
        "cluster, comma-separated (a request goes to the next one when a node is down). Unset: the embedded "
        "Qdrant Edge engine stores everything under RAG_DATA_DIR.",
    )
    qdrant_api_key: SecretStr | None = Field(default=None, description="API key for the Qdrant server.")
    qdrant_timeout_s: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="Timeout of one request to the Qdrant server; a node that does not answer in time counts "
        "as down and the request is retried (on the next node, with several URLs in RAG_QDRANT_URL).",
    )
    qdrant_retries: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Attempts per Qdrant request when the server answers 5xx or 429, drops the connection "
        "or times out (every request the store makes is safe to repeat); then the caller gets a 503.",
    )
    qdrant_retry_max_s: float = Field(
        default=5,
        ge=0,
        le=300,
        description="Longest wait between two attempts (the waits double from 0.25 s up to this, jittered).",
    )
    qdrant_write_ordering: Literal["weak", "medium", "strong"] = Field(
        default="medium",
        description="Qdrant cluster: `medium` sends writes through a shard's elected leader so replicas "
        "apply a delete and a re-add of the same chunk in the same order; `weak` may reorder them (faster); "
        "`strong` uses a fixed leader (writes stop while it is down).",
    )
    qdrant_read_consistency: str | None = Field(
        default=None,
        description="Qdrant cluster: replicas each search asks, `majority`, `quorum`, `all` or a number; "
        "unset: one replica (fastest; a read may miss a write another replica has not applied yet).",
    )
    qdrant_write_consistency_factor: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Qdrant cluster, set when the collection is created: replicas that must confirm a write "
        "before it succeeds (at most RAG_QDRANT_REPLICATION_FACTOR). Unset: the server's default, 1.",
    )
    qdrant_shard_number: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Qdrant cluster, set when the collection is created: shards the chunks are split into. "
        "Unset: the server's default (one per node).",
    )
    qdrant_replication_factor: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Qdrant cluster, set when the collection is created: copies of each shard on different "
        "nodes; 2 or more keeps search and ingest working while a node is down. Unset: the server's "
        "default, 1.",
    )
    qdrant_acorn: bool = Field(
        default=True,
        description="Qdrant server: a dense search whose filter (a reader's permissions) passes 15-35% of "
        "the chunks walks the graph with ACORN, as the embedded store does, so it keeps its recall; needs "
        "Qdrant 1.16 or later (false: plain HNSW, for an older server).",
    )
    collection: str = Field(
        default="private_rag",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Name of the knowledge base (a Qdrant collection; a sub-folder of RAG_DATA_DIR).",
    )
    embedder: str = Field(
        default="ollama:nomic-embed-text",
        description="Embedding model: `ollama:<model>` or `sentence-transformers:<model name or local "
        "path>`. `sentence-transformers:all-MiniLM-L6-v2` is the packaged quick-start embedder "
        "(needs the `offline` extra).",
    )
    ollama_host: str = Field(
        default="http://localhost:11434",
        validation_alias=AliasChoices("RAG_OLLAMA_HOST", "OLLAMA_HOST"),
        description="Ollama base URL (OLLAMA_HOST is honoured too).",
    )
    embed_batch_size: int = Field(default=32, ge=1, le=1024, description="Texts per embedding call.")
    query_cache_size: int = Field(
        default=1024,
        ge=0,
        le=1_000_000,
        description="Query vectors kept for repeated questions (least recently used dropped); 0: none.",
    )
    chunk_tokens: int = Field(
        default=384,
        ge=32,
        le=8192,
        description="Target chunk size in embedder tokens (capped by the embedder's window).",
    )
    chunk_overlap_tokens: int = Field(
        default=48, ge=0, le=1024, description="Tokens shared by neighbouring chunks of one section."
    )
    search_mode: SearchMode = Field(
        default="hybrid",
        description="Retrieval: `hybrid` (dense + BM25, fused as RAG_FUSION says), `dense` or `sparse` "
        "(BM25 only).",
    )
    fusion: FusionMethod = Field(
        default="dbsf",
        description="How hybrid search fuses the dense and the BM25 ranking: `dbsf` (distribution-based "
        "score fusion: each ranking's scores scaled by its mean +- 3 standard deviations, then added) or "
        "`rrf` (reciprocal-rank fusion). Measured on the real-document dev set (tests/devsets/en).",
    )
    fusion_dense_weight: float = Field(
        default=1.0, ge=0, le=10, description="Weight of the dense (meaning) ranking in the fusion."
    )
    fusion_sparse_weight: float = Field(
        default=0.5, ge=0, le=10, description="Weight of the BM25 (keyword) ranking in the fusion."
    )
    rrf_k: int = Field(
        default=60,
        ge=1,
        le=1000,
        description="RRF's constant (with RAG_FUSION=rrf): small values keep each ranking's first places "
        "on top, large ones favour passages that both rankings place fairly high.",
    )
    top_k: int = Field(default=5, ge=1, le=100, description="Hits returned by a search.")
    prefetch_k: int = Field(
        default=50, ge=1, le=1000, description="Candidates each retriever hands to the fusion step."
    )
    hnsw_ef: int = Field(
        default=256,
        ge=8,
        le=4096,
        description="HNSW search breadth: higher finds more of the true nearest neighbours, a little "
        "slower (bench/query.py, 1M chunks: 256 found 98% of the true top 10 at about 2 ms p95).",
    )
    hnsw_threshold: int = Field(
        default=20_000,
        ge=0,
        description="Embedded store: build the HNSW index after an ingest once the store holds this "
        "many chunks; below it, exact search is fast enough and always exact.",
    )
    store_on_disk: bool = Field(
        default=False,
        description="Embedded store: keep the dense vectors, the HNSW graph and the BM25 index in files the "
        "system reads on demand (mmap) instead of in memory, for a store larger than RAM (10M 384-d chunks "
        "hold 15 GiB of vectors). With RAG_STORE_QUANTIZATION=8bit, worth it above ~4M chunks (1M: 0.93 GiB "
        "of memory instead of 2.2 GiB, recall@10 0.989 instead of 0.999). Changing it on an existing store "
        "is applied in place: its chunks are rewritten at the next optimisation (after the next ingest).",
    )
    store_quantization: Literal["none", "8bit"] = Field(
        default="none",
        description="Embedded store: `8bit` also keeps a 1-byte-per-dimension copy of each dense vector in "
        "memory (a quarter of the float vectors) that search walks first, then rescores the best "
        "candidates with the full vectors (RAG_STORE_OVERSAMPLING). Changing it on an existing store is "
        "applied in place, at the next optimisation.",
    )
    store_oversampling: float = Field(
        default=2.0,
        ge=1.0,
        le=16.0,
        description="Embedded store with RAG_STORE_QUANTIZATION=8bit: candidates found with the 8-bit "
        "copies per hit wanted, rescored with the full vectors; higher finds more of the true nearest "
        "chunks, a little slower.",
    )
    llm: str = Field(
        default="ollama:qwen2.5:14b",
        description="Answering model: `ollama:<model>`, `openai:<model>` (any OpenAI-compatible server at "
        "RAG_LLM_BASE_URL), or `none` (show the cited passages, no generated text).",
    )
    llm_base_url: str | None = Field(
        default=None, description="Base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1."
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for that endpoint, if it wants one."
    )
    llm_context_tokens: int = Field(
        default=8192,
        ge=1024,
        description="The model's context window: Ollama's num_ctx, and the budget the prompt is fitted into.",
    )
    llm_max_answer_tokens: int = Field(default=512, ge=16, description="Longest answer, in tokens.")
    llm_temperature: float = Field(
        default=0.1, ge=0, le=2, description="Sampling temperature (low: factual)."
    )
    llm_keep_alive: str = Field(
        default="30m", description="How long Ollama keeps the model loaded after a request."
    )
    answer_candidates: int = Field(
        default=12,
        ge=1,
        le=100,
        description="Passages retrieved per question before the prompt budget picks.",
    )
    reranker: str | None = Field(
        default=None,
        description="Cross-encoder (sentence-transformers) that re-orders the passages: a local model path. "
        "Unset: no reranking.",
    )
    min_relevance: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="Confidence gate: below this cosine similarity between the question and the best passage "
        'the answer is "I can\'t find this in the documents" and the LLM is not called, unless the '
        "keyword check below lets it through. Unset: a default measured for the embedder on the "
        "real-document dev set (0.424 for all-MiniLM-L6-v2, 0.5 otherwise).",
    )
    min_keyword_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Confidence gate, second chance: a question whose closest passage is below "
        "RAG_MIN_RELEVANCE still goes to the LLM when one of the best three passages holds at least this "
        "share of its keywords. Unset: 0.6.",
    )
    ungrounded_answers: Literal["withhold", "warn"] = Field(
        default="withhold",
        description="An answer none of whose sentences a passage shown to the model supports (its numbers, "
        'names and most of its words): "withhold" answers "I can\'t find this in the documents" instead and '
        'says why; "warn" shows it marked as unsupported. With the 0.5B test model on the real-document dev '
        "set, withholding refused 68% of the unanswerable questions instead of 11%, and 28% of the "
        "answerable ones instead of 3%: of those 29 withheld answers, 26 were wrong.",
    )
    host: str = Field(default="127.0.0.1", description="`rag serve`: address to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="`rag serve`: port to listen on.")
    api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated API keys accepted as `Authorization: Bearer <key>` by the REST API; "
        "`rag search`, `ask` and `docs` send the first one to a running `rag serve`.",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="API keys with a principal each, reloaded when the file changes: TOML with `[[keys]]` "
        "tables (`name`, `sha256` = hex SHA-256 of the key, `role` = reader | admin | service, `groups`), "
        "or the older form, one plain key per line (admin keys). See README, Permissions.",
    )
    openwebui_jwt_secret: SecretStr | None = Field(
        default=None,
        description="Open WebUI's FORWARD_USER_INFO_HEADER_JWT_SECRET: a `service` key may then act for the "
        "Open WebUI user named in the signed `X-OpenWebUI-User-Jwt` header (HS256, expiry enforced).",
    )
    openwebui_jwt_header: str = Field(
        default="X-OpenWebUI-User-Jwt",
        pattern=r"^[A-Za-z0-9-]{1,100}$",
        description="The header carrying Open WebUI's signed user token: its FORWARD_USER_INFO_HEADER_JWT, "
        "if you changed that.",
    )
    groups_file: Path | None = Field(
        default=None,
        description="Group directory as TOML: a `[groups]` table, group name -> list of members (user "
        "e-mails or names; `@other` includes another group). Reloaded when it changes.",
    )
    ldap_url: str | None = Field(
        default=None,
        description="Group directory in LDAP / Active Directory, e.g. ldaps://dc1.example.com. Used instead "
        "of RAG_GROUPS_FILE when set.",
    )
    ldap_bind_dn: str | None = Field(default=None, description="DN to bind as for group look-ups.")
    ldap_bind_password: SecretStr | None = Field(default=None, description="Password of RAG_LDAP_BIND_DN.")
    ldap_base_dn: str = Field(
        default="", description="Where users and groups are searched, e.g. dc=example,dc=com."
    )
    ldap_user_filter: str = Field(
        default="(|(mail={user})(uid={user})(sAMAccountName={user}))",
        description="Finds a user's entry; `{user}` is the user's e-mail or name (escaped).",
    )
    ldap_group_filter: str = Field(
        default="(|(member={dn})(uniqueMember={dn}))",
        description="Finds the groups that list an entry; `{dn}` is the entry's DN (escaped).",
    )
    ldap_group_name_attribute: str = Field(default="cn", description="Attribute that names a group.")
    ldap_nested_groups: bool = Field(
        default=True, description="Also count groups that contain the user's groups (nested groups)."
    )
    ldap_cache_ttl_s: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How long a user's groups are cached: a user removed from a group loses access "
        "within this time.",
    )
    access_file: Path | None = Field(
        default=None,
        description="Who may read which documents, as TOML: `default` (groups) and `[[rules]]` with "
        "`prefix` or `glob` (a document's path, relative to `root`) and `groups`; the most specific "
        "matching rule wins. Reloaded when it changes; documents are re-labelled without re-embedding.",
    )
    default_access: str = Field(
        default="everyone",
        description="Groups (comma-separated) that may read a document no access rule matches; "
        "`everyone` = any caller with a valid key. Overridden by `default` in RAG_ACCESS_FILE.",
    )
    audit_log: str | None = Field(
        default=None,
        description="Audit trail, one JSON line per search, answer, upload and delete (who, what, which "
        "documents and chunks; never document text): a file path (rotated), or `-` for stdout. Unset: off.",
    )
    audit_questions: Literal["full", "hash"] = Field(
        default="hash",
        description="`hash`: the audit trail keeps the SHA-256 of each question; `full`: the question.",
    )
    audit_max_mb: int = Field(default=100, ge=1, description="Audit file size at which it is rotated.")
    audit_backups: int = Field(default=10, ge=1, le=10_000, description="Rotated audit files kept.")
    auth_disabled: bool = Field(
        default=False,
        description="Turn API-key checks off, for local use only: the server refuses to start like this on "
        "an address other than loopback.",
    )
    allowed_hosts: str = Field(
        default="",
        description="Host names the REST API answers to, comma-separated; `*` for any. Empty: any host "
        "when API keys are required, and only localhost, 127.0.0.1 and ::1 with RAG_AUTH_DISABLED=true, so "
        "that a web page cannot reach the API through DNS rebinding.",
    )
    max_upload_mb: int = Field(default=50, ge=1, le=4096, description="Largest file accepted by upload.")
    max_file_mb: int = Field(
        default=200,
        ge=1,
        description="Largest file ingested from a folder or the watcher; a larger one is reported as failed.",
    )
    max_file_chunks: int = Field(
        default=20_000,
        ge=1,
        description="Most chunks one file may make (a 1M-row spreadsheet makes over 100,000); a file that "
        "would make more is reported as failed.",
    )
    file_timeout_s: float = Field(
        default=300,
        gt=0,
        description="Longest time reading one file may take (parsing runs in a child process); a file that "
        "takes longer is reported as failed and the batch goes on.",
    )
    ingest_workers: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 8),
        ge=1,
        le=64,
        description="Files parsed side by side, each in its own process (400-650 MB each while it runs). "
        "Default: the machine's cores, at most 8.",
    )
    max_parse_memory_mb: int = Field(
        default=3072,
        ge=256,
        description="Most memory the process reading one file may use; a file that needs more is reported "
        "as failed.",
    )
    ocr: Literal["auto", "off"] = Field(
        default="auto",
        description="`auto`: the pages of a PDF that have no usable text layer (no text, mostly unreadable "
        "characters, or a few characters on a page that is mostly picture: a scan) and image files (PNG, "
        "JPEG, TIFF) are read by Tesseract OCR; `off`: never (such pages are skipped, images fail).",
    )
    ocr_languages: str = Field(
        default="eng",
        pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$",
        description="Tesseract language models for OCR, joined by `+`, main language first (`kor+eng`, "
        "`eng+kor+jpn+chi_sim`); each one must be installed (`tesseract-ocr-kor`, ...; scripts/setup.sh "
        "installs those four). Every language added costs time on every page.",
    )
    ocr_max_pages: int = Field(
        default=500,
        ge=1,
        description="Most pages of one file that OCR reads; a file with more pages to OCR is reported as "
        "failed. Raise RAG_FILE_TIMEOUT_S with it: OCR takes about 1.5 s a page per parse worker.",
    )
    min_free_disk_mb: int = Field(
        default=512,
        ge=0,
        description="Free space kept on the data dir's disk: a write to the store, the ledger or the "
        "uploads folder that would leave less is refused with a 'disk full' message (the embedded store "
        "cannot survive running out of disk in the middle of a write).",
    )
    max_concurrent_answers: int = Field(
        default=2, ge=1, le=256, description="Answers generated at the same time (the LLM is the bottleneck)."
    )
    answer_queue_limit: int = Field(
        default=8,
        ge=0,
        le=10_000,
        description="Answers allowed to wait for a free slot; more are refused with 429 and Retry-After.",
    )
    watch_dir: Path | None = Field(
        default=None, description="`rag serve`: also watch this folder and keep the index in step with it."
    )
    watch_debounce_s: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="A file is ingested once its size and modification time have been stable this long.",
    )
    watch_poll: bool = Field(
        default=False,
        description="Poll the watched folder instead of using inotify (network shares, some bind mounts).",
    )
    watch_poll_interval_s: float = Field(default=2.0, gt=0, le=3600, description="Polling interval.")
    request_timeout_s: float = Field(
        default=120.0, gt=0, description="Timeout for calls to Ollama and other model servers."
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL for more than one process: the ingest ledger and the ingest queue that "
        "`rag worker` processes take jobs from, e.g. postgresql://rag:secret@db:5432/rag (needs the "
        "`scale` extra). Unset: the ledger is a SQLite file in RAG_DATA_DIR and ingest runs in one process.",
    )
    scan_interval_s: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="`rag worker` with RAG_WATCH_DIR: queue what changed in that folder this often (new, "
        "changed and deleted files; one scan at a time across all workers). 0: only `rag scan` queues.",
    )
    job_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Attempts of an ingest job while the embedder or the store is down, waiting 2, 4, 8 "
        "... seconds (at most 5 minutes) in between; then the file waits for the next scan. A file that "
        "cannot be read is recorded as failed at once, not retried.",
    )
    worker_stalled_after_s: float = Field(
        default=30,
        ge=3,
        le=3600,
        description="A `rag worker` whose heartbeat (sent every third of this) stops for this long is "
        "taken for dead, and its job is queued again for another worker.",
    )
    job_retention_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Finished ingest jobs (done or failed) are kept in the queue's database this many days, "
        "then removed by the workers (hourly), with the stored copy of an upload that failed. 0: keep them.",
    )

    @field_validator("ollama_host")
    @classmethod
    def _normalise_ollama_host(cls, value: str) -> str:
        # Ollama accepts OLLAMA_HOST values such as "0.0.0.0" or "ollama:11434"; make them URLs.
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = f"http://{value}"
        scheme, rest = value.split("://", 1)
        if rest.startswith("0.0.0.0"):
            rest = "127.0.0.1" + rest[len("0.0.0.0") :]
        if ":" not in rest.split("/", 1)[0]:
            host, _, path = rest.partition("/")
            rest = f"{host}:11434" + (f"/{path}" if path else "")
        return f"{scheme}://{rest}"

    @field_validator("audit_log", "ldap_url", "database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `RAG_AUDIT_LOG=` in a .env file means "off", not "the current folder".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("qdrant_read_consistency", mode="before")
    @classmethod
    def _check_read_consistency(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip().lower()
        if text in READ_CONSISTENCY_TYPES or (text.isdigit() and 1 <= int(text) <= 64):
            return text
        raise ValueError(
            f"{value!r} is not a read consistency: use majority, quorum, all, or a number of replicas (1-64)"
        )

    @field_validator("embedder")
    @classmethod
    def _check_embedder(cls, value: str) -> str:
        ModelRef.parse(value, EMBEDDER_KINDS)
        return value

    @field_validator("llm")
    @classmethod
    def _check_llm(cls, value: str) -> str:
        if value != "none":
            try:
                ModelRef.parse(value, LLM_KINDS)
            except ValueError as exc:
                raise ValueError(f"{exc} or `none`") from None
        return value

    @property
    def embedder_ref(self) -> ModelRef:
        return ModelRef.parse(self.embedder, EMBEDDER_KINDS)

    @property
    def llm_ref(self) -> ModelRef | None:
        return None if self.llm == "none" else ModelRef.parse(self.llm, LLM_KINDS)

    @model_validator(mode="after")
    def _check_overlap(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("RAG_CHUNK_OVERLAP_TOKENS must be smaller than RAG_CHUNK_TOKENS")
        return self

    @model_validator(mode="after")
    def _check_write_consistency(self) -> Settings:
        factor, copies = self.qdrant_write_consistency_factor, self.qdrant_replication_factor or 1
        if factor is not None and factor > copies:
            raise ValueError(
                f"RAG_QDRANT_WRITE_CONSISTENCY_FACTOR ({factor}) cannot exceed RAG_QDRANT_REPLICATION_FACTOR "
                f"({copies}): no write could ever be confirmed by more replicas than there are"
            )
        return self

    @property
    def qdrant_urls(self) -> list[str]:
        """RAG_QDRANT_URL split at commas: the nodes of a cluster the store may send a request to."""
        return [url.strip() for url in (self.qdrant_url or "").split(",") if url.strip()]

    @property
    def collection_dir(self) -> Path:
        """This knowledge base's folder inside the data dir (ledger, embedded shard, uploads)."""
        return self.data_dir / self.collection

    def api_key_list(self) -> list[str]:
        keys = self.api_keys.get_secret_value().split(",") if self.api_keys else []
        if self.api_keys_file is not None:
            from rag.errors import ConfigError

            try:
                keys += self.api_keys_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"Cannot read RAG_API_KEYS_FILE {self.api_keys_file}: {exc}") from exc
        return [k.strip() for k in keys if k.strip() and not k.strip().startswith("#")]

    def allowed_host_names(self) -> frozenset[str] | None:
        """The Host names to accept, or None for any."""
        names = {h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()}
        if "*" in names or (not names and not self.auth_disabled):
            return None
        return frozenset(names or {"localhost", "127.0.0.1", "::1"})

    @property
    def uploads_dir(self) -> Path:
        return self.collection_dir / "uploads"

    @property
    def ledger_path(self) -> Path:
        return self.collection_dir / "ledger.sqlite3"

    @property
    def embedded(self) -> bool:
        return self.qdrant_url is None


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, turning validation errors into a readable ConfigError."""
    from pydantic import ValidationError

    from rag.errors import ConfigError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'RAG_' + str(err['loc'][0]).upper() if err['loc'] else 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"Invalid configuration: {problems}. Fix the environment, .env or {user_config_file()}."
        ) from exc
