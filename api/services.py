"""Everything a command or a request needs, opened by one function for the CLI and the HTTP API alike,
and closed together."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from api.limits import AnswerLimiter
from api.observability import Metrics
from ingest.jobs import UploadJobs
from ingest.ledger import Ledger
from ingest.sandbox import ParsePool
from ingest.service import IngestService
from ingest.watcher import FolderWatcher
from rag.answer import Answer, AnswerEvent, AnswerService
from rag.config import Settings
from rag.embedding import Embedder
from rag.errors import ServiceUnavailableError
from rag.generation import Message
from rag.knowledge_base import KnowledgeBase
from rag.types import SearchFilters

log = logging.getLogger("rag.api")


@dataclass
class Services:
    settings: Settings
    kb: KnowledgeBase
    ingest: IngestService
    limiter: AnswerLimiter
    # Uploads (and later the watcher) ingest one file at a time; searches and answers never wait for it.
    ingest_lock: threading.Lock = field(default_factory=threading.Lock)
    watcher: FolderWatcher | None = None
    metrics: Metrics | None = None
    jobs: UploadJobs = field(init=False)

    def __post_init__(self) -> None:
        self.jobs = UploadJobs(
            self.ingest,
            self.ingest_lock,
            workers=self.settings.ingest_workers,
            on_outcome=self.count_ingested,
        )

    def answer(
        self,
        question: str,
        history: Sequence[Message],
        filters: SearchFilters | None = None,
        top_k: int | None = None,
        fallback_to_passages: bool = False,
    ) -> Answer:
        with self.limiter.slot():
            return self.answers.answer(
                question, history, filters, top_k=top_k, fallback_to_passages=fallback_to_passages
            )

    def answer_events(
        self,
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
                question, history, filters, top_k=top_k, fallback_to_passages=fallback_to_passages
            )
            first = next(events)
        except BaseException:
            self.limiter.release(started)
            raise

        def rest() -> Iterator[AnswerEvent]:
            try:
                yield first
                yield from events
            finally:
                self.limiter.release(started)

        return rest()

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
        if self.watcher is not None or self.jobs.running:
            ParsePool.abort_shared()  # the watcher or an upload may be in the middle of a slow file
        self.jobs.close()
        if self.watcher is not None:
            self.watcher.stop()
        self.kb.close()
        self.ingest.close()


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
        metrics=metrics,
    )
    if serving and settings.watch_dir is not None:
        services.watcher = FolderWatcher(
            settings.watch_dir,
            services.ingest,
            lock=services.ingest_lock,
            debounce_s=settings.watch_debounce_s,
            poll=settings.watch_poll,
            poll_interval_s=settings.watch_poll_interval_s,
            exclude=settings.data_dir,
            on_event=lambda what, _detail: services.count_ingested(what) if what != "reconciled" else None,
        ).start()
    return services
