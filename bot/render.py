"""Rendering what a person reads: sentences from bot/locales.py, digits, money, Jalali dates (HTML)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import jdatetime

from providers import numbers
from providers.base import (
    AuthFailed,
    Balance,
    InsufficientCredit,
    InvalidRecipient,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from providers.text import TextInfo
from providers.timeutil import TEHRAN
from storage.access import ROLES

from .locales import CAPABILITY_NAMES, COMMANDS, STRINGS

_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
LRI, PDI = "\u2066", "\u2069"  # isolate Latin runs (numbers, ids) inside right-to-left text


def help_text(lang: str, role: str) -> str:
    """The commands this role may use, in this language."""
    allowed = [c for c in COMMANDS if ROLES.index(c[1]) <= ROLES.index(role)]
    lines = [t(lang, "help.title", role=role_name(lang, role))]
    lines += [f"/{name} — {fa if lang == 'fa' else en}" for name, _r, fa, en in allowed]
    return "\n".join([*lines, "", t(lang, "help.reply")])


def t(lang: str, key: str, **values: object) -> str:
    """The string ``key`` in ``lang`` with values filled in (values are inserted as given)."""
    table = STRINGS.get(lang, STRINGS["fa"])
    return table.get(key, STRINGS["en"][key]).format(**values)


def esc(text: object) -> str:
    """Escape for HTML parse mode: shown verbatim, never interpreted, never dropped."""
    return html.escape(str(text), quote=False)


def digits(lang: str, text: str) -> str:
    return text.translate(_FA_DIGITS) if lang == "fa" else text


def number(lang: str, value: float) -> str:
    """Thousands separators (Persian ones and digits in Persian), no needless decimals."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if lang == "fa":
        return digits(lang, text.replace(",", "٬").replace(".", "٫"))
    return text


def ltr(text: str) -> str:
    """Keep a Latin or numeric run (phone number, id) left-to-right inside Persian text."""
    return f"{LRI}{text}{PDI}"


def phone(lang: str, canonical: str) -> str:
    """``989121234567`` → ``0912 123 4567``, kept left-to-right."""
    return ltr(digits(lang, local_form(canonical)))


def money(lang: str, amount: float, currency: str) -> str:
    if currency == "rial":
        return t(lang, "rial", amount=number(lang, amount), toman=number(lang, amount / 10))
    if currency == "toman":
        return t(lang, "toman", amount=number(lang, amount))
    return t(lang, "unit", amount=number(lang, amount))


def when(lang: str, moment: datetime) -> tuple[str, str]:
    """(Jalali, Gregorian) renderings of a moment in Tehran time."""
    local = moment.astimezone(TEHRAN)
    jalali = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    return (
        digits(lang, jalali.strftime("%Y/%m/%d %H:%M")),
        digits(lang, local.strftime("%Y-%m-%d %H:%M")),
    )


def role_name(lang: str, role: str | None) -> str:
    return t(lang, f"role.{role}") if role else "—"


def provider_error(lang: str, exc: ProviderError) -> str:
    """One sentence for a provider failure; never a class name or a traceback."""
    detail = esc(exc.detail_fa if lang == "fa" else exc.detail)
    account = esc(exc.account)
    if isinstance(exc, NotSupported):
        capability = CAPABILITY_NAMES.get(lang, CAPABILITY_NAMES["en"])[exc.capability.value]
        return t(lang, "error.unsupported", account=account, capability=capability)
    key = "error.rejected"
    if isinstance(exc, OutcomeUnknown):
        key = "error.unknown_outcome"
    elif isinstance(exc, ProviderUnavailable):
        key = "error.unavailable"
    elif isinstance(exc, AuthFailed):
        key = "error.auth"
    elif isinstance(exc, InsufficientCredit):
        key = "error.credit"
    elif isinstance(exc, InvalidRecipient):
        key = "error.recipient"
    elif isinstance(exc, RateLimited):
        key = "error.ratelimited"
    elif isinstance(exc, ProviderProtocolError):
        key = "error.protocol"
    text = t(lang, key, account=account, detail=detail)
    if exc.code and exc.code not in text and not isinstance(exc, ProviderUnavailable):
        text += f" ({ltr(esc(exc.code))})"
    return text


def balance_block(lang: str, account: str, provider: str, balance: Balance) -> str:
    lines = [
        t(lang, "balance.line", account=esc(account), provider=provider,
          credit=money(lang, balance.credit, balance.currency))
    ]  # fmt: skip
    fa, en = balance.tariffs.get("base_fa"), balance.tariffs.get("base_en")
    if fa is not None and en is not None:
        lines.append(
            t(lang, "balance.tariffs", fa=money(lang, fa, balance.currency),
              en=money(lang, en, balance.currency))
        )  # fmt: skip
    if balance.lines:
        lines.append(t(lang, "balance.lines", lines=", ".join(ltr(esc(x)) for x in balance.lines)))
    if balance.expires is not None:
        lines.append(t(lang, "balance.expires", date=when(lang, balance.expires)[0]))
    return "\n".join(lines)


def local_form(canonical: str) -> str:
    """``989121234567`` → ``0912 123 4567``, as people write a number (also a topic's name)."""
    if len(canonical) == 12 and canonical.startswith("98"):
        local = numbers.local0(canonical)
        return f"{local[:4]} {local[4:7]} {local[7:]}"
    return canonical[:128]


def refusals(lang: str, account: str, refused: Sequence[tuple[str, str]]) -> str:
    """One line per recipient the provider will not reach, with the reason in words."""
    return "\n".join(
        t(lang, "preview.refused",
          recipient=phone(lang, r) if r.isdigit() else ltr(esc(r)),
          reason=t(lang, f"refused.{reason}", account=esc(account)))
        for r, reason in refused
    )  # fmt: skip


def text_info(lang: str, info: TextInfo) -> str:
    return t(
        lang, "preview.parts", encoding=info.encoding.value, length=number(lang, info.length),
        parts=number(lang, info.parts),
    )  # fmt: skip


def number_list(lang: str, numbers: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(phone(lang, n) for n in numbers[:limit])
    if len(numbers) > limit:
        shown += f" … (+{number(lang, len(numbers) - limit)})"
    return shown
