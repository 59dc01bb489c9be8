"""PNG charts a council can paste into its bulletin, drawn from published values only: a
count hidden or under the threshold is left out, never guessed."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.report.disclosure import Protected
from bot.report.render import Words

COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#bab0ac")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()




def alerts_by_month(table: Protected, year: int, words: Words) -> bytes:
    """Stacked by level; a table published by its totals alone gives a bar per month."""
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(words.t("charts.alerts_by_month", year=year))
    axes.set_ylabel(words.t("charts.cases"))
    figure.supxlabel(words.t("charts.hidden_note", threshold=words.rules.threshold),
                     fontsize=7, color="#555")
    months = [words.category("month", category) for category in table.rows.categories]
    lines = table.cells[:-1]
    # The month's total behind its levels: it is shown where a level is too small to be.
    totals = [(line[-1].value or 0) if line[-1].published else 0 for line in lines]
    axes.bar(months, totals, color="#e8e8e8", edgecolor="#999", label=words.t("total"))
    if not table.margins_only:
        bottom = [0] * len(months)
        for index, level in enumerate(table.columns.categories):
            heights = [(line[index].value or 0) if line[index].published else 0
                       for line in lines]
            axes.bar(months, heights, bottom=bottom, color=COLOURS[index % len(COLOURS)],
                     label=words.category("level", level))
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    axes.legend(title=words.header("level"), fontsize=8)
    return _png(figure)


def one_way_bars(table: Protected, title: str, field: str, words: Words) -> bytes:
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_ylabel(words.t("charts.cases"))
    figure.supxlabel(words.t("charts.hidden_note", threshold=words.rules.threshold),
                     fontsize=7, color="#555")
    names = [words.category(field, category) for category in table.rows.categories]
    heights = [(line[0].value or 0) if line[0].published else 0 for line in table.cells[:-1]]
    axes.bar(names, heights, color=COLOURS[0])
    axes.tick_params(axis="x", labelsize=8)
    return _png(figure)
