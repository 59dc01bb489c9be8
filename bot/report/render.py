"""The report as people read it: Markdown, HTML and a CSV per table, in French or English,
from published (protected) values only."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.report.disclosure import Cell, Kind, Protected
from bot.report.tables import COUNT, OTHER, UNKNOWN, Category
from bot.staff.closing import FIELDS
from flows.deployment import ReportRules
from flows.directory import Directory
from flows.texts import Texts


@dataclass(frozen=True)
class Report:
    year: int
    council: str
    cases: Cell
    alerts: Cell
    closed: Cell
    rounded: bool
    rules: ReportRules
    tables: Sequence[Protected]


@dataclass(frozen=True)
class Words:
    """What a report's labels are read from."""

    texts: Texts
    directory: Directory
    locale: str
    rules: ReportRules

    def t(self, key: str, **values: object) -> str:
        return self.texts.get(self.locale, f"report.{key}", **values)

    def label(self, field: str, label: str) -> str:
        texts, locale = self.texts, self.locale
        if field in FIELDS and label in FIELDS[field]:
            return texts.get(locale, f"console.closing.values.{field}.{label}")
        if field == "month":
            return self.t(f"months.{label}")
        if field == "level":
            return self.t(f"levels.{label}")
        if field == "band":
            return self.t(f"bands.{label}")
        if field == "year":
            return label
        if field == COUNT:
            return self.t("count")
        if field in ("persona", "channel") and texts.has(locale, f"console.{field}.{label}") \
                and label != UNKNOWN:
            return texts.get(locale, f"console.{field}.{label}")
        if field == "route" and label in self.directory.entries:
            return self.directory.entries[label].name[locale]
        return self.t("other") if label == OTHER else self.t("unknown")

    def category(self, field: str, category: Category) -> str:
        if len(category) == 1:
            return self.label(field, category[0])
        if category[0] == OTHER:
            return self.t("other")
        first, last = category[0], category[-1]
        low, high = self._edge(first, "low"), self._edge(last, "high")
        if self._edge(first, "high") or low:
            # Bands merged: "1 à 7 jours" and "plus de 7 jours" read "plus de 24 heures".
            # The first band of a scale has no low edge, the last no high one.
            if low is None and high is not None:
                return self.t("range_below", high=high)
            if high is None and low is not None:
                return self.t("range_above", low=low)
            if low is not None and high is not None:
                return self.t("range_between", low=low, high=high)
        return self.t("range", first=self.label(field, first), last=self.label(field, last))

    def _edge(self, band: str, side: str) -> str | None:
        key = f"report.edges.{band}.{side}"
        return self.texts.get(self.locale, key) if self.texts.has(self.locale, key) else None

    def cell(self, cell: Cell) -> str:
        if cell.kind is Kind.SMALL:
            return self.t("symbol.small", threshold=self.rules.threshold)
        if cell.kind is Kind.HIDDEN:
            return self.t("symbol.hidden")
        if cell.kind is Kind.WITHHELD:
            return self.t("symbol.withheld")
        return str(cell.value)

    def header(self, field: str) -> str:
        if field in FIELDS:
            return self.texts.get(self.locale, f"console.closing.fields.{field}")
        return self.t(f"headers.{field}")

    def caption(self, table: Protected) -> str:
        return self.t(f"captions.{table.name}")


def grid(table: Protected, words: Words) -> list[list[str]]:
    """The table as shown: a header line, a line per row, the totals line."""
    columns = [words.category(table.columns.field, c) for c in table.columns.categories]
    if table.one_way:
        head = [words.header(table.rows.field), words.t("count")]
    else:
        head = [f"{words.header(table.rows.field)} / {words.header(table.columns.field)}",
                *columns, words.t("total")]
    names = [words.category(table.rows.field, c) for c in table.rows.categories]
    if table.totals_line:
        names.append(words.t("total"))
    return [head, *([name, *(words.cell(c) for c in line)]
                    for name, line in zip(names, table.cells, strict=True))]


def note(table: Protected, words: Words) -> str | None:
    if table.withheld:
        return words.t("withheld")
    if table.margins_only:
        return words.t("margins_only")
    if not table.totals_line:
        return words.t("year_over_year_note")
    return None


def _introduction(report: Report, words: Words) -> tuple[str, str, list[str]]:
    title = words.t("title", year=report.year)
    protection = words.t(
        "protection.rounded" if report.rounded else "protection.exact",
        below=report.rules.threshold - 1, threshold=report.rules.threshold,
        base=report.rules.round_to, hidden=words.t("symbol.hidden"),
    )
    cases = words.t("cases", year=report.year, cases=words.cell(report.cases),
                    alerts=words.cell(report.alerts), closed=words.cell(report.closed))
    return title, report.council, [cases, protection, words.t("generated")]


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def markdown(report: Report, words: Words) -> str:
    title, council, paragraphs = _introduction(report, words)
    lines = [f"# {title}", "", f"*{council}*", ""]
    for paragraph in paragraphs:
        lines += [paragraph, ""]
    for table in report.tables:
        lines += [f"## {words.caption(table)}", ""]
        if (remark := note(table, words)) is not None:
            lines += [f"> {remark}", ""]
        if table.withheld:
            continue
        rows = grid(table, words)
        lines.append("| " + " | ".join(_md(cell) for cell in rows[0]) + " |")
        lines.append("|" + "---|" + "---:|" * (len(rows[0]) - 1))
        for row in rows[1:]:
            lines.append("| " + " | ".join(_md(cell) for cell in row) + " |")
        lines.append("")
    return "\n".join(lines)


def _md(text: str) -> str:
    # "< 5" stays as written, readable in the file itself: only a "<" that could open an
    # HTML tag (a letter, "/", "!" or "?" after it) is escaped.
    text = text.replace("|", "\\|").replace("*", "\\*")
    return _TAG_START.sub("&lt;", text)


def html_page(report: Report, words: Words) -> str:
    title, council, paragraphs = _introduction(report, words)
    e = html.escape
    parts = [
        "<!DOCTYPE html>", f'<html lang="{words.locale}">', "<head>", '<meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #999;padding:.2em .6em}td{text-align:right}"
        "td:first-child{text-align:left}</style>",
        "</head>", "<body>", f"<h1>{e(title)}</h1>", f"<p><em>{e(council)}</em></p>",
        *(f"<p>{e(paragraph)}</p>" for paragraph in paragraphs),
    ]
    for table in report.tables:
        parts.append(f"<h2>{e(words.caption(table))}</h2>")
        if (remark := note(table, words)) is not None:
            parts.append(f"<p><em>{e(remark)}</em></p>")
        if table.withheld:
            continue
        rows = grid(table, words)
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{e(cell)}</th>" for cell in rows[0]) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>"
                  for row in rows[1:]]
        parts.append("</table>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def csv_bytes(table: Protected, words: Words) -> bytes:
    """The published values, as shown, with the table's caption first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([words.caption(table)])
    if table.withheld:
        writer.writerow([words.t("withheld")])
    else:
        writer.writerows(grid(table, words))
    return buffer.getvalue().encode("utf-8")
