"""Rendering what a person reads: sentences from bot/locales.py, digits, money, Jalali dates (HTML)."""

from __future__ import annotations

import functools
import html
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jdatetime

from providers import numbers
from providers.base import (
    AuthFailed,
    Balance,
    Capability,
    ErrorCode,
    InsufficientCredit,
    InvalidRecipient,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from providers.text import TextInfo, analyze
from providers.timeutil import TEHRAN
from storage.access import ROLES
from storage.inbound import InboundRow
from storage.sends import Recipient, SendRow, SendState

from .locales import CAPABILITY_NAMES, COMMANDS, STRINGS
from .optouts import Consent
from .sheets import Invalid

if TYPE_CHECKING:
    from .contacts import Resolved

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
    """``989121234567`` → ``0912 123 4567``, kept left-to-right. Anything else (an alphanumeric
    sender, whatever a provider sent) is shown verbatim, escaped."""
    if _is_mobile(canonical):
        return ltr(digits(lang, local_form(canonical)))
    return ltr(esc(canonical))


Names = Mapping[str, str]  # number → the phonebook's name for it
NO_NAMES: Names = {}


def who(lang: str, number: str, names: Names = NO_NAMES) -> str:
    """A number as the chat shows it, after its phonebook name when it has one."""
    name = names.get(number)
    return f"{esc(name)} ({phone(lang, number)})" if name else phone(lang, number)


def _is_mobile(value: str) -> bool:
    return len(value) == 12 and value.startswith("98") and value.isdigit()


def money(lang: str, amount: float, currency: str) -> str:
    if currency == "rial":
        return t(lang, "rial", amount=number(lang, amount), toman=number(lang, amount / 10))
    if currency == "toman":
        return t(lang, "toman", amount=number(lang, amount))
    return t(lang, "unit", amount=number(lang, amount))


@functools.lru_cache(maxsize=1024)
def when(lang: str, moment: datetime) -> tuple[str, str]:
    """(Jalali, Gregorian) renderings of a moment in Tehran time (remembered: a burst of SMS
    shares its minutes, and the Jalali calendar is the dearest part of rendering one)."""
    local = moment.astimezone(TEHRAN)
    jalali = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    return (
        digits(lang, jalali.strftime("%Y/%m/%d %H:%M")),
        digits(lang, local.strftime("%Y-%m-%d %H:%M")),
    )


def role_name(lang: str, role: str | None) -> str:
    return t(lang, f"role.{role}") if role else "—"


def capability(lang: str, which: Capability) -> str:
    """A capability as a person reads it."""
    return CAPABILITY_NAMES.get(lang, CAPABILITY_NAMES["en"])[which.value]


def provider_error(lang: str, exc: ProviderError) -> str:
    """One sentence for a provider failure; never a class name or a traceback."""
    detail = esc(exc.detail_fa if lang == "fa" else exc.detail)
    account = esc(exc.account)
    if isinstance(exc, NotSupported):
        named = capability(lang, exc.capability)
        return t(lang, "error.unsupported", account=account, capability=named)
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
        t(
            lang,
            "balance.line",
            account=esc(account),
            provider=provider,
            credit=money(lang, balance.credit, balance.currency),
        )
    ]
    fa, en = balance.tariffs.get("base_fa"), balance.tariffs.get("base_en")
    if fa is not None and en is not None:
        lines.append(
            t(
                lang,
                "balance.tariffs",
                fa=money(lang, fa, balance.currency),
                en=money(lang, en, balance.currency),
            )
        )
    if balance.lines:
        lines.append(t(lang, "balance.lines", lines=", ".join(ltr(esc(x)) for x in balance.lines)))
    if balance.expires is not None:
        lines.append(t(lang, "balance.expires", date=when(lang, balance.expires)[0]))
    return "\n".join(lines)


def local_form(canonical: str) -> str:
    """``989121234567`` → ``0912 123 4567``, as people write a number (plain text, unescaped)."""
    if _is_mobile(canonical):
        local = numbers.local0(canonical)
        return f"{local[:4]} {local[4:7]} {local[7:]}"
    return canonical


def topic_name(sender: str, name: str | None = None) -> str:
    """A correspondent's forum topic name: their phonebook name and number (plain text, 1–128
    characters, one line)."""
    number = " ".join(local_form(sender).split())[:128]
    if not name:
        return number or "?"
    room = 128 - len(number) - 3  # a long name is cut, never the number
    short = " ".join(name.split())[:room]
    return f"{short} · {number}" if short else number or "?"


def reason(lang: str, account: str, code: str) -> str:
    """Why a recipient was not sent to: the sentence for a code the bridge knows (``refused.*``),
    else the provider's own sentence for it with the code, else the code verbatim."""
    key = f"refused.{code}"
    if key in STRINGS["en"]:
        return t(lang, key, account=esc(account))
    known = _provider_codes().get(code)
    if known is not None:
        return f"{esc(known.fa if lang == 'fa' else known.en)} ({ltr(esc(code))})"
    return esc(code)


