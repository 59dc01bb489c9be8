"""The training data keeps its promises: the intent list, the counts, no example in two intents."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from flows import geography
from tests.nlu.training import (
    NLU,
    RESULTS,
    examples_by_intent,
    inputs_hash,
    lookup,
    normalised,
    plain,
    training_items,
)

INTENTS = [
    "greet", "goodbye", "affirm", "deny", "ask_capabilities", "ask_confidentiality",
    "crisis", "burnout", "depression_anxiety", "addiction", "physical_illness",
    "financial_difficulty", "administrative_help", "legal_disciplinary", "family_difficulty",
    "work_conflict", "assault", "report_colleague", "relative_concern", "request_appointment",
    "request_human", "erase_data", "out_of_scope",
]  # fmt: skip
MIN_EXAMPLES = 40
MIN_CRISIS_EXAMPLES = 150
MIN_MACRO_F1 = 0.80
MIN_CRISIS_RECALL = 0.95


def test_domain_and_data_have_exactly_the_agreed_intents() -> None:
    domain = yaml.safe_load((NLU / "domain.yml").read_text(encoding="utf-8"))
    assert domain["intents"] == INTENTS
    assert domain["entities"] == ["department"]
    assert sorted(examples_by_intent()) == sorted(INTENTS)


@pytest.mark.parametrize("intent", INTENTS)
def test_each_intent_has_enough_examples(intent: str) -> None:
    minimum = MIN_CRISIS_EXAMPLES if intent == "crisis" else MIN_EXAMPLES
    assert len(examples_by_intent()[intent]) >= minimum


def test_no_example_is_repeated_within_or_across_intents() -> None:
    owners: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for intent, examples in examples_by_intent().items():
        for example in examples:
            owners.setdefault(normalised(example), set()).add(intent)
            counts[normalised(example)] += 1
    assert {text: sorted(i) for text, i in owners.items() if len(i) > 1} == {}
    assert [text for text, n in counts.items() if n > 1] == []


def test_heldout_sentences_are_not_training_examples(heldout: dict[str, object]) -> None:
    training = {normalised(e) for examples in examples_by_intent().values() for e in examples}
    intents = heldout["intents"]
    assert isinstance(intents, dict)
    assert sorted(intents) == sorted(INTENTS)
    sentences = [s for group in intents.values() for s in group]
    sentences += [case["text"] for case in heldout["departments"]]  # type: ignore[index, union-attr]
    assert [s for s in sentences if normalised(s) in training] == []


def test_department_lookup_names_every_department() -> None:
    names = {normalised(n) for n in lookup("department")}
    every = [department.name for department in geography.departments().values()]
    missing = [n for n in every if normalised(n) not in names]
    assert missing == []
    assert len(every) == 101


def test_every_annotated_department_maps_to_a_code() -> None:
    annotated = [
        value
        for item in training_items()
        if "intent" in item
        for line in item["examples"].splitlines()
        for value in _department_values(line)
    ]
    assert len(annotated) >= 100
    assert [v for v in annotated if geography.department_of(v) is None] == []


def _department_values(line: str) -> list[str]:
    values = []
    rest = line
    while "](department)" in rest:
        head, rest = rest.split("](department)", 1)
        values.append(head.rsplit("[", 1)[1])
    assert plain(line).count("[") == 0
    return values


def test_cross_validation_report_is_current_and_good_enough() -> None:
    """`make nlu-cv` (run by `make test`) refreshes the report whenever the data changes."""
    report_path = RESULTS / "intent_report.json"
    stamp = RESULTS / ".inputs.sha256"
    if not report_path.exists() or not stamp.exists():
        pytest.fail("no cross-validation report: run `make nlu-cv`", pytrace=False)
    if stamp.read_text().strip() != inputs_hash():
        pytest.fail(
            "the cross-validation report is older than the NLU data: run `make nlu-cv`",
            pytrace=False,
        )
    report = json.loads(report_path.read_text())
    assert sorted(k for k in report if "avg" not in k and k != "accuracy") == sorted(INTENTS)
    assert report["macro avg"]["f1-score"] >= MIN_MACRO_F1
    assert report["crisis"]["recall"] >= MIN_CRISIS_RECALL
