"""Templates render in Vietnamese and English; HTML is escaped, plain text is not."""

from __future__ import annotations

from decimal import Decimal

import pytest

from azl_contracts import Event
from azl_contracts import orders as o
from azl_contracts.common import Language, OrderStatus
from notifications.rules import rules_for
from notifications.templates import Renderer, UnknownTemplate

from .conftest import CODE, STAFF, message, samples

RENDERER = Renderer()


def text_of(template: str, language: Language, event: Event) -> str:
    return RENDERER.render(template, language, event, order_code=CODE).text


def subject_of(template: str, language: Language, event: Event) -> str:
    return RENDERER.render(template, language, event, order_code=CODE).subject


def rendered_samples() -> list[tuple[Event, str]]:
    return [
        (event, rule.template)
        for event in samples()
        for rule in rules_for(event)
        if rule.template is not None
    ]


@pytest.mark.parametrize(("event", "template"), rendered_samples(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("language", list(Language))
def test_every_template_renders(event: Event, template: str, language: Language) -> None:
    out = RENDERER.render(template, language, event, order_code=CODE)
    assert CODE in out.subject
    assert "\n" not in out.subject
    assert out.text
    assert out.text in out.email_text
    assert out.email_html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language.value}">' in out.email_html


@pytest.mark.parametrize(("event", "template"), rendered_samples(), ids=lambda v: str(v)[:40])
def test_the_two_languages_differ(event: Event, template: str) -> None:
    vi = RENDERER.render(template, Language.VI, event, order_code=CODE)
    en = RENDERER.render(template, Language.EN, event, order_code=CODE)
    assert vi.subject != en.subject
    assert vi.text != en.text


def test_amounts_and_statuses_speak_the_language() -> None:
    deposited = next(e for e in samples() if isinstance(e, o.OrderDeposited))
    vi = RENDERER.render("order_deposited", Language.VI, deposited, order_code=CODE)
    en = RENDERER.render("order_deposited", Language.EN, deposited, order_code=CODE)
    assert "1.234.567 ₫" in vi.text
    assert "Đã đặt cọc" in vi.text
    assert "1,234,567 VND" in en.text
    assert "Deposited" in en.text
    assert "AZLOGISTIC" in vi.email_html
    assert "King Cargo" in en.email_html


def test_shipping_steps_are_named_by_their_labels() -> None:
    step = next(
        e
        for e in samples()
        if isinstance(e, o.ShippingAdvanced) and e.to_status is OrderStatus.SELLER_SHIPPED
    )
    assert "Shop đã phát hàng" in subject_of("shipping_advanced", Language.VI, step)
    assert "Seller shipped" in subject_of("shipping_advanced", Language.EN, step)


def test_item_changes_list_old_and_new_values() -> None:
    changed = next(e for e in samples() if isinstance(e, o.ItemsChanged))
    text = text_of("items_awaiting_confirmation", Language.EN, changed)
    assert "- quantity 2 → 3, unit price ¥100.00 → ¥120.50" in text
    vi = text_of("items_awaiting_confirmation", Language.VI, changed)
    assert "đơn giá 100,00 ¥ → 120,50 ¥" in vi


def test_what_people_write_is_escaped_in_html_and_kept_in_text() -> None:
    hostile = message(STAFF, '<script>alert("x")</script> & <b>bold</b>\n\nsecond paragraph')
    out = RENDERER.render("message_from_staff", Language.EN, hostile, order_code=CODE)
    assert "<script>" not in out.email_html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in (
        out.email_html
    )
    assert "<p>second paragraph</p>" in out.email_html
    assert '<script>alert("x")</script> & <b>bold</b>' in out.text
    assert '<script>alert("x")</script>' in out.email_text


def test_an_unknown_template_is_an_error() -> None:
    event = message(STAFF, "x")
    with pytest.raises(UnknownTemplate):
        RENDERER.render("no_such_template", Language.VI, event, order_code=CODE)


def test_amounts_are_whole_dong_with_separators() -> None:
    deposited = next(e for e in samples() if isinstance(e, o.OrderDeposited))
    big = deposited.model_copy(update={"deposit_paid_vnd": Decimal(1_000_000_000)})
    assert "1.000.000.000 ₫" in text_of("order_deposited", Language.VI, big)


def test_a_refund_after_the_shipping_deduction_says_what_is_paid() -> None:
    resolved = next(e for e in samples() if e.message_type() == "complaints.complaint.resolved.v1")
    deducted = resolved.model_copy(update={"payout_vnd": Decimal(22_000)})
    assert "22.000" in text_of("complaint_resolved", Language.VI, deducted)
    assert "refunded 22,000" in text_of("complaint_resolved", Language.EN, deducted)
    assert "refunded" not in text_of("complaint_resolved", Language.EN, resolved)
