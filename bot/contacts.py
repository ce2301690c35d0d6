"""The phonebook: names next to numbers wherever the bot shows a number, ``@label`` and ``@name`` as
recipients, and contacts read from a list (CSV, XLSX) or a phone's export (vCard).

Names are compared loosely (Persian and Arabic letter forms, digits, case); a name with spaces is
typed with ``_`` as a recipient (``@Ali_Rezaei``).
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from providers import numbers
from storage.contacts import Contact, ContactsRepo, NewContact

from .optouts import normalize as loose
from .render import topic_name
from .sending import UserError
from .sheets import Invalid, Table, short

MAX_NAME = 64
NAME_WORDS = ("name", "full name", "نام", "نام و نام خانوادگی", "اسم")
LABEL_WORDS = ("label", "labels", "group", "groups", "tag", "tags", "برچسب", "گروه")
NOTE_WORDS = ("note", "notes", "comment", "توضیح", "یادداشت")
_LABEL = re.compile(r"#([^\s#,،]+)")


def fold(name: str, labels: Iterable[str] = ()) -> str:
    """What search and ``@name`` compare: the loose name, then each label."""
    return "|".join([loose(name), *labels])


def label_of(text: str) -> str:
    return loose(text.lstrip("#@"))


def new_contact(
    raw_number: str, name: str, labels: Iterable[str] = (), note: str = ""
) -> NewContact:
    """A contact as typed; ``UserError`` for a number that is not a mobile or a bad name."""
    try:
        number = numbers.normalize(raw_number)
    except numbers.InvalidNumber as exc:
        raise UserError("send.no_valid", invalid=raw_number) from exc
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise UserError("contacts.bad_name", most=MAX_NAME)
    kept = tuple(dict.fromkeys(label_of(x) for x in labels if label_of(x)))
    return NewContact(number, name, kept, note.strip()[:200], fold(name, kept))


def parse_add(args: str) -> tuple[str | None, str, list[str], str]:
    """``0912… Ali Rezaei #customers #vip -- a note``: (number or None, name, labels, note)."""
    body, _, note = args.partition("--")
    labels = _LABEL.findall(body)
    body = _LABEL.sub(" ", body).strip()
    first, _, rest = body.partition(" ")
    if first and numbers.is_valid(first):
        return first, rest.strip(), labels, note.strip()
    return None, body, labels, note.strip()


# ---------------------------------------------------------------------------- lists and vCards


@dataclass(slots=True)
class Import:
    """Contacts read from a file, before they are saved."""

    rows: int
    contacts: list[NewContact] = field(default_factory=list)
    invalid: list[Invalid] = field(default_factory=list)
    duplicates: int = 0


def _column(table: Table, words: Sequence[str], skip: Iterable[int]) -> int | None:
    taken = set(skip)
    for index, header in enumerate(table.header):
        if index not in taken and loose(header) in {loose(w) for w in words}:
            return index
    return None


def from_table(table: Table, number_column: int) -> Import:
    """Contacts from a list: the name from a column named so (else the first column of words),
    labels and a note from columns named so."""
    name_column = _column(table, NAME_WORDS, [number_column])
    if name_column is None:
        name_column = next(
            (
                i
                for i in range(len(table.header))
                if i != number_column
                and any(r[i] and not numbers.is_valid(r[i]) for r in table.rows[:50])
            ),
            None,
        )
    if name_column is None:
        raise UserError("contacts.no_name_column", columns=", ".join(table.header))
    label_column = _column(table, LABEL_WORDS, [number_column, name_column])
    note_column = _column(table, NOTE_WORDS, [number_column, name_column])
    result = Import(rows=0)
    seen: set[str] = set()
    for offset, row in enumerate(table.rows):
        if not any(row):
            continue
        result.rows += 1
        at = table.first_row + offset
        raw, name = row[number_column], row[name_column]
        labels = re.split(r"[,،;\s]+", row[label_column]) if label_column is not None else []
        note = row[note_column] if note_column is not None else ""
        try:
            contact = new_contact(raw, name, labels, note)
        except UserError as exc:
            reason = (
                "missing:" + table.header[name_column]
                if exc.key == "contacts.bad_name"
                else "not_mobile"
            )
            result.invalid.append(Invalid(at, short(raw), "empty" if not raw else reason))
            continue
        if contact.number in seen:
            result.duplicates += 1
            continue
        seen.add(contact.number)
        result.contacts.append(contact)
    return result


