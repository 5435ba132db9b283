"""Everything a command or a request needs, opened by one function for the CLI and the HTTP API alike,
and closed together."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from api.audit import AuditDocument, AuditEvent, AuditLog
from api.directory import make_directory
from api.identity import IdentityResolver
from api.limits import AnswerLimiter
from api.observability import Metrics, request_id_var
from ingest.jobs import UploadJobs
from ingest.ledger import Ledger
from ingest.sandbox import ParsePool
from ingest.service import IngestService
from ingest.watcher import FolderWatcher
from ingest.worker_uploads import QueuedUploads, open_uploads
from rag.access import Principal
from rag.answer import Answer, AnswerEvent, AnswerService
from rag.config import Settings
from rag.embedding import Embedder
from rag.errors import ServiceUnavailableError
from rag.generation import Message
from rag.knowledge_base import KnowledgeBase
from rag.types import Chunk, DocumentRecord, Hit, SearchFilters, SearchMode

log = logging.getLogger("rag.api")
# How often a running server looks for an edited RAG_ACCESS_FILE (one stat).
_ACCESS_RULES_CHECK_S = 2.0


@dataclass
class Services:
    settings: Settings
    kb: KnowledgeBase
    ingest: IngestService
    limiter: AnswerLimiter
    identity: IdentityResolver
    # Uploads (and later the watcher) ingest one file at a time; searches and answers never wait for it.
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    audit: AuditLog | None = None
    watcher: FolderWatcher | None = None
    metrics: Metrics | None = None
    # With RAG_DATABASE_URL, uploads go to the ingest queue for `rag worker` processes; else to threads.
    jobs: UploadJobs | QueuedUploads = field(init=False)
    queued_uploads: bool = False
    _stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        if self.queued_uploads:
            self.jobs = open_uploads(self.settings, self.ingest.ledger)
            return
        self.jobs = UploadJobs(
            self.ingest,
            self.ingest_lock,
            workers=self.settings.ingest_workers,
            on_outcome=self.count_ingested,
        )

    # Every read goes through these three, which narrow it to what ``principal`` may read (inside the
    # store's query) and write the audit line.

    def search(
        self,
        principal: Principal,
        query: str,
        top_k: int,
        mode: SearchMode,
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        hits = self.kb.retriever().search(query, top_k=top_k, mode=mode, filters=principal.scope(filters))
        self.record(principal, "search", question=query, chunks=[h.chunk for h in hits], mode=mode)
        return hits

    def answer(
        self,
        principal: Principal,
        question: str,
        history: Sequence[Message],
        filters: SearchFilters | None = None,
        top_k: int | None = None,
        fallback_to_passages: bool = False,
    ) -> Answer:
        with self.limiter.slot():
            answer = self.answers.answer(
                question,
                history,
                principal.scope(filters),
                top_k=top_k,
                fallback_to_passages=fallback_to_passages,
            )
        self._record_answer(principal, answer)
        return answer

    def answer_events(
        self,
        principal: Principal,
        question: str,
        history: Sequence[Message],
        filters: SearchFilters | None = None,
        top_k: int | None = None,
        fallback_to_passages: bool = False,
    ) -> Iterator[AnswerEvent]:
        """The answer as events, holding an answer slot until they are consumed. Retrieval and the
        model's first token happen before this returns, so an unreachable LLM is a plain HTTP error
        rather than a broken 200 stream."""
        started = self.limiter.acquire()
        try:
            events = self.answers.stream(
                question,
                history,
                principal.scope(filters),
                top_k=top_k,
                fallback_to_passages=fallback_to_passages,
            )
            first = next(events)
        except BaseException:
            self.limiter.release(started)
            raise

        def rest() -> Iterator[AnswerEvent]:
            try:
                for event in itertools.chain([first], events):
                    if event.answer is not None:
                        self._record_answer(principal, event.answer)
                    yield event
            finally:
                self.limiter.release(started)

        return rest()

    def readable_documents(self, principal: Principal) -> list[DocumentRecord]:
        """The documents ``principal`` may read, as the store's access filter says (the same filter as
        every search), in the ledger's order (by source)."""
        if principal.unrestricted:
            return self.ledger.documents()
        readable = self.kb.existing_store().chunk_counts(principal.scope())
        return self.ledger.get_many(list(readable))

    def _record_answer(self, principal: Principal, answer: Answer) -> None:
        """The passages that reached the model (``chunks``) and the ones its answer cites."""
        cited = [c.chunk_id for c in answer.citations]
        doc_ids = list(dict.fromkeys(c.doc_id for c in answer.citations))
        outcome = "refused" if answer.refused else "ok"
        self.record(
            principal,
            "answer",
            question=answer.question,
            chunks=answer.context,
            doc_ids=doc_ids,
            cited=cited,
            outcome=outcome,
        )

    def record(
        self,
        principal: Principal,
        action: str,
        *,
        question: str | None = None,
        chunks: Sequence[Chunk] = (),
        doc_ids: Sequence[str] = (),
        cited: Sequence[str] = (),
        outcome: str = "ok",
        **extra: object,
    ) -> None:
        """One audit line (RAG_AUDIT_LOG): who, what, and which documents and chunks; never their text."""
        if self.audit is None:
            return
        hashes = {c.doc_id: c.sha256 for c in chunks}
        unknown = [doc_id for doc_id in doc_ids if doc_id not in hashes]
        hashes |= dict.fromkeys(unknown, "") | {r.doc_id: r.sha256 for r in self.ledger.get_many(unknown)}
        self.audit.record(
            AuditEvent(
                action=action,
                request_id=request_id_var.get(),
                key=principal.key,
                user=principal.user,
                groups=sorted(principal.groups),
                role=principal.role,
                question=question,
                documents=[AuditDocument(doc_id, sha) for doc_id, sha in hashes.items()],
                chunks=[c.chunk_id for c in chunks],
                cited_chunks=list(cited),
                outcome=outcome,
                extra=extra,
            )
        )

    def follow_access_rules(self) -> None:
        """Label documents by the current access rules now, and again whenever RAG_ACCESS_FILE changes
        (a thread): a rule edited while the server runs re-labels documents without a restart."""
        with self.ingest_lock:
            relabelled = self.ingest.apply_access_rules()
        if relabelled:
            log.info("access rules: %d documents re-labelled", relabelled)

        def follow() -> None:
            while not self._stopping.wait(_ACCESS_RULES_CHECK_S):
                try:
                    if self.ingest.access_rules_changed():
                        with self.ingest_lock:
                            n = self.ingest.apply_access_rules()
                        log.info("access rules changed: %d documents re-labelled", n)
                except Exception:  # a store hiccup must not end the thread; the next round retries
                    log.exception("could not apply the changed access rules; retrying")

        threading.Thread(target=follow, name="access-rules", daemon=True).start()

    def count_ingested(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.ingested.labels(outcome).inc()

    @property
    def ledger(self) -> Ledger:
        return self.ingest.ledger

    @property
    def answers(self) -> AnswerService:
        return self.kb.answer_service()

    def size(self) -> tuple[int, int]:
        try:
            return self.ledger.count(), self.kb.existing_store().count()
        except Exception:  # metrics must never fail a scrape
            return self.ledger.count(), 0

    def close(self) -> None:
        self._stopping.set()
        if self.watcher is not None or self.jobs.running:
            ParsePool.abort_shared()  # the watcher or an upload may be in the middle of a slow file
        self.jobs.close()
        if self.watcher is not None:
            self.watcher.stop()
        self.kb.close()
        self.ingest.close()
        if self.audit is not None:
            self.audit.close()


def _remove_partial_uploads(settings: Settings) -> None:
    """Uploads are written to a hidden .part file first; one left by a crash is never a document."""
    for partial in settings.uploads_dir.glob(".*.part*"):
        log.info("removing an interrupted upload: %s", partial.name)
        partial.unlink(missing_ok=True)


def open_services(
    settings: Settings,
    embedder: Embedder | None = None,
    metrics: Metrics | None = None,
    *,
    serving: bool = False,
) -> Services:
    """The knowledge base, its ingest service and ledger, and the answer limiter. ``serving`` (the HTTP
    API): also open the store now and start the folder watcher; a command opens only what it uses."""
    kb = KnowledgeBase(settings, embedder=embedder)
    if serving:
        if settings.database_url is None:  # with workers, a stored upload waits for one of them
            _remove_partial_uploads(settings)
        try:
            _ = kb.store  # opens (or creates) the store for this embedder; fails fast on a locked data dir
        except ServiceUnavailableError as exc:
            # The embedder is down: serve anyway; /ready says what is wrong and requests retry the open.
            log.warning("starting without the embedder: %s", exc.message)
    services = Services(
        settings=settings,
        kb=kb,
        ingest=IngestService(kb),
        limiter=AnswerLimiter(settings.max_concurrent_answers, settings.answer_queue_limit),
        identity=IdentityResolver(
            make_directory(settings),
            settings.openwebui_jwt_secret.get_secret_value() if settings.openwebui_jwt_secret else None,
            settings.openwebui_jwt_header,
        ),
        audit=AuditLog.from_settings(settings) if serving else None,
        metrics=metrics,
        queued_uploads=serving and settings.database_url is not None,
    )
    if serving:
        services.follow_access_rules()
    if serving and settings.watch_dir is not None:
        # With RAG_DATABASE_URL the watcher queues files for `rag worker`, never ingests here.
        uploads = services.jobs
        jobs = uploads.folder_jobs(services.ingest) if isinstance(uploads, QueuedUploads) else None
        services.watcher = FolderWatcher(
            settings.watch_dir,
            services.ingest,
            lock=services.ingest_lock,
            debounce_s=settings.watch_debounce_s,
            poll=settings.watch_poll,
            poll_interval_s=settings.watch_poll_interval_s,
            exclude=settings.data_dir,
            on_event=lambda what, _detail: (
                services.count_ingested(what) if what not in ("reconciled", "queued") else None
            ),
            queue=jobs,
        ).start()
    return services
