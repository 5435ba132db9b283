"""The `rag` command line, a face like the HTTP API: every command builds Settings once and calls the
services; what it prints comes from api.presentation."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

import click

from api.presentation import display_source, document_json, hit_json
from rag.config import Settings, load_settings
from rag.errors import ConfigError, InputError, RagError, StoreLockedError
from rag.labels import place
from rag.types import SEARCH_MODES, DocumentRecord, SearchFilters, SearchMode

if TYPE_CHECKING:  # the services import the ingest pipeline; a command that asks a server needs none of it
    from collections.abc import Sequence

    from api.remote import ServerClient
    from api.services import Services
    from rag.answer import Answer, AnswerEvent
    from rag.generation import Message

log = logging.getLogger("rag")


class Answers(Protocol):
    """What `rag ask` needs: the local AnswerService or a running server (api.remote.ServerClient)."""

    def answer(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        fallback_to_passages: bool = False,
    ) -> Answer: ...

    def stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        fallback_to_passages: bool = False,
    ) -> Iterator[AnswerEvent]: ...


class RagGroup(click.Group):
    """Turns our errors into one readable line and an exit code; a user never sees a stack trace."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RagError as exc:
            click.echo(f"error: {exc.message}", err=True)
            ctx.exit(1)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:
            log.debug("unexpected error", exc_info=True)
            click.echo(
                f"error: unexpected {exc.__class__.__name__}: {exc}. Run again with RAG_DEBUG=1 for "
                "details, and please report it.",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=RagGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="private-rag")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """private-rag: ask questions of your own documents, on your own servers."""
    _configure_logging()


def _configure_logging() -> None:
    debug = os.environ.get("RAG_DEBUG", "") not in ("", "0")
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "transformers", "sentence_transformers", "unstructured", "pdfminer", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.ERROR)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _services(ctx: click.Context, settings: Settings | None = None) -> Services:
    """What every command opens, through the same function as the HTTP API; closed when it ends."""
    from api.services import open_services

    services = open_services(settings or load_settings())
    ctx.call_on_close(services.close)
    return services


def _server(ctx: click.Context, settings: Settings, as_user: str | None = None) -> ServerClient | None:
    """The `rag serve` that owns this data dir, if one runs: reading commands ask it (no model to load,
    no lock to fight over); closed when the command ends. ``as_user``: ask as that user."""
    from api.server_file import find_server

    info = find_server(settings)
    if info is None:
        return None
    from api.remote import connect

    client = connect(info, settings, as_user)
    if client is not None:
        ctx.call_on_close(client.close)
    return client


# The CLI runs on the machine that holds the data, as its admin: it reads every document, unless told
# to see the knowledge base as one user does.
_as_user = click.option(
    "--as",
    "as_user",
    metavar="USER",
    default=None,
    help="Only what USER (an e-mail or login) may read, with their groups from RAG_GROUPS_FILE or LDAP. "
    "Without it the command reads every document.",
)


def _scope(
    ctx: click.Context, settings: Settings, filters: SearchFilters, as_user: str | None
) -> SearchFilters:
    """``filters`` narrowed to what ``as_user`` may read (unchanged without --as)."""
    if as_user is None:
        return filters
    return _services(ctx, settings).identity.for_user(as_user).scope(filters)


def _refuse_if_served(ctx: click.Context, settings: Settings, instead: str) -> None:
    """Commands that write need the embedded store to themselves: say so at once, naming the server,
    rather than after loading the embedder."""
    if not settings.embedded:
        return  # a Qdrant server is shared; no data-dir lock
    server = _server(ctx, settings)
    if server is not None:
        raise StoreLockedError(
            f"The data dir {settings.data_dir} is in use by {server.info.describe()}, which owns the "
            f"embedded store: `rag {ctx.info_name}` cannot run beside it. {instead}, or stop the server "
            "and run this command again."
        )