def vcard_table(data: bytes) -> Table:
    """A vCard file (2.1, 3.0, 4.0, as phones export them) as a list: one row per number of each
    card, with the card's name (FN, else N). Android writes non-Latin names quoted-printable."""
    text = data.decode("utf-8-sig", errors="replace")
    text = re.sub(r"=\r?\n", "", text)  # quoted-printable soft line breaks
    text = re.sub(r"\r?\n[ \t]", "", text)  # folded lines
    rows: list[tuple[str, ...]] = []
    card: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        name, *params = key.split(";")
        name = name.split(".")[-1].upper()  # item1.TEL
        if name == "BEGIN":
            card = {}
        elif name == "END":
            person = _card_name(card)
            rows += [(tel.removeprefix("tel:"), person) for tel in card.get("TEL", [""])]
        elif name in ("FN", "N", "TEL"):
            if any(p.upper() in ("ENCODING=QUOTED-PRINTABLE", "QUOTED-PRINTABLE") for p in params):
                value = quopri.decodestring(value.encode()).decode("utf-8", errors="replace")
            card.setdefault(name, []).append(value.strip())
    if not rows:
        raise UserError("contacts.no_cards")
    return Table(("mobile", "name"), rows, 1)


def _card_name(card: dict[str, list[str]]) -> str:
    if card.get("FN"):
        return card["FN"][0]
    if card.get("N"):
        family, given, *_ = [*card["N"][0].split(";"), "", ""]
        return f"{given} {family}".strip()
    return ""


# ---------------------------------------------------------------------------- the service


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a ``@word`` recipient stands for: a label's members, or one contact by name."""

    token: str
    contacts: tuple[Contact, ...]
    kind: str  # "label" or "name"


class Phonebook:
    def __init__(
        self,
        repo: ContactsRepo,
        topics: Callable[[Sequence[str]], Awaitable[list[tuple[int, int, str]]]] | None = None,
        rename: Callable[[int, int, str], Awaitable[None]] | None = None,
    ) -> None:
        self.repo = repo
        self._topics = topics  # the forum topics of these numbers: (chat, thread, number)
        self._rename = rename  # a topic's new title (the Bot API's editForumTopic)

    async def save(
        self, contacts: Sequence[NewContact], *, user_id: int, chat_id: int | None, action: str
    ) -> tuple[int, int]:
        """Add or update contacts (audited); the forum topics of their numbers take their names
        (a topic made before the name was known was titled by its number). Returns (added,
        updated)."""
        counts = await self.repo.save(contacts, user_id=user_id, chat_id=chat_id, action=action)
        if self._topics is not None and self._rename is not None:
            names = {c.number: c.name for c in contacts}
            for chat, thread, number in await self._topics(list(names)):
                await self._rename(chat, thread, topic_name(number, names[number]))
        return counts

    async def names(self, numbers_: Iterable[str]) -> dict[str, str]:
        return await self.repo.names(n for n in numbers_ if n)

    async def search(self, query: str, page: int, size: int) -> tuple[list[Contact], int]:
        """Contacts whose name, label or number holds ``query`` (a number in any spelling)."""
        folded = loose(query)
        if folded.isdigit() and folded.startswith("0"):
            folded = folded[1:]  # 0912… is stored as 98912…
        return await self.repo.search(folded, page * size, size)

    async def resolve(self, tokens: Sequence[str]) -> tuple[list[str], list[Resolved]]:
        """Recipients as typed, with each ``@label`` or ``@name`` replaced by its numbers; and
        what each stood for (for the preview). ``UserError`` for one that stands for no one, or
        for several people by name."""
        out: list[str] = []
        found: list[Resolved] = []
        for token in tokens:
            if not token.startswith("@"):
                out.append(token)
                continue
            word = label_of(token.replace("_", " "))
            members = await self.repo.with_label(label_of(token))
            kind = "label"
            if not members:
                members = await self.repo.named(loose(word))
                kind = "name"
                if len(members) > 1:
                    who = ", ".join(f"{c.name} ({numbers.local0(c.number)})" for c in members[:5])
                    raise UserError("contacts.ambiguous", token=token, who=who)
            if not members:
                raise UserError("contacts.nobody", token=token)
            found.append(Resolved(token, tuple(members), kind))
            out.extend(c.number for c in members)
        return out, found