@functools.cache
def _provider_codes() -> dict[str, ErrorCode]:
    """Every provider's code table (a stored recipient keeps its provider's code only); read
    when a code is first shown, not at the start, where only configured providers are loaded."""
    from providers import amootsms, payamsms, smsir

    return {**amootsms.CODES, **payamsms.CODES, **smsir.CODES}


def refusals(
    lang: str,
    account: str,
    refused: Sequence[tuple[str, str]],
    each: int = 5,
    names: Names = NO_NAMES,
) -> str:
    """The recipients a send will not reach, with the reason in words: the first ``each`` of a
    reason by number, the rest of it counted."""
    lines: list[str] = []
    by_reason: dict[str, list[str]] = {}
    for recipient, code in refused:
        by_reason.setdefault(code, []).append(recipient)
    for why_code, recipients in by_reason.items():
        why = reason(lang, account, why_code)
        lines += [
            t(lang, "preview.refused", recipient=who(lang, r, names), reason=why)
            for r in recipients[:each]
        ]
        if len(recipients) > each:
            more = number(lang, len(recipients) - each)
            lines.append(t(lang, "preview.refused_more", count=more, reason=why))
    return "\n".join(lines)


def text_info(lang: str, info: TextInfo) -> str:
    return t(
        lang,
        "preview.parts",
        encoding=info.encoding.value,
        length=number(lang, info.length),
        parts=number(lang, info.parts),
    )


def number_list(lang: str, numbers: Sequence[str], limit: int = 20, names: Names = NO_NAMES) -> str:
    shown = ", ".join(who(lang, n, names) for n in numbers[:limit])
    if len(numbers) > limit:
        shown += f" … (+{number(lang, len(numbers) - limit)})"
    return shown


# ---------------------------------------------------------------------------------- sends

DELIVERY_MARKS = {
    "draft": "⏸",  # a send of many: this recipient's request has not left yet
    "sending": "📤",
    "queued": "⏳",
    "sent": "📶",
    "delivered": "✅",
    "failed": "❌",
    "refused": "🚫",  # never sent: the provider said no, or the request never left
    "unknown": "❔",
}
LIST_LIMIT = 10  # above this many recipients, delivery shows counts and the first exceptions only


def preview_text(
    lang: str, row: SendRow, reply_to: str | None = None, names: Names = NO_NAMES
) -> str:
    """A send before it goes: who (by name where the phonebook has one), from where, what it
    costs, and the text verbatim (a send from a file: what the file held, and two of its
    texts)."""
    if row.file_info is not None:
        return file_preview(lang, row, row.file_info, names)
    numbers = [r.number for r in row.recipients]
    lines = [t(lang, "preview.title", id=digits(lang, str(row.id)))]
    if reply_to:
        lines.append(t(lang, "preview.reply_to", sender=who(lang, reply_to, names)))
    lines.append(t(lang, "preview.from", account=esc(row.account), line=ltr(esc(row.line or "—"))))
    lines.append(
        t(
            lang,
            "preview.recipients",
            count=number(lang, len(numbers)),
            numbers=number_list(lang, numbers, names=names),
        )
    )
    if row.audience is not None and row.audience != len(numbers):
        lines.append(t(lang, "preview.audience", count=number(lang, row.audience)))
    if row.invalid:
        lines.append(t(lang, "preview.invalid", invalid=", ".join(esc(i) for i in row.invalid)))
    if row.refused:
        lines.append(refusals(lang, row.account, row.refused, names=names))
    if row.send_at:
        jalali, gregorian = when(lang, datetime.fromisoformat(row.send_at))
        lines.append(t(lang, "preview.when", jalali=jalali, gregorian=gregorian))
    lines.append(text_info(lang, analyze(row.text)))
    if row.price_estimate is not None:
        lines.append(t(lang, "preview.cost", cost=money(lang, row.price_estimate, "rial")))
    lines.append(t(lang, "preview.text", text=esc(row.text)))
    return "\n".join(lines)


SAMPLES = 2  # personalised texts shown in a file send's preview


