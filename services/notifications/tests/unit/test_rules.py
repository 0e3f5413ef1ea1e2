from azl_contracts.common import Language
from notifications.handlers import build_handlers
from notifications.rules import RULES
from notifications.templates import render


def test_every_bound_event_has_a_handler() -> None:
    assert build_handlers().uncovered("notifications", commands=False) == []


def test_every_rule_template_renders_in_both_languages() -> None:
    values = {
        "code": "AZ00000001",
        "deposit": "1.000",
        "previous": "Đã đặt cọc",
        "previous_en": "Deposited",
    }
    for rules in RULES.values():
        for rule in rules:
            vi = render(rule.template, Language.VI, values)
            en = render(rule.template, Language.EN, values)
            assert "AZ00000001" in vi.title
            assert "AZ00000001" in en.title
            assert vi.title != en.title
