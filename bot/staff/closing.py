"""The `!clore` form: the closing fields of the yearly report, pre-filled from the screening.

The fields and their values are the Var council's table of mutual-aid cases; they are
stored as the English labels below, and shown and typed in the member's language.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.textnorm import fold
from flows.texts import Texts
from storage.records import CaseFile

FIELDS: Mapping[str, tuple[str, ...]] = {
    "sex": ("female", "male", "unknown"),
    "practice": ("salaried", "self_employed", "mixed", "retired", "student", "unknown"),
    "age_band": ("under_50", "50_60", "over_60", "unknown"),
    "origin": ("own_request", "reported", "unknown"),
    "motive": ("psychiatric", "other_illness", "not_ill", "unknown"),
    "help": ("financial", "not_financial", "both", "none"),
    "outcome": (
        "return_to_work", "invalidity", "long_sick_leave", "retirement", "liquidation",
        "death", "lost_to_follow_up", "ongoing_elsewhere", "other",
    ),
}  # fmt: skip
# What a member may type for a field, besides its label; the first is the one the French
# form shows.
FIELD_WORDS: Mapping[str, tuple[str, ...]] = {
    "sex": ("sexe",),
    "practice": ("exercice", "pratique", "mode_exercice"),
    "age_band": ("age", "tranche_age", "tranche"),
    "origin": ("origine", "venue"),
    "motive": ("motif",),
    "help": ("aide",),
    "outcome": ("issue", "devenir"),
}
_UNKNOWN = ("inconnu", "inconnue", "nsp")
VALUE_WORDS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "sex": {"female": ("femme", "f"), "male": ("homme", "h", "m"), "unknown": _UNKNOWN},
    "practice": {
        "salaried": ("salarié", "hospitalier"),
        "self_employed": ("libéral", "indépendant"),
        "mixed": ("mixte",),
        "retired": ("retraité",),
        "student": ("étudiant", "interne"),
        "unknown": _UNKNOWN,
    },
    "age_band": {
        "under_50": ("moins_de_50",),
        "50_60": ("50_60", "50_à_60"),
        "over_60": ("plus_de_60",),
        "unknown": _UNKNOWN,
    },
    "origin": {
        "own_request": ("demande", "propre_demande"),
        "reported": ("signalement", "signalé"),
        "unknown": _UNKNOWN,
    },
    "motive": {
        "psychiatric": ("psy", "psychiatrique"),
        "other_illness": ("autre_maladie",),
        "not_ill": ("pas_malade",),
        "unknown": _UNKNOWN,
    },
    "help": {
        "financial": ("financière",),
        "not_financial": ("non_financière",),
        "both": ("les_deux",),
        "none": ("aucune",),
    },
    "outcome": {
        "return_to_work": ("reprise",),
        "invalidity": ("invalidité",),
        "long_sick_leave": ("arrêt_long", "arrêt_longue_durée"),
        "retirement": ("retraite",),
        "liquidation": ("liquidation",),
        "death": ("décès",),
        "lost_to_follow_up": ("perdu_de_vue",),
        "ongoing_elsewhere": ("suivi_ailleurs",),
        "other": ("autre",),
    },
}
PRACTICES = {
    "practice:liberal": "self_employed",
    "practice:salaried": "salaried",
    "practice:hospital": "salaried",
    "practice:retired": "retired",
    "practice:student": "student",
}
SEXES = {"sex:female": "female", "sex:male": "male"}
AGES = {"age:under_50": "under_50", "age:50_60": "50_60", "age:over_60": "over_60"}
ORIGINS = {"self": "own_request", "relative": "reported", "colleague": "reported"}
# Facts that show a psychiatric motive without a doubt: a positive screen, a crisis, or
# what the person named (addiction is psychiatric care).
PSYCHIATRIC = frozenset({"crisis", "need:psychological", "need:addiction", "sign:suicidal_talk"})


class FieldError(ValueError):
    """A typed field or value the form does not know; its message is a sentence key."""


def prefill(file: CaseFile) -> dict[str, str]:
    """What the conversation already says; the member checks it and adds the rest."""
    facts = set(file.categories)
    fields: dict[str, str] = {}
    for field, table in (("sex", SEXES), ("practice", PRACTICES), ("age_band", AGES)):
        for fact, label in table.items():
            if fact in facts:
                fields[field] = label
    if file.persona in ORIGINS:
        fields["origin"] = ORIGINS[file.persona]
    evident = facts & PSYCHIATRIC or any(fact.startswith("screen:") for fact in facts)
    fields["motive"] = "psychiatric" if evident else "unknown"
    return fields


def parse_fields(argument: str) -> dict[str, str]:
    """ "sexe=femme exercice=libéral age=50-60 issue=reprise" as {field: label}.

    Raises FieldError naming the sentence that explains the first word it cannot read.
    """
    fields: dict[str, str] = {}
    for pair in argument.replace(" =", "=").replace("= ", "=").split():
        name, equals, value = pair.partition("=")
        if not equals:
            raise FieldError("console.closing.error.not_a_pair")
        field = _lookup(name, FIELD_WORDS)
        if field is None:
            raise FieldError("console.closing.error.unknown_field")
        label = _lookup(value, VALUE_WORDS[field])
        if label is None:
            raise FieldError(f"console.closing.error.unknown_value.{field}")
        fields[field] = label
    return fields


def _lookup(word: str, words: Mapping[str, tuple[str, ...]]) -> str | None:
    """The key (a field or a label) that ``word`` is, or one of whose words it is, read
    without accents, case or punctuation ("Non-financière" is "non_financiere")."""
    typed = _folded(word)
    for key, candidates in words.items():
        if typed in {_folded(candidate) for candidate in (key, *candidates)}:
            return key
    return None


def _folded(word: str) -> str:
    return fold(word).replace(" ", "_")


def missing(fields: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(field for field in FIELDS if field not in fields)


def typed_word(field: str, label: str | None, locale: str) -> str:
    """The word the form shows for a field (``label`` None) or a value, as it may be typed."""
    if locale != "fr":
        return label or field
    return VALUE_WORDS[field][label][0] if label else FIELD_WORDS[field][0]


def field_lines(fields: Mapping[str, str], texts: Texts, locale: str) -> list[str]:
    """ "Sexe : femme", one line per field given, in the report's order."""
    return [
        texts.get(
            locale, "console.closing.line",
            field=texts.get(locale, f"console.closing.fields.{field}"),
            value=texts.get(locale, f"console.closing.values.{field}.{fields[field]}"),
        )
        for field in FIELDS
        if field in fields
    ]  # fmt: skip


def form_text(fields: Mapping[str, str], texts: Texts, locale: str) -> str:
    def t(key: str, **values: object) -> str:
        return texts.get(locale, f"console.closing.{key}", **values)

    lines = [t("intro")]
    for field, labels in FIELDS.items():
        label = fields.get(field)
        lines.append(
            t(
                "form_line",
                field=t(f"fields.{field}"),
                value=t(f"values.{field}.{label}") if label else t("to_fill"),
                name=typed_word(field, None, locale),
                choices=", ".join(typed_word(field, choice, locale) for choice in labels),
            )
        )
    lines.append(t("how", example=f"{typed_word('outcome', None, locale)}="
                                  f"{typed_word('outcome', 'return_to_work', locale)}"))
    return "\n".join(lines)