def file_preview(lang: str, row: SendRow, info: dict[str, Any], names: Names = NO_NAMES) -> str:
    """A send from a file: rows read, recipients kept, invalid rows by row number, duplicates and
    opted-out numbers skipped, parts in all and the longest text, cost, and samples."""
    lines = [
        t(lang, "preview.title", id=digits(lang, str(row.id))),
        t(lang, "file.name", name=esc(info.get("name", ""))),
        t(lang, "preview.from", account=esc(row.account), line=ltr(esc(row.line or "—"))),
        t(
            lang,
            "file.counts",
            rows=number(lang, info.get("rows", 0)),
            count=number(lang, len(row.recipients)),
        ),
    ]
    invalid = [Invalid(at, value, why) for at, value, why in info.get("invalid", [])]
    lines += invalid_rows(lang, invalid, info.get("invalid_count", 0))
    if info.get("duplicates"):
        lines.append(t(lang, "file.duplicates", count=number(lang, info["duplicates"])))
    if row.refused:
        lines.append(refusals(lang, row.account, row.refused, names=names))
    if row.send_at:
        jalali, gregorian = when(lang, datetime.fromisoformat(row.send_at))
        lines.append(t(lang, "preview.when", jalali=jalali, gregorian=gregorian))
    lines.append(
        t(
            lang,
            "file.parts",
            parts=number(lang, info.get("parts", 0)),
            longest=number(lang, info.get("longest_parts", 0)),
            length=number(lang, info.get("longest_length", 0)),
        )
    )
    if row.price_estimate is not None:
        lines.append(t(lang, "preview.cost", cost=money(lang, row.price_estimate, "rial")))
    if row.personalised:
        lines.append(t(lang, "file.template", text=esc(row.text)))
        for r in row.recipients[:SAMPLES]:
            lines.append(
                t(lang, "file.sample", number=who(lang, r.number, names), text=esc(r.text))
            )
    else:
        lines.append(t(lang, "preview.text", text=esc(row.text)))
    return "\n".join(lines)


def invalid_rows(lang: str, invalid: Sequence[Invalid], count: int, shown: int = 10) -> list[str]:
    """A list's rows that are left out: how many, the first ``shown`` by row number and why."""
    if not count:
        return []
    lines = [t(lang, "file.invalid", count=number(lang, count))]
    for row in invalid[:shown]:
        lines.append(
            t(
                lang,
                "file.invalid_row",
                row=number(lang, row.row),
                value=f"{ltr(esc(row.value))} — " if row.value else "",
                reason=file_reason(lang, row.reason),
            )
        )
    more = count - min(shown, len(invalid))
    if more > 0:
        lines.append(t(lang, "file.invalid_more", count=number(lang, more)))
    return lines


def file_reason(lang: str, code: str) -> str:
    """Why a file's row is left out: not a mobile number, no number, or an empty placeholder."""
    kind, _, column = code.partition(":")
    return t(lang, f"file.reason.{kind}", column=esc(column))


