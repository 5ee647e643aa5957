"""The adaptation-ladder advisor as a card and a live widget (chapter 01)."""

from __future__ import annotations

import html

from workbook.topics.ladder import CLINIC_BOT, GAPS, RUNGS, Recommendation, advise
from workbook.ui.hints import busy_hint


def recommendation_html(rec: Recommendation) -> str:
    """The recommendation as a small HTML card."""
    rung = RUNGS[rec.rung]
    items = "".join(f"<li>{html.escape(r)}</li>" for r in rec.reasons)
    return (
        f"<div style='border:1px solid #888;border-radius:6px;padding:6px 10px'>"
        f"<b>Gap:</b> {rec.gap} &rarr; <b>{html.escape(rung.name)}</b><ul>{items}</ul>"
        f"<b>Cost:</b> {html.escape(rung.cost)}<br><b>When things change:</b> {html.escape(rung.update)}</div>"
    )


def ladder_widget(description: str = CLINIC_BOT[0][0]):  # -> ipywidgets.VBox
    """Type the gap, optionally force its kind and the measured prompt compliance; the card updates live."""
    import ipywidgets as widgets

    text = widgets.Text(value=description, description="The gap:", layout=widgets.Layout(width="95%"))
    kind = widgets.Dropdown(options=["auto", *GAPS], value="auto", description="Kind:")
    compliance = widgets.FloatSlider(value=0.0, min=0, max=1, step=0.05, description="Prompt holds:")
    measured = widgets.Checkbox(value=False, description="I measured prompt compliance")
    changes = widgets.Checkbox(value=False, description="Facts change often")
    demos = widgets.BoundedIntText(value=0, min=0, max=10_000_000, description="Examples:")
    card = widgets.HTML()

    def refresh(_=None) -> None:
        try:
            rec = advise(
                text.value,
                gap=None if kind.value == "auto" else kind.value,
                prompt_compliance=compliance.value if measured.value else None,
                changes_often=changes.value,
                demonstrations=demos.value,
            )
            card.value = recommendation_html(rec)
        except ValueError as error:
            card.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"

    for control in (text, kind, compliance, measured, changes, demos):
        control.observe(refresh, names="value")
    refresh()
    controls = [text, widgets.HBox([kind, demos]), widgets.HBox([measured, compliance]), changes]
    return widgets.VBox([*controls, busy_hint(), card])