@contextmanager
def _loading_model(settings: Settings) -> Iterator[None]:
    """A spinner on a terminal's stderr while the embedder loads (seconds for an in-process model);
    nothing when piped, so --json output and logs stay clean."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    name = settings.embedder_ref.name
    with Console(stderr=True).status(f"Loading the embedding model {name} (`rag serve` keeps it loaded)"):
        yield


@contextmanager
def _progress_bars(enabled: bool = True, transient: bool = False) -> Iterator[Any]:
    """Yields ``bar(label)`` -> ``update(done, total, what)`` on a terminal's stderr (stdout stays clean
    for --json); when piped or disabled, ``bar`` returns None."""
    if not enabled or not sys.stderr.isatty():
        yield lambda label: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.fields[label]:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=transient,
    ) as progress:

        def bar(label: str) -> Any:
            task = progress.add_task("", total=None, label=label)

            def update(done: int, total: int | None, what: str) -> None:
                progress.update(task, completed=done, total=total, description=what)

            return update

        yield bar


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Any]:
    """One bar over files, gone when done; nothing when piped or asked for JSON."""
    with _progress_bars(enabled, transient=True) as bar:
        update = bar(label)
        yield (lambda done, total, path: update(done, total, path.name)) if update else None


def _page_bar(bar: Callable[[str], Any]) -> Callable[[Path, int, int], None]:
    """A second bar, over the pages of a scan being read by OCR: shown from the first such page on
    (called from parse threads, hence the lock)."""
    lock = threading.Lock()
    update: list[Any] = []

    def on_pages(path: Path, done: int, total: int) -> None:
        with lock:
            if not update:
                update.append(bar("OCR pages"))
            update[0](done, total, path.name)

    return on_pages


# -- ingest ----------------------------------------------------------------------------------------


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sync", "remove_missing", is_flag=True, help="Also remove documents whose files are gone.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], remove_missing: bool, as_json: bool) -> None:
    """Add, update (and with --sync remove) the documents under PATHS."""
    settings = load_settings()
    _refuse_if_served(ctx, settings, "Upload through its API (POST /v1/documents) or let it watch a folder")
    service = _services(ctx, settings).ingest
    with _progress_bars(not as_json, transient=True) as bar:
        files = bar("Ingesting")
        service.on_pages = _page_bar(bar) if files else None
        on_progress = (lambda done, total, path: files(done, total, path.name)) if files else None
        report = service.sync(list(paths), remove_missing=remove_missing, on_progress=on_progress)
    if as_json:
        click.echo(json.dumps(report.to_json()))
        return
    click.echo(
        f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"removed {report.removed}, failed {len(report.failed)}"
        + (f", skipped {report.skipped} unsupported" if report.skipped else "")
        + f" ({report.chunks_embedded} chunks embedded)"
    )
    for failure in report.failed:
        click.echo(f"  failed: {failure['path']}: {failure['error']}", err=True)


# -- search ----------------------------------------------------------------------------------------


def _read_queries(handle: TextIO) -> Iterator[tuple[Any, str]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            yield item["id"], str(item["query"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f'Line {number} of the queries file is not a JSON object with "id" and "query": {line[:80]!r}'
            ) from exc


@cli.command()
@click.argument("query", required=False)
@click.option("--queries", type=click.File("r", encoding="utf-8"), help='JSONL file of {"id","query"} lines.')
@click.option("--top-k", "-k", type=click.IntRange(1, 100), default=None, help="Hits per query [RAG_TOP_K].")
@click.option(
    "--mode",
    type=click.Choice(SEARCH_MODES),
    default=None,
    help="Retrieval [RAG_SEARCH_MODE].",
)
@click.option("--source", "sources", multiple=True, help="Only search this document (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_as_user
@click.pass_context
def search(
    ctx: click.Context,
    query: str | None,
    queries: TextIO | None,
    top_k: int | None,
    mode: str | None,
    sources: tuple[str, ...],
    as_json: bool,
    as_user: str | None,
) -> None:
    """Search the knowledge base for QUERY (or every line of --queries)."""
    if (query is None) == (queries is None):
        raise click.UsageError("Give either a QUERY or --queries FILE.jsonl.")
    settings = load_settings()
    k = top_k or settings.top_k
    search_mode = cast(SearchMode, mode or settings.search_mode)
    filters = SearchFilters(sources=[_source_filter(s) for s in sources])
    run = _searcher(ctx, settings, k, search_mode, filters, as_user)
    if queries is not None:
        for query_id, text in _read_queries(queries):
            click.echo(json.dumps({"id": query_id, "hits": run(text)}))
        return
    assert query is not None
    hits = run(query)
    if as_json:
        click.echo(json.dumps({"query": query, "hits": hits}))
        return
    if not hits:
        click.echo("No matches. Ingest documents first with `rag ingest PATH`.")
    for rank, hit in enumerate(hits, start=1):
        click.echo(f"{rank}. {_where(hit)}  (score {hit['score']:.3f})")
        click.echo("   " + " ".join(hit["text"].split())[:300])


def _searcher(
    ctx: click.Context,
    settings: Settings,
    k: int,
    mode: SearchMode,
    filters: SearchFilters,
    as_user: str | None,
) -> Callable[[str], list[dict[str, Any]]]:
    """query -> hits as JSON, from the running server or from our own store."""
    server = _server(ctx, settings, as_user)
    if server is not None:
        return lambda text: server.search(text, k, mode, filters)
    filters = _scope(ctx, settings, filters, as_user)
    with _loading_model(settings):
        retriever = _services(ctx, settings).kb.retriever()
    return lambda text: [hit_json(h) for h in retriever.search(text, top_k=k, mode=mode, filters=filters)]


def _source_filter(value: str) -> str:
    from ingest.service import source_of

    return source_of(Path(value)) if Path(value).exists() else value


def _where(hit: dict[str, Any]) -> str:
    return place(display_source(hit["source"]), hit["page"], hit["section"], ocr=hit.get("ocr", False))


# -- answers ---------------------------------------------------------------------------------------


def _read_history(path: Path | None) -> list[Any]:
    from rag.generation import Message

    if path is None:
        return []
    try:
        raw = path.read_text(encoding="utf-8").strip()
        turns = (
            json.loads(raw)
            if raw.startswith("[")
            else [json.loads(line) for line in raw.splitlines() if line]
        )
        return [Message(t["role"], str(t["content"])) for t in turns if t["role"] in ("user", "assistant")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            f"Could not read the history file {path}: it must be a JSON list (or JSON lines) of "
            '{"role": "user"|"assistant", "content": "..."} objects.'
        ) from exc


def _print_sources(answer: Any) -> None:
    if answer.refused:
        if answer.refusal_reason:
            click.echo(f"({answer.refusal_reason})", err=True)
        return
    if answer.extractive:
        return  # the passages, with their sources, are the answer itself
    if answer.citations:
        click.echo("\nSources:")
    for c in answer.citations:
        where = place(display_source(c.source), c.page, c.section, ocr=c.ocr)
        click.echo(f'  [{c.n}] {where}\n      "{" ".join(c.quote.split())}"')
    if not answer.grounded:
        click.echo("\nwarning: this answer cites no source; check it against the documents.", err=True)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: answer, citations, refused, timings.")
@click.option("--stream", is_flag=True, help="Print the answer as the model writes it.")
@click.option(
    "--history",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Earlier turns for a follow-up question: JSON list of {role, content}.",
)
@click.option("--source", "sources", multiple=True, help="Only use this document (repeatable).")
@click.option(
    "--passages-if-no-llm",
    "fallback",
    is_flag=True,
    help="If the LLM cannot be reached, show the cited passages instead of failing (the quick start).",
)
@_as_user
@click.pass_context
def ask(
    ctx: click.Context,
    question: str,
    as_json: bool,
    stream: bool,
    history: Path | None,
    sources: tuple[str, ...],
    fallback: bool,
    as_user: str | None,
) -> None:
    """Answer QUESTION from the documents, citing its sources."""
    settings = load_settings()
    filters = SearchFilters(sources=[_source_filter(s) for s in sources])
    turns = _read_history(history)
    # The running server answers, with its settings.
    service: Answers | None = _server(ctx, settings, as_user)
    if service is None:
        filters = _scope(ctx, settings, filters, as_user)
        with _loading_model(settings):
            service = _services(ctx, settings).answers
    if as_json or not stream:
        answer = service.answer(question, turns, filters, fallback_to_passages=fallback)
        if as_json:
            click.echo(json.dumps(answer.to_json()))
            return
        click.echo(answer.answer)
        _print_sources(answer)
        return
    final = None
    for event in service.stream(question, turns, filters, fallback_to_passages=fallback):
        if event.kind == "token":
            click.echo(event.text, nl=False)
        else:
            final = event.answer
    assert final is not None
    if final.withheld:
        from rag.prompt import WITHHELD_NOTICE

        click.echo("\n\n" + WITHHELD_NOTICE)
    elif final.refused or final.extractive:
        click.echo(final.answer)
    else:
        click.echo()
    _print_sources(final)


# -- documents -------------------------------------------------------------------------------------


def _local_documents(ctx: click.Context, settings: Settings, as_user: str | None) -> list[DocumentRecord]:
    services = _services(ctx, settings)
    if as_user is None:
        return services.ledger.documents()
    return services.readable_documents(services.identity.for_user(as_user))


@cli.command()
@click.option("--failed", is_flag=True, help="List files that could not be ingested, with the reason.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_as_user
@click.pass_context
def docs(ctx: click.Context, failed: bool, as_json: bool, as_user: str | None) -> None:
    """List ingested documents (or, with --failed, the files that failed)."""
    settings = load_settings()
    server = _server(ctx, settings, as_user)
    if failed:
        if server is not None:
            rows = server.failures()
        else:
            failures = _services(ctx, settings).ledger.failures()
            rows = [{"source": f.source, "error": f.error, "failed_at": f.failed_at} for f in failures]
        if as_json:
            click.echo(json.dumps({"failed": rows}))
        for row in [] if as_json else rows:
            click.echo(f"{display_source(row['source'])}: {row['error']}")
        return
    if server is not None:
        documents = server.documents()
    else:
        documents = [document_json(r) for r in _local_documents(ctx, settings, as_user)]
    if as_json:
        click.echo(json.dumps({"documents": documents}))
        return
    if not documents:
        click.echo("No documents yet: `rag ingest PATH` adds some.")
    for d in documents:
        where = display_source(d["source"])
        click.echo(f"{where}  {d['chunks']} chunks  {d['hash'][:12]}  {d['ingested_at']}")


@cli.command()
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def rm(ctx: click.Context, source: str, as_json: bool) -> None:
    """Remove one document (by path, source or id) from the knowledge base. The file is not touched."""
    settings = load_settings()
    _refuse_if_served(ctx, settings, "Remove it through its API (DELETE /v1/documents/{doc_id})")
    record = _services(ctx, settings).ingest.remove(source)
    if as_json:
        click.echo(json.dumps({"removed": record.source, "doc_id": record.doc_id, "chunks": record.chunks}))
    else:
        click.echo(f"removed {display_source(record.source)} ({record.chunks} chunks)")


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
@click.pass_context
def reindex(ctx: click.Context, yes: bool, as_json: bool) -> None:
    """Rebuild the index with the current RAG_EMBEDDER from the files already ingested."""
    settings = load_settings()
    _refuse_if_served(ctx, settings, "Re-indexing replaces the whole index")
    if not yes:
        click.confirm("Drop the index and re-embed every ingested file? (files are not touched)", abort=True)
    service = _services(ctx, settings).ingest
    with _progress(not as_json, "Re-indexing") as on_progress:
        report = service.reindex(on_progress=on_progress)
    click.echo(json.dumps(report.to_json()) if as_json else f"re-indexed {report.added} documents")


# -- evaluation ------------------------------------------------------------------------------------


@cli.command(name="eval")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option(
    "--docs",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Documents folder for a questions.jsonl file [default: the file's folder].",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="Evaluate only the first N queries.")
@click.option(
    "--split",
    type=click.Choice(["dev", "test"]),
    default=None,
    help="Only the questions of this split (dev: tune on it; test: the held-out final check).",
)
@click.option("--no-answers", is_flag=True, help="Retrieval metrics only, even when an LLM is configured.")
@click.option(
    "--embedding-cache",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep embeddings in this SQLite file across runs, so re-running after a retrieval or gate "
    "change only embeds texts that changed.",
)
@click.option(
    "--baseline",
    is_flag=True,
    help="Also score a naive pipeline (800-character windows, rank-bm25 + the same embedder, RRF) "
    "in the same run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with every metric.")
def evaluate(
    dataset: Path,
    docs: Path | None,
    limit: int | None,
    split: str | None,
    no_answers: bool,
    embedding_cache: Path | None,
    baseline: bool,
    as_json: bool,
) -> None:
    """Measure retrieval (dense, BM25, hybrid, hybrid+rerank) and answer quality on DATASET.

    DATASET is a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) or a folder of documents
    with a questions.jsonl, like sample_docs/. It is indexed in a temporary folder: your knowledge
    base is not touched.
    """
    from ingest.evaluation import baseline_documents, eval_index
    from rag.evaluation.dataset import load_dataset
    from rag.evaluation.report import render
    from rag.evaluation.run import run_evaluation

    settings = load_settings()
    loaded = load_dataset(dataset, docs, split)
    embedder = None
    if embedding_cache is not None:
        from rag.embedding import make_embedder
        from rag.evaluation.embedding_cache import CachedEmbedder

        embedder = CachedEmbedder(make_embedder(settings), embedding_cache)
    try:
        with (
            _progress_bars() as progress,
            eval_index(loaded, settings, embedder, progress("Indexing")) as index,
        ):
            result = run_evaluation(
                loaded,
                index,
                with_answers=not no_answers,
                baseline_documents=baseline_documents(loaded) if baseline else None,
                limit=limit,
                progress=progress,
            )
    finally:
        if embedder is not None:
            embedder.close()
    click.echo(json.dumps(result, indent=1) if as_json else render(result))


# -- permissions and audit ---------------------------------------------------------------------


@cli.group()
def access() -> None:
    """Who may read which documents (RAG_ACCESS_FILE, RAG_DEFAULT_ACCESS)."""


@access.command(name="check")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--user", default=None, metavar="USER", help="Also say whether USER may read it, and why.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def access_check(ctx: click.Context, path: Path, user: str | None, as_json: bool) -> None:
    """Who may read the document at PATH, and which rule decided it."""
    from ingest.service import source_of

    settings = load_settings()
    services = _services(ctx, settings)
    source = source_of(path)
    record = services.ledger.by_source(source)
    decision = services.ingest.access.decide(source, record.access_override if record else None)
    labels = decision.access.labels()
    result: dict[str, Any] = {
        "source": source,
        "groups": list(decision.access.groups),
        "users": list(decision.access.users),
        "rule": decision.rule,
        "ingested": record is not None,
        "labels_applied": record is not None and record.access == labels,
    }
    if user is not None:
        principal = services.identity.for_user(user)
        result["user"] = {"name": principal.user, "groups": sorted(principal.groups)}
        result["user"]["may_read"] = principal.may_read(labels)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(display_source(source))
    click.echo(f"  readable by: {decision.access.describe()}")
    click.echo(f"  decided by:  {decision.rule}")
    if record is None:
        click.echo("  not ingested yet: its chunks get these labels when it is.")
    elif not result["labels_applied"]:
        click.echo(
            f"  its chunks still carry {', '.join(record.access) or 'no labels'}: a running server "
            "re-labels them within seconds, `rag ingest` does it at once."
        )
    if user is not None:
        verdict = "may read it" if result["user"]["may_read"] else "may NOT read it"
        groups = ", ".join(result["user"]["groups"]) or "no groups"
        click.echo(f"  {user} ({groups}) {verdict}.")


@cli.group()
def audit() -> None:
    """The audit trail (RAG_AUDIT_LOG)."""


@audit.command(name="verify")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_verify(path: Path | None, as_json: bool) -> None:
    """Check that no line of the audit trail (PATH, default RAG_AUDIT_LOG, with its rotated files) was
    removed, edited or reordered. Exits 1 when the chain is broken."""
    from dataclasses import asdict

    from api.audit import format_verification, verify

    if path is None:
        target = load_settings().audit_log
        if not target or target == "-":
            raise click.UsageError("Give the audit file to check: RAG_AUDIT_LOG is not a file.")
        path = Path(target)
    result = verify(path)
    if as_json:
        click.echo(json.dumps(asdict(result), default=str))
    else:
        click.echo(format_verification(result))
    if not result.ok:
        raise SystemExit(1)


# -- watched folder ----------------------------------------------------------------------------


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--poll", is_flag=True, default=None, help="Poll instead of inotify [RAG_WATCH_POLL].")
@click.option("--once", is_flag=True, help="Reconcile the folder once and exit (no watching).")
@click.pass_context
def watch(ctx: click.Context, folder: Path, poll: bool | None, once: bool) -> None:
    """Keep the index in step with FOLDER: new, changed, moved and deleted files. Ctrl-C stops."""
    import signal
    import threading

    from ingest.watcher import FolderWatcher

    settings = load_settings()
    _refuse_if_served(ctx, settings, "Let the server watch the folder (`rag serve --watch`)")
    services = _services(ctx, settings)
    kb, service = services.kb, services.ingest
    jobs = None
    if settings.database_url is not None:  # `rag worker` processes ingest: this only queues the changes
        from ingest.worker_uploads import require_queue_packages

        require_queue_packages()
        from ingest.worker import FolderJobs, open_queue

        queue = open_queue(settings)
        ctx.call_on_close(queue.close)
        jobs = FolderJobs(service, queue)
    else:
        with _loading_model(settings):
            _ = kb.store  # load the embedder and open the store now, not on the first dropped file

    def show(what: str, detail: str) -> None:
        click.echo(f"{what:>10}  {detail}", err=what == "failed")

    watcher = FolderWatcher(
        folder,
        service,
        debounce_s=settings.watch_debounce_s,
        poll=settings.watch_poll if poll is None else poll,
        poll_interval_s=settings.watch_poll_interval_s,
        exclude=settings.data_dir,
        on_event=show,
        queue=jobs,
    ).start()
    if once:
        watcher.wait_idle(timeout=24 * 3600)
        watcher.stop()
        return
    click.echo(f"watching {watcher.root} (Ctrl-C to stop)", err=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        _, detail = watcher.health(wedged_after_s=settings.file_timeout_s + 120)
        click.echo(f"stopped. {detail}", err=True)


# -- ingest workers (RAG_DATABASE_URL) ---------------------------------------------------------


@cli.command()
def worker() -> None:
    """Take ingest jobs from the queue in PostgreSQL (RAG_DATABASE_URL) until stopped. Run one per core,
    on as many machines as you like; SIGTERM (or Ctrl-C) finishes the file in hand, then stops."""
    from ingest.worker_uploads import require_queue_packages

    settings = load_settings()
    require_queue_packages()
    from ingest.worker import queue_settings, run_worker, worker_name

    queue_settings(settings)  # RAG_DATABASE_URL unset: say so before loading anything
    for noisy in ("procrastinate", "psycopg.pool"):  # a lost database is said once, below, not per retry
        logging.getLogger(noisy).setLevel(logging.DEBUG if _debug() else logging.CRITICAL)

    def show(what: str, detail: str) -> None:
        click.echo(f"{what:>10}  {detail}", err=what in ("failed", "retrying"))

    click.echo(f"worker {worker_name()} taking ingest jobs (SIGTERM or Ctrl-C stops)", err=True)
    done = run_worker(settings, show)
    click.echo(f"stopped after {done} jobs", err=True)


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the counts.")
def scan(folder: Path, as_json: bool) -> None:
    """Queue jobs for what changed in FOLDER since the ledger last saw it (new, changed and deleted
    files); `rag worker` processes ingest them. Needs RAG_DATABASE_URL."""
    from ingest.service import IngestService
    from ingest.worker_uploads import require_queue_packages
    from rag.knowledge_base import KnowledgeBase

    settings = load_settings()
    require_queue_packages()
    from ingest.worker import describe_scan, open_queue
    from ingest.worker import scan as scan_folder

    with open_queue(settings) as queue, IngestService(KnowledgeBase(settings)) as service:
        report = scan_folder(service, queue, folder)
    click.echo(json.dumps(report.to_json()) if as_json else describe_scan(report))


def _debug() -> bool:
    return os.environ.get("RAG_DEBUG", "") not in ("", "0")


# -- server --------------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, help="Address to listen on [RAG_HOST, default 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port [RAG_PORT, default 8000].")
@click.option(
    "--watch",
    "watch_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also keep the index in step with this folder [RAG_WATCH_DIR].",
)
def serve(host: str | None, port: int | None, watch_dir: Path | None) -> None:
    """Run the REST API (and the OpenAI-compatible endpoint) with uvicorn."""
    import uvicorn

    from api.app import create_app
    from api.auth import check_auth_policy
    from api.observability import configure_server_logging
    from api.server_file import advertise, server_url, withdraw
    from api.services import open_services

    settings = load_settings()
    if watch_dir is not None:
        settings = settings.model_copy(update={"watch_dir": watch_dir})
    host = host or settings.host
    port = port or settings.port
    check_auth_policy(settings, host)
    configure_server_logging(debug=os.environ.get("RAG_DEBUG", "") not in ("", "0"))
    # The port first (a second server fails at once, naming the setting), then the data dir and the
    # models: both fail as one line, before anything says it is running.
    sock = _bind(host, port)
    services = open_services(settings, serving=True)
    try:
        app = create_app(settings, services=services)
    except BaseException:
        services.close()
        raise
    click.echo(f"private-rag API on http://{host}:{port} (docs at /docs)", err=True)
    url = server_url(host, port)

    class Server(uvicorn.Server):
        """Names itself in the data dir once it accepts connections (`rag search` and friends then ask
        it), and withdraws the name as soon as it starts to stop."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                advertise(settings, url)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            withdraw(settings)
            await super().shutdown(sockets)

    try:
        Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5)).run(sockets=[sock])
    finally:
        withdraw(settings)


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc}): another program may be using the "
            "port. Choose another with --port or RAG_PORT."
        ) from exc
    sock.set_inheritable(True)
    return sock


def main() -> None:
    cli(prog_name="rag")


if __name__ == "__main__":
    main()
