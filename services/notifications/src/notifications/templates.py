"""Rendering notifications with Jinja2: plain text, and autoescaped HTML for email.

The words live in ``texts.CATALOG`` (Vietnamese and English); the email frame in
``templates/email.txt.j2`` and ``templates/email.html.j2``. Rendering is pure: templates
are compiled once, when the ``Renderer`` is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from azl_contracts import Event
from azl_contracts.common import Language, OrderStatus, ServiceCode
from azl_contracts.complaints import ComplaintType, Resolution

from .texts import CATALOG, COMPLAINT_TYPE_LABELS, FEE_LABELS, FRAMES, RESOLUTION_LABELS

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    """The message itself: the inbox body."""
    email_text: str
    email_html: str


class UnknownTemplate(LookupError):
    pass


def _language(context: Context) -> Language:
    return Language(context["lang"])


def _pick(labels: tuple[str, str], language: Language) -> str:
    return labels[0] if language is Language.VI else labels[1]


def _value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


@pass_context
def _vnd(context: Context, amount: Decimal | int | str) -> str:
    whole = int(Decimal(str(amount)))
    if _language(context) is Language.VI:
        return f"{whole:,}".replace(",", ".") + " ₫"
    return f"{whole:,} VND"


@pass_context
def _cny(context: Context, amount: Decimal | str) -> str:
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    if _language(context) is Language.VI:
        return f"{value:,}".replace(",", " ").replace(".", ",") + " ¥"
    return f"¥{value:,}"


@pass_context
def _status(context: Context, status: OrderStatus | str) -> str:
    return OrderStatus(_value(status)).label(_language(context))


@pass_context
def _fee(context: Context, code: ServiceCode | str) -> str:
    return _pick(FEE_LABELS[ServiceCode(_value(code))], _language(context))


@pass_context
def _complaint_type(context: Context, kind: ComplaintType | str) -> str:
    return _pick(COMPLAINT_TYPE_LABELS[ComplaintType(_value(kind))], _language(context))


@pass_context
def _resolution(context: Context, resolution: Resolution | str) -> str:
    return _pick(RESOLUTION_LABELS[Resolution(_value(resolution))], _language(context))


FILTERS = {
    "vnd": _vnd,
    "cny": _cny,
    "status": _status,
    "fee": _fee,
    "complaint_type": _complaint_type,
    "resolution": _resolution,
}


def _environment(*, autoescape: bool) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


@dataclass(frozen=True)
class _Compiled:
    subject: Template
    text: Template
    html: Template


class Renderer:
    """Every template of the catalog in both languages, compiled once."""

    def __init__(self) -> None:
        self._text_env = _environment(autoescape=False)
        self._html_env = _environment(autoescape=True)
        self._email_text = self._text_env.get_template("email.txt.j2")
        self._email_html = self._html_env.get_template("email.html.j2")
        self._compiled = {
            (name, language): _Compiled(
                subject=self._text_env.from_string(text.subject),
                text=self._text_env.from_string(text.body),
                html=self._html_env.from_string(text.body),
            )
            for name, by_language in CATALOG.items()
            for language, text in by_language.items()
        }

    def render(
        self, template: str, language: Language, event: Event, *, order_code: str
    ) -> Rendered:
        try:
            compiled = self._compiled[(template, language)]
        except KeyError:
            raise UnknownTemplate(f"{template} ({language.value})") from None
        context = {"event": event, "code": order_code, "lang": language.value}
        subject = " ".join(compiled.subject.render(context).split())
        text = _tidy(compiled.text.render(context))
        escaped = _tidy(compiled.html.render(context))  # values autoescaped
        frame = FRAMES[language]
        email_text = self._email_text.render(frame=frame, body=text)
        email_html = self._email_html.render(
            frame=frame, subject=subject, lang=language.value, content=_paragraphs(escaped)
        )
        return Rendered(subject=subject, text=text, email_text=email_text, email_html=email_html)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _paragraphs(escaped: str) -> Markup:
    """``escaped`` is autoescaped HTML text: paragraphs become ``<p>``, lines ``<br>``."""
    paragraphs = [p for p in escaped.split("\n\n") if p.strip()]
    return Markup("\n".join("<p>" + p.replace("\n", "<br>\n") + "</p>" for p in paragraphs))
