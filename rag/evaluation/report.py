"""The table `rag eval` prints for people (the JSON holds the same numbers and more)."""

from __future__ import annotations

from typing import Any

from rag.evaluation.metrics import RETRIEVAL_METRICS


def render(result: dict[str, Any]) -> str:
    data = result["dataset"]
    lines = [
        f"Dataset {data['path']} ({data['format']}): {data['documents']} documents, {data['chunks']} chunks, "
        f"{data['judged_queries']} judged queries"
        + (f", {data['unanswerable_queries']} unanswerable" if data["unanswerable_queries"] else "")
        + f"; embedder {result['embedder']}",
        "",
        _retrieval_table(result["retrieval"]),
    ]
    for failure in result["index_failures"]:
        lines.append(f"  not indexed: {failure['path']}: {failure['error']}")
    lines += ["", _gate(result["relevance_gate"]), "", _answers(result["answers"])]
    return "\n".join(lines)


def _retrieval_table(modes: dict[str, dict[str, Any]]) -> str:
    columns = [*RETRIEVAL_METRICS]
    if any("passage@5" in scores for scores in modes.values()):
        columns += ["passage@1", "passage@5", "passage_mrr@10"]
    width = max(15, *(len(mode) + 1 for mode in modes))
    header = f"{'mode':<{width}}" + "".join(f"{name:>15}" for name in columns) + f"{'ms/query':>10}"
    rows = [header, "-" * len(header)]
    for mode, scores in modes.items():
        if scores.get("available") is False:
            rows.append(f"{mode:<{width}}  unavailable: {scores['reason']}")
            continue
        rows.append(
            f"{mode:<{width}}"
            + "".join(f"{scores.get(name, float('nan')):>15.3f}" for name in columns)
            + f"{scores['ms_per_query']:>10.1f}"
        )
    notes = [f"  hybrid fusion: {modes['hybrid']['fusion']}"] if "fusion" in modes.get("hybrid", {}) else []
    if "description" in modes.get("naive baseline", {}):
        notes.append(f"  naive baseline: {modes['naive baseline']['description']}")
    return "\n".join(rows + notes)


def _gate(gate: dict[str, Any]) -> str:
    if not gate.get("available", True):
        return f"Relevance gate: not calibrated ({gate['reason']})."

    def line(name: str, g: dict[str, Any]) -> str:
        return (
            f"  {name:<10} RAG_MIN_RELEVANCE={g['min_relevance']:.3f} "
            f"RAG_MIN_KEYWORD_SHARE={g['min_keyword_share']:.2f}: "
            f"refuses {g['false_refusal_rate']:.0%} of answerable and {g['unanswerable_refused']:.0%} of "
            "unanswerable questions before the LLM"
        )

    rows = ["Relevance gate:", line("current", gate["current"])]
    if gate["suggested"] is not None:
        rows.append(line("suggested", gate["suggested"]))
    for kind in ("answerable", "unanswerable"):
        spread = gate[f"{kind}_similarity"]
        if spread:
            rows.append(
                f"  closest-passage similarity, {kind}: min {spread['min']:.3f}, 5th percentile "
                f"{spread['p05']:.3f}, median {spread['median']:.3f}, max {spread['max']:.3f}"
            )
    return "\n".join(rows)


def _answers(answers: dict[str, Any]) -> str:
    if not answers.get("available"):
        return f"Answers: not evaluated ({answers['reason']})."
    rows = [f"Answers by {answers['model']} ({answers['questions']} questions):"]
    labels = {
        "refusal_accuracy": "unanswerable questions refused",
        "false_refusal_rate": "answerable questions refused",
        "citation_precision": "citation precision (cited chunk holds the evidence)",
        "support_precision": "support precision (cited chunk holds the evidence span)",
        "citation_document_precision": "citations to a relevant document",
        "cited_relevant_document_rate": "answers citing a relevant document",
        "answer_correctness": "answer correctness (string or semantic match)",
        "answer_correctness_string_only": "answer correctness (string match only)",
    }
    for key, label in labels.items():
        value = answers.get(key)
        rows.append(f"  {label:<55} {'n/a' if value is None else format(value, '.0%'):>6}")
    if "withheld_answerable" in answers:
        rows.append(
            f"  {'answers withheld (no passage supports them)':<55} "
            f"{answers['withheld_answerable']:>3} answerable, {answers['withheld_unanswerable']} unanswerable"
        )
    if answers.get("outcomes"):
        rows += ["", _outcomes(answers["outcomes"])]
    return "\n".join(rows)


_OUTCOME_COLUMNS = {
    "answered_supported": "supported",
    "answered_unsupported": "unsupported",
    "refused": "refused",
    "answered": "answered",
}


def _outcomes(matrix: dict[str, dict[str, int]]) -> str:
    """The confusion matrix per question type; "-" where a cell does not apply to the type."""
    width = max(16, *(len(kind) + 2 for kind in matrix))
    rows = [
        "  Outcomes per question type (answerable: answered with a supporting citation, answered",
        "  without one, refused; unanswerable: refused, answered):",
        f"  {'type':<{width}}{'questions':>10}"
        + "".join(f"{label:>12}" for label in _OUTCOME_COLUMNS.values()),
    ]
    for kind, counts in matrix.items():
        cells = "".join(f"{counts.get(key, '-'):>12}" for key in _OUTCOME_COLUMNS)
        rows.append(f"  {kind:<{width}}{counts['questions']:>10}{cells}")
    return "\n".join(rows)
