"""The ladder card and widget: built, updated live, returned for the caller to display."""

from workbook.topics.ladder import advise
from workbook.ui.ladder import ladder_widget, recommendation_html


def test_card_lists_the_reasons_and_the_cost():
    card = recommendation_html(advise(gap="behaviour", prompt_compliance=0.5))
    assert "LoRA" in card and "<li>prompting alone holds only 50% of the time</li>" in card and "Cost:" in card


def test_widget_builds_and_updates(monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: shown.append(a))
    box = ladder_widget()
    text, card = box.children[0], box.children[-1]
    assert "RAG" in card.value
    text.value = "We need valid JSON in our house style every time"
    assert "LoRA" in card.value
    text.value = ""
    assert "Describe" in card.value  # the error is shown, not raised
    assert not shown  # the caller displays it
