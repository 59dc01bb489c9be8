"""The self-assessment instruments (domain brief §7): data, gates, cut-offs, crisis item."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from flows import questionnaires
from flows.questionnaires import (
    DATA_DIR,
    is_crisis_answer,
    load_questionnaires,
    next_item,
    planned_items,
    results,
)
from tests.conftest import Chat

INSTRUMENTS = ["phq9", "gad7", "auditc", "cbi"]
# Highest possible score of every result, written out rather than derived from the data.
MAXIMUM = {"phq2": 6, "phq9": 27, "gad2": 6, "gad7": 21, "auditc": 12, "cbi1": 100, "cbi": 100}
BANDS = {
    "phq2": {"negative", "positive"},
    "phq9": {"minimal", "mild", "moderate", "moderately_severe", "severe"},
    "gad2": {"negative", "positive"},
    "gad7": {"minimal", "mild", "moderate", "severe"},
    "auditc": {"negative", "positive"},
    "cbi1": {"negative"},
    "cbi": {"low", "high"},
}
# The short form each instrument may stop at, and the fewest items a journey through it asks.
SCREEN_RESULT = {"phq9": "phq2", "gad7": "gad2", "cbi": "cbi1"}
SHORTEST = {"phq9": 3, "gad7": 2, "auditc": 1, "cbi": 1}
FREQUENCY_LABELS = [
    (0, "Jamais", "Not at all"),
    (1, "Plusieurs jours", "Several days"),
    (2, "Plus de la moitié des jours", "More than half the days"),
    (3, "Presque tous les jours", "Nearly every day"),
]


def spread(total: int, items: int, highest: int) -> dict[int, int]:
    """Answers adding up to `total`, filling the first items first (so a gate opens early)."""
    answers = {}
    for number in range(1, items + 1):
        answers[number] = min(highest, total)
        total -= answers[number]
    assert total == 0, "total out of reach"
    return answers


def walk(instrument: str, choose: Mapping[int, int]) -> list[int]:
    """The items a person is asked, in order, answering `choose[item]` (0 when not given)."""
    answers: dict[int, int] = {}
    asked = []
    while (number := next_item(instrument, answers)) is not None:
        asked.append(number)
        answers[number] = choose.get(number, 0)
    return asked


# -- the data a council member reviews ---------------------------------------------------------


def test_the_four_instruments_are_loaded() -> None:
    assert set(load_questionnaires()) == set(INSTRUMENTS)
    assert [len(load_questionnaires()[i].items) for i in INSTRUMENTS] == [9, 7, 3, 7]


@pytest.mark.parametrize(
    ("instrument", "authors", "year", "licence"),
    [
        ("phq9", "Kroenke", "2001", "free to use, no permission required (Pfizer)"),
        ("gad7", "Spitzer", "2006", "free to use, no permission required (Pfizer)"),
        ("auditc", "Bush", "1998", "public domain"),
        ("cbi", "Kristensen", "2005", "public domain"),
    ],
)
def test_every_instrument_cites_its_source_and_licence(
    instrument: str, authors: str, year: str, licence: str
) -> None:
    questionnaire = load_questionnaires()[instrument]
    assert authors in questionnaire.source and year in questionnaire.source
    assert questionnaire.licence == licence
    assert questionnaire.wording_sources["fr"] and questionnaire.wording_sources["en"]
    assert questionnaire.title["fr"] and questionnaire.title["en"]
    assert questionnaire.stem["fr"] and questionnaire.stem["en"]


def test_the_cbi_source_is_the_work_and_stress_paper() -> None:
    assert "Work & Stress" in load_questionnaires()["cbi"].source
    assert "19(3)" in load_questionnaires()["cbi"].source


def test_the_cbi_french_wording_says_it_awaits_review() -> None:
    wording = load_questionnaires()["cbi"].wording_sources["fr"]
    assert "traduction" in wording.lower() and "relecture" in wording


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_every_item_and_answer_reads_in_both_languages(instrument: str) -> None:
    questionnaire = load_questionnaires()[instrument]
    assert [item.number for item in questionnaire.items] == list(
        range(1, len(questionnaire.items) + 1)
    )
    for item in questionnaire.items:
        assert item.text["fr"].strip() and item.text["en"].strip()
        assert len(item.options) >= 4
        for option in item.options:
            assert option.label["fr"].strip() and option.label["en"].strip()
        assert len({option.score for option in item.options}) == len(item.options)


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_phq_and_gad_answers_start_with_jamais(instrument: str) -> None:
    for item in load_questionnaires()[instrument].items:
        shown = [(o.score, o.label["fr"], o.label["en"]) for o in item.options]
        assert shown == FREQUENCY_LABELS


def test_phq_and_gad_ask_about_the_last_two_weeks() -> None:
    for instrument in ("phq9", "gad7"):
        stem = load_questionnaires()[instrument].stem
        assert "deux dernières semaines" in stem["fr"] and "gêné·e" in stem["fr"]
        assert "2 weeks" in stem["en"]


def test_audit_c_explains_the_french_standard_drink() -> None:
    auditc = load_questionnaires()["auditc"]
    assert "10 g" in auditc.item(2).text["fr"] and "10 g" in auditc.item(2).text["en"]
    for item in auditc.items:
        assert sorted(option.score for option in item.options) == [0, 1, 2, 3, 4]
    assert auditc.item(1).options[0].label["fr"] == "Jamais"
    assert auditc.item(1).options[0].score == 0


CBI_FREQUENCY = [
    ("Jamais ou presque jamais", "Never/almost never"),
    ("Rarement", "Seldom"),
    ("Parfois", "Sometimes"),
    ("Souvent", "Often"),
    ("Toujours", "Always"),
]
CBI_DEGREE = [
    ("Très peu", "To a very low degree"),
    ("Un peu", "To a low degree"),
    ("Moyennement", "Somewhat"),
    ("Beaucoup", "To a high degree"),
    ("Énormément", "To a very high degree"),
]


def test_cbi_shows_the_least_frequent_answer_first_and_reverses_item_4() -> None:
    cbi = load_questionnaires()["cbi"]
    for number in (1, 2, 3):
        shown = [(o.label["fr"], o.label["en"], o.score) for o in cbi.item(number).options]
        assert shown == [(*labels, score) for labels, score in
                         zip(CBI_FREQUENCY, (0, 25, 50, 75, 100), strict=True)]
    # Item 4: the same labels in the same order, scored the other way round.
    reversed_item = [(o.label["fr"], o.label["en"], o.score) for o in cbi.item(4).options]
    assert reversed_item == [(*labels, score) for labels, score in
                             zip(CBI_FREQUENCY, (100, 75, 50, 25, 0), strict=True)]
    assert "family and friends" in cbi.item(4).text["en"]
    for number in (5, 6, 7):
        shown = [(o.label["fr"], o.label["en"], o.score) for o in cbi.item(number).options]
        assert shown == [(*labels, score) for labels, score in
                         zip(CBI_DEGREE, (0, 25, 50, 75, 100), strict=True)]


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_every_item_except_cbi_item_4_lists_its_answers_lowest_score_first(
    instrument: str
) -> None:
    for item in load_questionnaires()[instrument].items:
        scores = [option.score for option in item.options]
        reversed_item = (instrument, item.number) == ("cbi", 4)
        assert scores == sorted(scores, reverse=reversed_item), (instrument, item.number)


def test_only_phq9_item_9_is_a_crisis_item() -> None:
    flagged = [
        (instrument, item.number)
        for instrument, questionnaire in load_questionnaires().items()
        for item in questionnaire.items
        if item.crisis_threshold is not None
    ]
    assert flagged == [("phq9", 9)]
    assert load_questionnaires()["phq9"].item(9).crisis_threshold == 1


def test_asking_for_an_item_that_does_not_exist_fails() -> None:
    with pytest.raises(KeyError):
        load_questionnaires()["gad7"].item(8)


# -- PHQ-2 then PHQ-9 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "positive"),
    [
        (3, "minimal", False),
        (4, "minimal", False),
        (5, "mild", False),
        (9, "mild", False),
        (10, "moderate", True),
        (14, "moderate", True),
        (15, "moderately_severe", True),
        (19, "moderately_severe", True),
        (20, "severe", True),
        (27, "severe", True),
    ],
)
def test_phq9_bands(total: int, band: str, positive: bool) -> None:
    answers = spread(total, 9, 3)
    assert next_item("phq9", answers) is None
    assert results("phq9", answers, None) == questionnaires.Result("phq9", total, band, positive)


@pytest.mark.parametrize(
    ("first", "second", "positive"), [(0, 0, False), (1, 1, False), (2, 0, False),
                                      (2, 1, True), (0, 3, True), (3, 3, True)]
)
def test_phq2_gate_at_3(first: int, second: int, positive: bool) -> None:
    answers = {1: first, 2: second}
    # Item 9 follows the PHQ-2 whatever it gives.
    assert next_item("phq9", answers) == 9
    answers[9] = 0
    if positive:
        assert next_item("phq9", answers) == 3
        with pytest.raises(ValueError, match="item 3"):
            results("phq9", answers, None)
    else:
        assert next_item("phq9", answers) is None
        result = results("phq9", answers, None)
        assert result == questionnaires.Result("phq2", first + second, "negative", False)


def test_a_negative_phq2_stops_after_item_9() -> None:
    assert walk("phq9", {1: 1, 2: 1}) == [1, 2, 9]


def test_a_positive_phq2_asks_item_9_then_items_3_to_8() -> None:
    assert walk("phq9", {1: 2, 2: 1}) == [1, 2, 9, 3, 4, 5, 6, 7, 8]


def test_the_phq2_is_asked_before_anything_else() -> None:
    assert next_item("phq9", {}) == 1
    assert next_item("phq9", {1: 3}) == 2
    assert next_item("phq9", {2: 3}) == 1
    assert next_item("phq9", {9: 0}) == 1
    assert next_item("phq9", {1: 0, 9: 0}) == 2


def test_a_negative_phq2_has_no_result_while_item_9_is_owed() -> None:
    assert next_item("phq9", {1: 1, 2: 1}) == 9
    with pytest.raises(ValueError, match="item 9"):
        results("phq9", {1: 1, 2: 1}, None)


def test_the_phq2_result_does_not_count_item_9() -> None:
    assert results("phq9", {1: 1, 2: 1, 9: 0}, None) == questionnaires.Result(
        "phq2", 2, "negative", False
    )


# -- the crisis item ---------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "crisis"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item_9_opens_the_crisis_path_from_1(score: int, crisis: bool) -> None:
    assert is_crisis_answer("phq9", 9, score) is crisis


@pytest.mark.parametrize("number", range(1, 9))
def test_other_phq9_items_are_never_crisis_answers(number: int) -> None:
    assert not any(is_crisis_answer("phq9", number, score) for score in range(4))


def test_no_gad7_audit_or_cbi_answer_is_a_crisis_answer() -> None:
    for instrument in ("gad7", "auditc", "cbi"):
        for item in load_questionnaires()[instrument].items:
            for option in item.options:
                assert not is_crisis_answer(instrument, item.number, option.score)


@pytest.mark.parametrize(("first", "second"), [(0, 0), (1, 1), (2, 0), (2, 1), (3, 3)])
def test_the_crisis_item_is_asked_third_whatever_the_phq2(first: int, second: int) -> None:
    # The crisis path opens on the answer itself; asked right after the PHQ-2, item 9 is
    # never left unasked by a low PHQ-2.
    for score in range(4):
        asked = walk("phq9", {1: first, 2: second, 9: score})
        assert asked[:3] == [1, 2, 9]
        assert asked.count(9) == 1


@pytest.mark.parametrize("score", [1, 2, 3])
def test_item_9_is_a_crisis_answer_after_a_negative_phq2(score: int) -> None:
    answers = {1: 0, 2: 0}
    assert next_item("phq9", answers) == 9
    assert is_crisis_answer("phq9", 9, score)


# -- GAD-2 then GAD-7 --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "positive"),
    [
        (3, "minimal", False),
        (4, "minimal", False),
        (5, "mild", False),
        (9, "mild", False),
        (10, "moderate", True),
        (14, "moderate", True),
        (15, "severe", True),
        (21, "severe", True),
    ],
)
def test_gad7_bands(total: int, band: str, positive: bool) -> None:
    answers = spread(total, 7, 3)
    assert next_item("gad7", answers) is None
    assert results("gad7", answers, None) == questionnaires.Result("gad7", total, band, positive)


def test_gad2_gate_at_3() -> None:
    assert next_item("gad7", {1: 1, 2: 1}) is None
    assert results("gad7", {1: 1, 2: 1}, None) == questionnaires.Result(
        "gad2", 2, "negative", False
    )
    assert next_item("gad7", {1: 2, 2: 1}) == 3
    assert walk("gad7", {1: 0, 2: 2}) == [1, 2]
    assert walk("gad7", {1: 3, 2: 0}) == list(range(1, 8))


# -- AUDIT-C -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "total", "positive"),
    [
        ("male", 3, False),
        ("male", 4, True),
        ("female", 2, False),
        ("female", 3, True),
        (None, 2, False),
        (None, 3, True),
        ("unspecified", 2, False),
        ("unspecified", 3, True),
        ("", 3, True),
    ],
)
def test_audit_c_cut_offs(sex: str | None, total: int, positive: bool) -> None:
    answers = spread(total, 3, 4)
    assert next_item("auditc", answers) is None
    expected = questionnaires.Result(
        "auditc", total, "positive" if positive else "negative", positive
    )
    assert results("auditc", answers, sex) == expected


def test_someone_who_never_drinks_is_asked_one_question() -> None:
    assert walk("auditc", {1: 0}) == [1]
    assert results("auditc", {1: 0}, "male") == questionnaires.Result(
        "auditc", 0, "negative", False
    )


def test_after_never_the_other_audit_items_count_0() -> None:
    assert results("auditc", {1: 0, 2: 4, 3: 4}, None).score == 0


def test_anyone_who_drinks_is_asked_all_three_questions() -> None:
    assert walk("auditc", {1: 1}) == [1, 2, 3]
    assert results("auditc", {1: 4, 2: 4, 3: 4}, "female").score == 12


# -- Copenhagen Burnout Inventory, work-related ------------------------------------------------


def test_cbi_mean_of_50_is_high() -> None:
    answers = dict.fromkeys(range(1, 8), 50)
    assert walk("cbi", answers) == [6, 1, 2, 3, 4, 5, 7]
    assert results("cbi", answers, None) == questionnaires.Result("cbi", 50.0, "high", True)


def test_the_cbi_starts_with_item_6() -> None:
    assert next_item("cbi", {}) == 6
    assert next_item("cbi", {1: 100}) == 6


@pytest.mark.parametrize("score", [0, 25])
def test_cbi_item_6_below_50_stops_with_a_negative_screen(score: int) -> None:
    assert walk("cbi", {6: score}) == [6]
    assert next_item("cbi", {6: score}) is None
    assert results("cbi", {6: score}, None) == questionnaires.Result(
        "cbi1", score, "negative", False
    )


@pytest.mark.parametrize("score", [50, 75, 100])
def test_cbi_item_6_from_50_asks_the_six_others(score: int) -> None:
    assert walk("cbi", {6: score}) == [6, 1, 2, 3, 4, 5, 7]
    assert next_item("cbi", {6: score}) == 1
    with pytest.raises(ValueError, match="item 1"):
        results("cbi", {6: score}, None)


def test_a_positive_cbi_screen_scores_the_mean_of_all_seven_items() -> None:
    # Item 6 counts in the mean like the others: 100 + six 25s = 250 / 7.
    answers = {**dict.fromkeys(range(1, 8), 25), 6: 100}
    result = results("cbi", answers, None)
    assert result.instrument == "cbi"
    assert result.score == pytest.approx(250 / 7)
    assert (result.band, result.positive) == ("low", False)


def test_cbi_just_below_50_is_low() -> None:
    answers = {1: 50, 2: 50, 3: 50, 4: 50, 5: 50, 6: 50, 7: 25}
    result = results("cbi", answers, None)
    assert result.score == pytest.approx(325 / 7)
    assert (result.band, result.positive) == ("low", False)


def test_cbi_score_is_a_mean_not_a_sum() -> None:
    assert results("cbi", dict.fromkeys(range(1, 8), 100), None).score == 100
    assert results("cbi", dict.fromkeys(range(1, 8), 0), None).score == 0


@pytest.mark.parametrize(("label", "band"), [("Always", "low"), ("Never/almost never", "high")])
def test_energy_left_for_family_counts_against_burnout(label: str, band: str) -> None:
    item_4 = load_questionnaires()["cbi"].item(4)
    score = next(o.score for o in item_4.options if o.label["en"] == label)
    answers = {**dict.fromkeys(range(1, 8), 50), 4: score}
    assert results("cbi", answers, None).band == band


@pytest.mark.parametrize(("mean", "band"), [(49.99, "low"), (50.0, "high")])
def test_cbi_threshold_is_inclusive_at_50(mean: float, band: str) -> None:
    # A mean of 49.99 cannot come from seven answers in steps of 25, so the cut-off is checked
    # on the classification itself.
    result = questionnaires._classify("cbi", mean, None)
    assert (result.band, result.positive) == (band, band == "high")


# -- the length a person is promised ----------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "answers", "planned"),
    [
        ("phq9", {}, 3),
        ("phq9", {1: 0}, 3),
        ("phq9", {1: 1, 2: 1}, 3),
        ("phq9", {1: 1, 2: 1, 9: 2}, 3),
        ("phq9", {1: 3}, 9),
        ("phq9", {1: 2, 2: 1}, 9),
        ("phq9", {1: 0, 2: 3, 9: 0}, 9),
        ("phq9", dict.fromkeys(range(1, 10), 1), 9),
        ("gad7", {}, 2),
        ("gad7", {1: 1, 2: 1}, 2),
        ("gad7", {1: 2, 2: 1}, 7),
        ("auditc", {}, 1),
        ("auditc", {1: 0}, 1),
        ("auditc", {1: 1}, 3),
        ("auditc", {1: 4}, 3),
        ("cbi", {}, 1),
        ("cbi", {6: 25}, 1),
        ("cbi", {6: 50}, 7),
        ("cbi", {6: 100}, 7),
    ],
)
def test_planned_items_counts_the_shortest_journey_left(
    instrument: str, answers: dict[int, int], planned: int
) -> None:
    assert planned_items(instrument, answers) == planned


def test_planned_items_does_not_change_the_answers_given() -> None:
    answers = {1: 2, 2: 1}
    planned_items("phq9", answers)
    assert answers == {1: 2, 2: 1}


# -- in the conversation -----------------------------------------------------------------------


def at_the_phq2() -> Chat:
    chat = Chat()
    chat.answer_all(["self", "1", "1", "83"])
    assert chat.step == "phq2.1"
    return chat


def test_the_conversation_asks_the_phq2_then_item_9_then_the_gad2() -> None:
    chat = at_the_phq2()
    chat.say("0")
    assert chat.step == "phq2.2"
    chat.say("0")
    assert chat.step == "phq9.9"
    chat.say("0")
    assert chat.step == "gad2.1"
    assert chat.state.scores("phq9") == {1: 0, 2: 0, 9: 0}
    assert not chat.state.crisis


def test_the_first_item_announces_the_shortest_length() -> None:
    chat = at_the_phq2()
    # PHQ-2 + item 9, GAD-2, AUDIT-C item 1, CBI item 6.
    assert "question 1 sur 7" in chat.text()


def test_item_9_after_a_negative_phq2_opens_the_crisis_path() -> None:
    chat = at_the_phq2()
    chat.answer_all(["0", "0", "1"])
    assert chat.state.crisis
    assert chat.step == "rud.plan"


def test_cbi_item_6_is_asked_after_the_audit_c_unless_retired() -> None:
    chat = at_the_phq2()
    chat.answer_all(["0", "0", "0", "0", "0", "0"])
    assert chat.step == "cbi1.6"
    chat.say("1")  # "Très peu": the screen is negative, the CBI stops there
    assert chat.state.scores("cbi") == {6: 0}
    assert chat.step != "cbi.1"

    retired = Chat()
    retired.answer_all(["self", "1", "retired", "83", "0", "0", "0", "0", "0", "0"])
    assert not (retired.step or "").startswith(("cbi", "cbi1"))
    assert retired.state.scores("cbi") == {}


# -- wrong input -------------------------------------------------------------------------------


def test_an_unknown_instrument_is_refused() -> None:
    with pytest.raises(ValueError, match="mbi"):
        next_item("mbi", {})
    with pytest.raises(ValueError):
        results("mbi", {}, None)
    with pytest.raises(ValueError):
        is_crisis_answer("mbi", 1, 1)
    with pytest.raises(ValueError):
        planned_items("mbi", {})


def test_answers_that_no_option_gives_are_refused() -> None:
    with pytest.raises(ValueError, match="item 1"):
        next_item("phq9", {1: 4})
    with pytest.raises(ValueError, match="item 10"):
        results("phq9", dict.fromkeys(range(1, 11), 0), None)
    with pytest.raises(ValueError, match="item 3"):
        results("cbi", {3: 30}, None)
    with pytest.raises(ValueError, match="item 9"):
        planned_items("phq9", {9: 4})


def test_an_unfinished_questionnaire_has_no_result() -> None:
    with pytest.raises(ValueError, match="item 5"):
        results("cbi", dict.fromkeys(range(1, 5), 50), None)
    with pytest.raises(ValueError, match="item 2"):
        results("auditc", {1: 2}, None)
    with pytest.raises(ValueError, match="item 2"):
        results("cbi", {6: 50, 1: 50}, None)


# -- bad data is refused with the file and the item named ---------------------------------------


def phq9_data() -> dict[str, Any]:
    with (DATA_DIR / "phq9.yaml").open(encoding="utf-8") as stream:
        data: dict[str, Any] = yaml.safe_load(stream)
    return data


def write(tmp_path: Path, data: Mapping[str, Any]) -> Path:
    path = tmp_path / "phq9.yaml"
    path.write_text(yaml.safe_dump(dict(data), allow_unicode=True), encoding="utf-8")
    return path


def test_the_shipped_data_passes_its_own_checks(tmp_path: Path) -> None:
    questionnaire, _ = questionnaires._load_file(write(tmp_path, phq9_data()))
    assert questionnaire == load_questionnaires()["phq9"]


def test_an_item_without_english_text_is_refused(tmp_path: Path) -> None:
    data = phq9_data()
    data["items"][2]["text"] = {"fr": data["items"][2]["text"]["fr"]}
    with pytest.raises(ValueError, match=r"phq9\.yaml: item 3: text \(en\)"):
        questionnaires._load_file(write(tmp_path, data))


def test_an_answer_label_without_french_is_refused(tmp_path: Path) -> None:
    data = phq9_data()
    data["items"][5]["options"] = [dict(o) for o in data["items"][5]["options"]]
    data["items"][5]["options"][0]["label"] = {"en": "Not at all"}
    with pytest.raises(ValueError, match=r"phq9\.yaml: item 6: label .*\(fr\)"):
        questionnaires._load_file(write(tmp_path, data))


def test_a_score_outside_the_range_is_refused(tmp_path: Path) -> None:
    data = phq9_data()
    data["items"][4]["options"] = [dict(o) for o in data["items"][4]["options"]]
    data["items"][4]["options"][3]["score"] = 4
    with pytest.raises(ValueError, match=r"phq9\.yaml: item 5: answer scores"):
        questionnaires._load_file(write(tmp_path, data))


def test_a_gap_in_the_numbering_is_refused(tmp_path: Path) -> None:
    data = phq9_data()
    del data["items"][6]
    with pytest.raises(ValueError, match=r"phq9\.yaml: item 8 found where item 7"):
        questionnaires._load_file(write(tmp_path, data))


def test_a_crisis_threshold_that_is_no_answer_is_refused(tmp_path: Path) -> None:
    data = phq9_data()
    data["items"][8]["crisis_threshold"] = 5
    with pytest.raises(ValueError, match=r"phq9\.yaml: item 9: crisis_threshold"):
        questionnaires._load_file(write(tmp_path, data))


@pytest.mark.parametrize("key", ["source", "licence"])
def test_a_questionnaire_without_source_or_licence_is_refused(tmp_path: Path, key: str) -> None:
    data = phq9_data()
    del data[key]
    with pytest.raises(ValueError, match=rf"phq9\.yaml: {key}"):
        questionnaires._load_file(write(tmp_path, data))


# -- whatever a person answers -----------------------------------------------------------------


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(INSTRUMENTS), st.data())
def test_any_journey_ends_with_a_result_in_range(instrument: str, data: st.DataObject) -> None:
    questionnaire = load_questionnaires()[instrument]
    answers: dict[int, int] = {}
    while (number := next_item(instrument, answers)) is not None:
        assert number not in answers
        scores = [o.score for o in questionnaire.item(number).options]
        answers[number] = data.draw(st.sampled_from(scores))
    sex = data.draw(st.sampled_from(["male", "female", None, "other"]))
    result = results(instrument, answers, sex)
    assert result.band in BANDS[result.instrument]
    assert 0 <= result.score <= MAXIMUM[result.instrument]
    assert result.instrument in (instrument, SCREEN_RESULT.get(instrument))
    if instrument == "phq9":
        # Whatever the answers, the question about thoughts of death has been asked.
        assert 9 in answers


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(INSTRUMENTS), st.data())
def test_planned_items_is_a_promise_kept(instrument: str, data: st.DataObject) -> None:
    """Never more than promised at the start once the lowest answers are given, never fewer
    than the items already asked, and exact once finished."""
    questionnaire = load_questionnaires()[instrument]
    assert planned_items(instrument, {}) == SHORTEST[instrument]
    answers: dict[int, int] = {}
    while (number := next_item(instrument, answers)) is not None:
        assert planned_items(instrument, answers) > len(answers)
        scores = [o.score for o in questionnaire.item(number).options]
        answers[number] = data.draw(st.sampled_from(scores))
    assert planned_items(instrument, answers) == len(answers)
    assert len(answers) >= SHORTEST[instrument]


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(INSTRUMENTS), st.data())
def test_next_item_never_raises_on_valid_answers(instrument: str, data: st.DataObject) -> None:
    questionnaire = load_questionnaires()[instrument]
    answers = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                item.number: st.sampled_from([o.score for o in item.options])
                for item in questionnaire.items
            },
        )
    )
    number = next_item(instrument, answers)
    if number is None:
        result = results(instrument, answers, data.draw(st.sampled_from(["male", None])))
        assert 0 <= result.score <= MAXIMUM[result.instrument]
    else:
        assert number not in answers
        questionnaire.item(number)
