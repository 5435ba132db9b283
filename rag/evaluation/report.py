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
    header = f"{'mode':<15}" + "".join(f"{name:>11}" for name in RETRIEVAL_METRICS) + f"{'ms/query':>11}"
    rows = [header, "-" * len(header)]
    for mode, scores in modes.items():
        if scores.get("available") is False:
            rows.append(f"{mode:<15}  unavailable: {scores['reason']}")
            continue
        rows.append(
            f"{mode:<15}"
            + "".join(f"{scores[name]:>11.3f}" for name in RETRIEVAL_METRICS)
            + f"{scores['ms_per_query']:>11.1f}"
        )
    return "\n".join(rows)


def _gate(gate: dict[str, Any]) -> str:
    if not gate.get("available", True):
        return f"Relevance gate: not calibrated ({gate['reason']})."
    verdict = "separates them" if gate["separable"] else "cannot separate them fully"
    return (
        "Relevance gate: closest-passage similarity of answerable questions "
        f">= {gate['answerable_min']:.3f}, "
        f"unanswerable <= {gate['unanswerable_max']:.3f} ({verdict}). Current threshold "
        f"{gate['current']:.3f} classifies {gate['current_accuracy']:.0%} right; suggested "
        f"RAG_MIN_RELEVANCE={gate['suggested']:.3f} ({gate['suggested_accuracy']:.0%})."
    )


def _answers(answers: dict[str, Any]) -> str:
    if not answers.get("available"):
        return f"Answers: not evaluated ({answers['reason']})."
    rows = [f"Answers by {answers['model']} ({answers['questions']} questions):"]
    labels = {
        "refusal_accuracy": "unanswerable questions refused",
        "false_refusal_rate": "answerable questions refused",
        "citation_precision": "citation precision (cited chunk holds the evidence)",
        "citation_document_precision": "citations to a relevant document",
        "cited_relevant_document_rate": "answers citing a relevant document",
        "answer_correctness": "answer correctness (string or semantic match)",
        "answer_correctness_string_only": "answer correctness (string match only)",
    }
    for key, label in labels.items():
        value = answers.get(key)
        rows.append(f"  {label:<55} {'n/a' if value is None else format(value, '.0%'):>6}")
    return "\n".join(rows)
