"""The phonebook: one name per number (canonical), labels to send to, a note; and saved texts.

``labels`` is stored as ``,a,b,`` so that one label is found with ``LIKE '%,a,%'``; ``folded`` is
the name and labels as the bot compares them (Persian letter forms, digits, case), for search.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .access import insert_audit
from .db import Database, now_iso


@dataclass(frozen=True, slots=True)
class Contact:
    number: str
    name: str
    labels: tuple[str, ...]
    note: str


@dataclass(frozen=True, slots=True)
class NewContact:
    number: str
    name: str
    labels: tuple[str, ...] = ()
    note: str = ""
    folded: str = ""


@dataclass(frozen=True, slots=True)
class Template:
    id: int
    name: str
    text: str


def _labels(stored: str) -> tuple[str, ...]:
    return tuple(label for label in stored.split(",") if label)


def _contact(row: Sequence[object]) -> Contact:
    number, name, labels, note = (str(v) for v in row[:4])
    return Contact(number, name, _labels(labels), note)


class ContactsRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(
        self, contacts: Sequence[NewContact], *, user_id: int, chat_id: int | None, action: str
    ) -> tuple[int, int]:
        """Add or update (by number) in one commit, audited once; (added, updated)."""
        async with self.db.transaction() as conn:
            numbers = [c.number for c in contacts]
            known: set[str] = set()
            for start in range(0, len(numbers), 500):
                chunk = numbers[start : start + 500]
                rows = await conn.execute_fetchall(
                    f"SELECT number FROM contacts WHERE number IN ({', '.join('?' * len(chunk))})",
                    chunk,
                )
                known.update(str(r[0]) for r in rows)
            await conn.executemany(
                "INSERT INTO contacts (number, name, labels, note, folded, by_user, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET name = "
                "excluded.name, labels = excluded.labels, note = excluded.note, folded = "
                "excluded.folded, by_user = excluded.by_user, updated_at = excluded.updated_at",
                [
                    (
                        c.number,
                        c.name,
                        "," + ",".join(c.labels) + "," if c.labels else "",
                        c.note,
                        c.folded,
                        user_id,
                        now_iso(),
                    )
                    for c in contacts
                ],
            )
            detail = contacts[0].number if len(contacts) == 1 else f"{len(contacts)} contacts"
            await insert_audit(conn, action, user_id, chat_id, None, len(contacts), detail)
        return len(set(numbers) - known), len(known)

    async def delete(self, number: str, *, user_id: int, chat_id: int | None) -> bool:
        async with self.db.transaction() as conn:
            cursor = await conn.execute("DELETE FROM contacts WHERE number = ?", (number,))
            if cursor.rowcount:
                await insert_audit(conn, "contacts.delete", user_id, chat_id, None, 1, number)
            return bool(cursor.rowcount > 0)

    async def get(self, number: str) -> Contact | None:
        row = await self.db.fetchone(
            "SELECT number, name, labels, note FROM contacts WHERE number = ?", (number,)
        )
        return _contact(tuple(row)) if row else None

    async def names(self, numbers: Iterable[str]) -> dict[str, str]:
        """The name of each of ``numbers`` that is in the phonebook."""
        wanted = sorted(set(numbers))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self.db.fetchall(
                f"SELECT number, name FROM contacts WHERE number IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((str(r[0]), str(r[1])) for r in rows)
        return found

    async def search(self, folded: str, offset: int, limit: int) -> tuple[list[Contact], int]:
        """Contacts whose folded name or labels contain ``folded``, or whose number contains it
        (empty: all), by name; and how many match in all."""
        where, params = "1 = 1", ()
        if folded:
            where = "(folded LIKE ? ESCAPE '\\' OR number LIKE ? ESCAPE '\\')"
            pattern = (
                "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            )
            params = (pattern, pattern)  # type: ignore[assignment]
        total = await self.db.fetchone(f"SELECT count(*) FROM contacts WHERE {where}", params)
        rows = await self.db.fetchall(
            f"SELECT number, name, labels, note FROM contacts WHERE {where} "
            f"ORDER BY {self.db.dialect.nocase('name')}, number LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_contact(tuple(r)) for r in rows], int(total[0]) if total else 0

    async def with_label(self, label: str) -> list[Contact]:
        rows = await self.db.fetchall(
            "SELECT number, name, labels, note FROM contacts WHERE labels LIKE ? "
            f"ORDER BY {self.db.dialect.nocase('name')}",
            (f"%,{label},%",),
        )
        return [_contact(tuple(r)) for r in rows]

    async def named(self, folded_name: str) -> list[Contact]:
        """Contacts whose folded name is ``folded_name`` (a name typed as a recipient)."""
        rows = await self.db.fetchall(
            "SELECT number, name, labels, note FROM contacts WHERE substr(folded, 1, ?) = ? "
            f"ORDER BY {self.db.dialect.nocase('name')}",
            (len(folded_name) + 1, folded_name + "|"),
        )
        return [_contact(tuple(r)) for r in rows]


class TemplatesRepo:
    def __init__(self, db: Database) -> None:
        self.db = db
        nocase = db.dialect.nocase
        self._named = f"{nocase('name')} = {nocase('?')}"  # a name, whatever its case

    async def listing(self) -> list[Template]:
        rows = await self.db.fetchall(
            f"SELECT id, name, text FROM templates ORDER BY {self.db.dialect.nocase('name')}"
        )
        return [Template(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def get(self, template_id: int) -> Template | None:
        row = await self.db.fetchone(
            "SELECT id, name, text FROM templates WHERE id = ?", (template_id,)
        )
        return Template(int(row[0]), str(row[1]), str(row[2])) if row else None

    async def by_name(self, name: str) -> Template | None:
        row = await self.db.fetchone(
            f"SELECT id, name, text FROM templates WHERE {self._named}", (name,)
        )
        return Template(int(row[0]), str(row[1]), str(row[2])) if row else None

    async def save(self, name: str, text: str, *, user_id: int, chat_id: int | None) -> bool:
        """Add, or replace the text of the template of that name; True when it is new."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(f"SELECT id FROM templates WHERE {self._named}", (name,))
            found = await cursor.fetchone()
            new = found is None
            if found is None:
                await conn.execute(
                    "INSERT INTO templates (name, text, by_user, updated_at) VALUES (?, ?, ?, ?)",
                    (name, text, user_id, now_iso()),
                )
            else:  # the writer is held: nobody adds the name in between
                await conn.execute(
                    "UPDATE templates SET text = ?, by_user = ?, updated_at = ? WHERE id = ?",
                    (text, user_id, now_iso(), found[0]),
                )
            action = "templates.add" if new else "templates.edit"
            await insert_audit(conn, action, user_id, chat_id, None, 0, name)
        return new

    async def delete(self, template_id: int, *, user_id: int, chat_id: int | None) -> str | None:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM templates WHERE id = ? RETURNING name", (template_id,)
            )
            row = await cursor.fetchone()
            if row is not None:
                await insert_audit(conn, "templates.delete", user_id, chat_id, None, 0, row[0])
        return str(row[0]) if row else None