def progress(lang: str, row: SendRow) -> str:
    """How far a send of many has got: a bar and the count of recipients done."""
    total = len(row.recipients)
    done = sum(1 for r in row.recipients if r.state not in ("draft", "sending"))
    filled = round(10 * done / total) if total else 10
    return t(
        lang,
        "sending.progress",
        bar="▓" * filled + "░" * (10 - filled),
        percent=number(lang, 100 * done // total if total else 100),
        done=number(lang, done),
        total=number(lang, total),
    )


def delivery_counts(lang: str, recipients: Sequence[Recipient]) -> str:
    """``✅ delivered 5 · ❌ not delivered 1 · ❔ unknown 4`` for a send's recipients."""
    counts: dict[str, int] = {}
    for r in recipients:
        state = "refused" if r.state == "failed" and not r.message_id else r.state
        counts[state] = counts.get(state, 0) + 1
    return " · ".join(
        f"{DELIVERY_MARKS.get(state, '❔')} "
        f"{t(lang, f'delivery.{state}') if state in DELIVERY_MARKS else esc(state)} "
        f"{number(lang, count)}"
        for state, count in sorted(counts.items())
    )


def result_text(lang: str, row: SendRow, names: Names = NO_NAMES) -> str:
    """The provider's answer, then each recipient's state as reports arrive (above
    ``LIST_LIMIT`` recipients: counts, and the first unknown and refused numbers). Recipients
    that may have been sent come first, with the one sentence that says so."""
    lines = [t(lang, "result.title", id=digits(lang, str(row.id)), account=esc(row.account))]
    accepted = [r for r in row.recipients if r.message_id]
    unknown = [r for r in row.recipients if not r.message_id and r.state == "unknown"]
    refused = [r for r in row.recipients if not r.message_id and r.state != "unknown"]
    if unknown:
        lines.append(
            t(
                lang,
                "result.unknown",
                count=number(lang, len(unknown)),
                id=digits(lang, str(row.id)),
            )
        )
    if len(row.recipients) > LIST_LIMIT:
        lines.append(t(lang, "result.summary", counts=delivery_counts(lang, row.recipients)))
        accepted = []
    for r in accepted:
        lines.append(
            t(
                lang,
                "result.ok",
                mark=DELIVERY_MARKS.get(r.state, "❔"),
                number=who(lang, r.number, names),
                state=t(lang, f"delivery.{r.state}") if r.state in DELIVERY_MARKS else esc(r.state),
                message_id=ltr(esc(r.message_id or "")),
            )
        )
    for r in unknown[:LIST_LIMIT]:
        key = "result.absent" if r.raw_status == "absent" else "result.maybe"
        lines.append(t(lang, key, number=who(lang, r.number, names)))
    if len(refused) > LIST_LIMIT:  # a list's refusals: by reason, a few numbers each
        by_reason: dict[str, list[Recipient]] = {}
        for r in refused:
            by_reason.setdefault(r.error or row.error or "", []).append(r)
        for code, group in by_reason.items():
            lines.append(
                t(
                    lang,
                    "result.failed_many",
                    count=number(lang, len(group)),
                    error=reason(lang, row.account, code),
                    numbers=number_list(lang, [r.number for r in group], 3, names),
                )
            )
        refused = []
    for r in refused:
        lines.append(
            t(
                lang,
                "result.failed",
                number=who(lang, r.number, names),
                error=reason(lang, row.account, r.error or row.error or ""),
            )
        )
    if len(unknown) > LIST_LIMIT:
        lines.append(f"… (+{number(lang, len(unknown) - LIST_LIMIT)})")
    if row.campaign_id:
        campaigns = row.campaign_id.split(",")  # a personalised send: one per distinct text
        shown = ", ".join(campaigns[:3])
        if len(campaigns) > 3:
            shown += f" … (+{number(lang, len(campaigns) - 3)})"
        lines.append(t(lang, "result.campaign", campaign=ltr(esc(shown))))
    if row.price:
        lines.append(t(lang, "result.price", price=money(lang, row.price, "rial")))
    return "\n".join(lines)


def send_status(
    lang: str, row: SendRow, reply_to: str | None = None, names: Names = NO_NAMES
) -> str:
    """A send's chat message after Confirm: its preview, then its result so far."""
    if row.state is SendState.SENDING:
        going = t(lang, "sending")
        if len(row.recipients) > LIST_LIMIT:
            going += "\n" + progress(lang, row)
        return preview_text(lang, row, reply_to, names) + "\n\n" + going
    return preview_text(lang, row, reply_to, names) + "\n\n" + result_text(lang, row, names)


def shown_numbers(row: SendRow, reply_to: str | None = None) -> list[str]:
    """The numbers a send's message can show (whose names are worth looking up)."""
    shown = [r.number for r in row.recipients[:40]] + [n for n, _why in row.refused[:40]]
    return [*shown, reply_to] if reply_to else shown


# ---------------------------------------------------------------------------------- inbound


def resolved(lang: str, found: Resolved) -> str:
    """What a ``@label`` or ``@name`` recipient stood for, under a preview."""
    if found.kind == "label":
        return t(
            lang,
            "contacts.resolved_label",
            token=esc(found.token),
            count=number(lang, len(found.contacts)),
        )
    contact = found.contacts[0]
    return t(
        lang,
        "contacts.resolved_name",
        token=esc(found.token),
        who=who(lang, contact.number, {contact.number: contact.name}),
    )


def consent_mark(lang: str, account: str, said: Consent | None) -> str:
    """The line under an SMS that opted its sender out (or back in); empty for any other SMS."""
    if said is None:
        return ""
    return "\n" + t(lang, f"consent.{said.value}", account=esc(account))


def sender(lang: str, row: InboundRow) -> str:
    """An SMS's sender, after their phonebook name when they have one."""
    return who(lang, row.sender, {row.sender: row.name} if row.name else NO_NAMES)


def inbound_sms(lang: str, row: InboundRow, said: Consent | None = None) -> str:
    """A forwarded SMS: sender (by name too, where the phonebook has one), line, account, Jalali
    and Gregorian time, the text verbatim; and whether it opted its sender out."""
    jalali, gregorian = when(lang, datetime.fromisoformat(row.received_at))
    return t(
        lang,
        "inbound",
        sender=sender(lang, row),
        line=ltr(esc(row.line or "—")),
        account=esc(row.account),
        jalali=jalali,
        gregorian=gregorian,
        text=esc(row.text),
    ) + consent_mark(lang, row.account, said)


def digest_title(lang: str, count: int) -> str:
    return t(lang, "digest.title", count=number(lang, count), example=f"#{digits(lang, '1')}")


def digest_item(lang: str, position: int, row: InboundRow, said: Consent | None = None) -> str:
    """One SMS inside a digest, numbered so that a reply can pick it."""
    return t(
        lang,
        "digest.item",
        number=f"#{digits(lang, str(position))}",
        sender=sender(lang, row),
        line=ltr(esc(row.line or "—")),
        account=esc(row.account),
        time=when(lang, datetime.fromisoformat(row.received_at))[0],
        text=esc(row.text),
    ) + consent_mark(lang, row.account, said)
