"""Redaction measured against the anchors: Tastevin's redactor, Microsoft Presidio's pattern
recognizers and Yelp detect-secrets on the same labelled corpus (tests/sampler/redaction_corpus.py).

    .venv/bin/python benchmarks/bench_redaction.py            # the whole corpus (~1 minute)
    .venv/bin/python benchmarks/bench_redaction.py --quick    # every 8th case (used by the tests)

Presidio runs offline: its AnalyzerEngine with the predefined recognizers (plus UK NINO,
which is not in its default English registry) on a blank spaCy pipeline, whose tokens are
their own lemmas so context words still raise scores; no model is downloaded, so its NER
recognizer finds nothing, which is the point: only its patterns are compared. It is shown
twice: every result (its default, score threshold 0) and results scoring at least 0.4.
detect-secrets runs every plugin (``default_settings``) through ``scan_file`` on each text
written to a .txt file (its ad-hoc ``scan_line`` mode is "eager" and calls every word a
high-entropy string); a finding is located by its secret value in its line.

Per kind (a corpus row): recall = labelled values a tool's spans overlap / labelled values;
precision = the tool's spans in that row's cases that overlap a labelled value / all its
spans there (look-alikes of a kind count in its row). Overlap is what the anchors report
(detect-secrets names a PEM block by its header line); Tastevin is also held to removing
every labelled value whole, which the tests assert. "—" means the tool made no span there.
Needs the dev extra: ``pip install 'tastevin[dev]'`` (presidio-analyzer, detect-secrets).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from sampler.redact import Redactor  # noqa: E402
from tests.sampler.redaction_corpus import CASES, DETECT_SECRETS_ROWS, PRESIDIO_ROWS, Case  # noqa: E402

console = Console(width=200)
Spans = list[tuple[int, int]]
Tool = Callable[[str], Spans]
_KEEP_ALIVE: list[Any] = []


def tastevin_tool() -> Tool:
    redactor = Redactor()

    def run(text: str) -> Spans:
        return [(s.start, s.end) for s in redactor.spans(text)]

    return run


def presidio_tool(threshold: float) -> Tool:
    import spacy
    import tldextract.tldextract
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpArtifacts, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import UkNinoRecognizer

    class BlankSpacyEngine(SpacyNlpEngine):
        """spaCy's tokenizer alone: no model to download; a token is its own lemma."""

        def __init__(self) -> None:
            super().__init__(models=[{"lang_code": "en", "model_name": "blank:en"}])

        def load(self) -> None:
            self.nlp = {"en": spacy.blank("en")}

        def _doc_to_nlp_artifact(self, doc: spacy.tokens.Doc, language: str) -> NlpArtifacts:
            for token in doc:
                token.lemma_ = token.lower_
            return super()._doc_to_nlp_artifact(doc, language)

    # Presidio validates e-mail domains with tldextract, which would fetch the public
    # suffix list over the network: its bundled snapshot is enough and keeps the run offline.
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    engine = BlankSpacyEngine()
    engine.load()
    registry = RecognizerRegistry()
    registry.load_predefined_recognizers(nlp_engine=engine, languages=["en"])
    registry.add_recognizer(UkNinoRecognizer())
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])

    def run(text: str) -> Spans:
        return [(r.start, r.end) for r in analyzer.analyze(text, language="en", score_threshold=threshold)]

    return run


def detect_secrets_tool() -> Tool:
    from detect_secrets.core.scan import scan_file
    from detect_secrets.settings import default_settings

    _KEEP_ALIVE.append(default_settings())  # all plugins, for the life of the process (its exit restores)
    _KEEP_ALIVE[-1].__enter__()
    directory = tempfile.TemporaryDirectory()
    _KEEP_ALIVE.append(directory)
    path = Path(directory.name) / "sample.txt"

    def run(text: str) -> Spans:
        # scan_file is how detect-secrets scans (scan_line, its ad-hoc mode, is "eager" and
        # reports every word as a high-entropy string).
        path.write_text(text, encoding="utf-8")
        lines = text.split("\n")
        starts = [0]
        for line in lines:
            starts.append(starts[-1] + len(line) + 1)
        spans: Spans = []
        for secret in scan_file(str(path)):
            index = secret.line_number - 1
            line = lines[index] if 0 <= index < len(lines) else ""
            value = secret.secret_value or ""
            at = line.find(value) if value else -1
            offset = starts[index] if 0 <= index < len(lines) else 0
            if at >= 0:
                spans.append((offset + at, offset + at + len(value)))
            else:  # a finding without a locatable value: the whole line
                spans.append((offset, offset + len(line)))
        return spans

    return run


