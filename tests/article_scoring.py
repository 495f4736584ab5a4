"""Scoring imported routines against hand labels, as the import corpus's README asks:
steps matched in order by name, then hold, sides and reps on the matched steps. Used by
``scripts/bench import`` (the development corpus, and the project's own articles) and by
tests/test_importer.py (the project's own articles under tests/articles/)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from pathlib import Path

#: Names at least this alike (difflib ratio, lower case) are the same stretch.
NAME_MATCH = 0.6
#: The project's own labelled articles.
OWN_ARTICLES = Path(__file__).resolve().parent / "articles"
#: Held-out articles: written and labelled before the importer was run on them, scored
#: first as the importer stood (the held-out estimate), then improved on (the blind set)
#: or not (the fresh set).
BLIND_ARTICLES = Path(__file__).resolve().parent / "articles_blind"
FRESH_ARTICLES = Path(__file__).resolve().parent / "articles_fresh"


@dataclass
class Score:
    """Counts over one or more articles; the ratios are properties."""

    labels: int = 0
    found: int = 0
    matched: int = 0
    hold: int = 0
    hold_scored: int = 0
    sides: int = 0
    reps: int = 0

    def __add__(self, other: Score) -> Score:
        return Score(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def precision(self) -> float:
        return self.matched / max(1, self.found)

    @property
    def recall(self) -> float:
        return self.matched / max(1, self.labels)

    @property
    def f1(self) -> float:
        both = self.precision + self.recall
        return 2 * self.precision * self.recall / both if both else 0.0

    @property
    def fields_right(self) -> float:
        """Hold, sides and reps together: the share of scored fields that are right."""
        right = self.hold + self.sides + self.reps
        return right / max(1, self.hold_scored + 2 * self.matched)


def match_steps(predicted: list[str], labels: list[str | None]) -> list[tuple[int, int]]:
    """Pairs (label, predicted) matched in order: the most pairs, then the most alike names.

    An unnamed label (None) matches by position: any predicted step that fits the order.
    """

    def score(label: str | None, name: str) -> float:
        if label is None:
            return 0.5
        ratio = difflib.SequenceMatcher(None, label.lower(), name.lower()).ratio()
        return ratio if ratio >= NAME_MATCH else -1.0

    rows, cols = len(labels), len(predicted)
    # best[i][j]: (pairs, similarity) over labels[i:] and predicted[j:]
    best = [[(0, 0.0)] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            options = [best[i + 1][j], best[i][j + 1]]
            similarity = score(labels[i], predicted[j])
            if similarity >= 0:
                pairs, total = best[i + 1][j + 1]
                options.append((pairs + 1, total + similarity))
            best[i][j] = max(options)
    pairs, i, j = [], 0, 0
    while i < rows and j < cols:
        similarity = score(labels[i], predicted[j])
        if similarity >= 0:
            pairs_after, total_after = best[i + 1][j + 1]
            if best[i][j] == (pairs_after + 1, total_after + similarity):
                pairs.append((i, j))
                i, j = i + 1, j + 1
                continue
        if best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def hold_is_right(hold: float, label: dict) -> bool | None:
    """Right within 1 s of hold_seconds, or 3 to 8 s a breath; None when not scored."""
    if label.get("hold_seconds") is not None:
        return abs(hold - label["hold_seconds"]) <= 1
    if label.get("breaths"):
        return 3 * label["breaths"] <= hold <= 8 * label["breaths"]
    return None


def score_steps(steps, wanted: list[dict]) -> Score:
    """How the imported ``steps`` (with name, hold, sides, reps) score against ``wanted``."""
    pairs = match_steps([step.name for step in steps], [label["name"] for label in wanted])
    holds = [hold_is_right(steps[j].hold, wanted[i]) for i, j in pairs]
    holds = [right for right in holds if right is not None]
    return Score(
        labels=len(wanted),
        found=len(steps),
        matched=len(pairs),
        hold=sum(holds),
        hold_scored=len(holds),
        sides=sum(steps[j].sides == wanted[i]["sides"] for i, j in pairs),
        reps=sum(steps[j].reps == wanted[i]["reps"] for i, j in pairs),
    )


def labelled_articles(folder: Path) -> list[tuple[str, Path, dict]]:
    """(stem, article path, label) of every ``NN-slug.txt`` beside its
    ``NN-slug.expected.yaml`` in ``folder``, in name order."""
    import yaml

    found = []
    for label_path in sorted(folder.glob("*.expected.yaml")):
        stem = label_path.name.removesuffix(".expected.yaml")
        label = yaml.safe_load(label_path.read_text(encoding="utf-8"))
        found.append((stem, label_path.with_name(f"{stem}.txt"), label))
    return found