def _labelled(case: Case) -> Spans:
    out = []
    for value in case.values:
        at = case.text.find(value)
        out.append((at, at + len(value)))
    return out


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(tool: Tool, cases: list[Case]) -> tuple[dict[str, dict[str, int]], float, int]:
    """Per row: tp_labels, labels, tp_spans, spans; and µs per text, must-keep cases changed."""
    stats: dict[str, dict[str, int]] = defaultdict(lambda: {"hit": 0, "labels": 0, "good": 0, "spans": 0})
    changed = 0
    elapsed = 0.0
    for case in cases:
        t0 = time.perf_counter()
        spans = tool(case.text)
        elapsed += time.perf_counter() - t0
        labels = _labelled(case)
        row = stats[case.row]
        row["labels"] += len(labels)
        row["hit"] += sum(any(_overlaps(label, s) for s in spans) for label in labels)
        row["spans"] += len(spans)
        row["good"] += sum(any(_overlaps(s, label) for label in labels) for s in spans)
        if case.must_keep and spans:
            changed += 1
    return stats, elapsed / len(cases) * 1e6, changed


def _ratio(num: int, den: int) -> float | None:
    return None if den == 0 else num / den


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every 8th case: a smoke run, not a measurement")
    args = parser.parse_args()
    cases = CASES[::8] if args.quick else CASES
    logging.disable(logging.WARNING)  # presidio and spaCy are chatty about the blank pipeline
    warnings.filterwarnings("ignore")

    t0 = time.perf_counter()
    tools: dict[str, Tool] = {
        "tastevin": tastevin_tool(),
        "presidio": presidio_tool(0.0),
        "presidio≥0.4": presidio_tool(0.4),
        "detect-secrets": detect_secrets_tool(),
    }
    load_s = time.perf_counter() - t0
    results = {name: evaluate(tool, cases) for name, tool in tools.items()}
    positives = sum(not c.must_keep for c in cases)
    console.print(
        f"[bold]Redaction recall and precision per kind[/] ({len(cases)} cases: {positives} labelled, "
        f"{len(cases) - positives} look-alikes; anchors loaded in {load_s:.1f} s)"
    )

    rows = sorted({c.row for c in cases if not c.must_keep})
    table = Table(title="Per kind: recall / precision (— = no span)")
    table.add_column("kind")
    table.add_column("n", justify="right")
    for name in tools:
        table.add_column(f"{name} R", justify="right")
        table.add_column(f"{name} P", justify="right")
    table.add_column("anchors", justify="left")
    table.add_column("ok")
    failing: list[str] = []
    for row in rows:
        cells = [row, str(results["tastevin"][0][row]["labels"])]
        recall: dict[str, float | None] = {}
        precision: dict[str, float | None] = {}
        for name, (stats, _, _) in results.items():
            s = stats[row]
            recall[name] = _ratio(s["hit"], s["labels"])
            precision[name] = _ratio(s["good"], s["spans"])
            cells += [_fmt(recall[name]), _fmt(precision[name])]
        anchors = [n for n, rows_covered in (("presidio", PRESIDIO_ROWS), ("detect-secrets", DETECT_SECRETS_ROWS))
                   if row in rows_covered]  # fmt: skip
        ours_r, ours_p = recall["tastevin"] or 0.0, precision["tastevin"]
        ok = ours_r >= 0.99 and (ours_p is None or ours_p >= 0.99)
        for anchor in anchors:
            for variant in [anchor] + (["presidio≥0.4"] if anchor == "presidio" else []):
                ok = ok and ours_r >= (recall[variant] or 0.0)
                ok = ok and (ours_p is None or precision[variant] is None or ours_p >= precision[variant])  # type: ignore[operator]
        if not ok:
            failing.append(row)
        cells += [", ".join(anchors) or "—", "[green]yes[/]" if ok else "[red]NO[/]"]
        table.add_row(*cells)
    console.print(table)

    summary = Table(title="Overall")
    for col in ("tool", "recall", "precision", "look-alikes changed", "µs per text"):
        summary.add_column(col, justify="right")
    for name, (stats, us, changed) in results.items():
        hit = sum(s["hit"] for s in stats.values())
        labels = sum(s["labels"] for s in stats.values())
        good = sum(s["good"] for s in stats.values())
        spans = sum(s["spans"] for s in stats.values())
        keep = len(cases) - positives
        summary.add_row(name, _fmt(_ratio(hit, labels)), _fmt(_ratio(good, spans)), f"{changed} / {keep}", f"{us:,.1f}")
    console.print(summary)
    goal = "met on every kind" if not failing else f"NOT met on: {', '.join(failing)}"
    console.print(f"Goal (recall ≥ 99% per kind, precision ≥ 99%, at or above both anchors): {goal}")
    for context in reversed(_KEEP_ALIVE):
        context.__exit__(None, None, None)


if __name__ == "__main__":
    main()
