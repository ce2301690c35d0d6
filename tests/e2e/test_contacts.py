"""The phonebook and saved texts: names next to numbers wherever the bot shows them, ``@label`` and
``@name`` as recipients, contacts added by command, by replying to a forwarded SMS and from a
list or a phone's vCard, edited and deleted by button; saved texts offered where a text is
asked for."""

from __future__ import annotations

import quopri
from pathlib import Path
from typing import Any

import pytest

from bot.app import running
from bot.config import load_config
from sandbox import files
from tests.conftest import ADMIN, World, eventually, preview_of, world

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

ALI, SARA = "09121234567", "09351112222"


async def _say(w: World, text: str, expect: str, **kwargs: Any) -> dict[str, Any]:
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, text, **kwargs)
    return await w.tg.wait_text(ADMIN, expect, after=after)


async def test_names_show_next_to_numbers_and_labels_and_names_are_recipients(w: World) -> None:
    await _say(w, f"/contacts add {ALI} Ali Rezaei #customers #vip -- likes tea", "was added")
    await _say(w, f"/contacts add {SARA} سارا محمدی #Customers", "was added")
    w.payam.inject_inbound(ALI, "is my order ready?")
    shown = await w.tg.wait_text(ADMIN, "is my order ready?")
    assert "Ali Rezaei (⁦0912 123 4567⁩)" in shown["text"]
    inbox = await _say(w, "/inbox", "is my order ready?")
    assert "Ali Rezaei" in inbox["text"]
    preview = await preview_of(w, ADMIN, "/send payam: @customers your order has shipped")
    assert "@customers: 2 contact(s) with this label" in preview["text"]
    assert "Ali Rezaei (⁦0912 123 4567⁩)" in preview["text"]
    assert "سارا محمدی (⁦0935 111 2222⁩)" in preview["text"]
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: len(w.payam.sent()) == 2, what="both SMS")
    assert sorted(w.payam.sent()) == [
        ("989121234567", "your order has shipped"),
        ("989351112222", "your order has shipped"),
    ]
    named = await preview_of(w, ADMIN, "/send payam: @Ali_Rezaei see you")
    assert "@Ali_Rezaei: Ali Rezaei" in named["text"] and "Recipients (1)" in named["text"]
    await _say(w, "/send payam: @nobody hi", "has no label or contact named “@nobody”")
    result = await _say(w, "/report 1", "Send #1 from payam")
    assert "Ali Rezaei" in result["text"]


async def test_a_forwarded_sms_sender_is_saved_by_replying(w: World) -> None:
    w.payam.inject_inbound(SARA, "this is Sara, new number")
    forwarded = await w.tg.wait_text(ADMIN, "this is Sara")
    saved = await _say(w, "/contacts add Sara #new", "was added", reply_to=forwarded["message_id"])
    assert "Sara (⁦0935 111 2222⁩)" in saved["text"]
    w.payam.inject_inbound(SARA, "thanks")
    again = await w.tg.wait_text(ADMIN, "thanks")
    assert "Sara (⁦0935 111 2222⁩)" in again["text"]
    await _say(w, "/contacts add Sara", "Add: /contacts add")  # no number, no replied SMS


async def test_the_phonebook_pages_and_edits_and_deletes_by_button(w: World) -> None:
    for n in range(10):
        await _say(w, f"/contacts add 0912000{n:04d} Customer {n:02d} #bulk", "was added")
    first = await _say(w, "/contacts", "10 contact(s) — page 1 of 2")
    assert "Customer 00" in first["text"] and "Customer 09" not in first["text"]
    pager = len(first["reply_markup"]["inline_keyboard"][-1]) - 1
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, first["message_id"], 8 + pager)  # ▶ after eight contacts
    second = await w.tg.wait_text(ADMIN, "page 2 of 2", after=after)
    assert "Customer 09" in second["text"]
    found = await _say(w, "/contacts ۰۹۱۲۰۰۰۰۰۰۳", "1 contact(s)")  # a number, Persian digits
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, found["message_id"], 0)
    card = await w.tg.wait_text(ADMIN, "Labels: #bulk", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, card["message_id"], 0)  # Edit
    await w.tg.wait_text(ADMIN, "Send the new name", after=after)
    edited = await _say(w, "Reza Karimi #vip -- calls after 5", "was updated")
    assert "Reza Karimi (⁦0912 000 0003⁩)" in edited["text"]
    card = await _say(w, "/contacts reza", "Reza Karimi")
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, card["message_id"], 0)
    card = await w.tg.wait_text(ADMIN, "Note: calls after 5", after=after)
    assert "Labels: #vip" in card["text"]
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, card["message_id"], 1)  # Delete
    await w.tg.wait_text(ADMIN, "was deleted from the phonebook", after=after)
    await _say(w, "/contacts reza", "No contact matches")
    assert w.bridge is not None
    audit = [r[0] for r in await w.bridge.db.fetchall("SELECT action FROM audit")]
    assert {"contacts.add", "contacts.edit", "contacts.delete"} <= set(audit)


async def test_a_list_and_a_vcard_are_imported_after_a_preview(w: World) -> None:
    rows: list[tuple[object, ...]] = [
        (ALI, "Ali Rezaei", "customers"),
        ("02188776655", "Office", ""),
        (SARA, "", "x"),
        (ALI, "Ali again", ""),
        ("09125550001", "مریم", "vip, customers"),
    ]
    await _say(w, f"/contacts add {ALI} Old Name", "was added")
    after = len(w.tg.events)
    data = files.csv_bytes(rows, ("mobile", "name", "labels"))
    await w.tg.send_document(ADMIN, ADMIN, "people.csv", data)
    question = await w.tg.wait_text(ADMIN, "What should I do with this list?", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, question["message_id"], 1)  # Save as contacts
    preview = await w.tg.wait_text(ADMIN, "Rows: 5", after=after)
    text = preview["text"]
    assert "new contacts: 1 — contacts already there, to be updated: 1" in text
    assert "row 3: ⁦02188776655⁩ — not a mobile number" in text
    assert "row 4: ⁦09351112222⁩ — column “name” is empty" in text
    assert "Repeated numbers (sent once): 1 rows" in text
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)  # Import
    await w.tg.wait_text(ADMIN, "Saved: 1 new contact(s), 1 updated", after=after)
    listing = await _say(w, "/contacts customers", "2 contact(s)")
    assert "Ali Rezaei" in listing["text"] and "مریم" in listing["text"]
    # one-shot: the caption says what the list is for
    after = len(w.tg.events)
    await w.tg.send_document(ADMIN, ADMIN, "more.csv", data, "مخاطبان")
    await w.tg.wait_text(
        ADMIN, "new contacts: 0 — contacts already there, to be updated: 2", after=after
    )

    name = quopri.encodestring("نگار احمدی".encode()).decode()
    card = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        f"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:{name}\r\n"
        "TEL;CELL:+98 912 777 8888\r\nTEL;HOME:021 4444 5555\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Karimi;Reza;;;\r\nTEL;TYPE=cell:09127779999\r\n"
        "END:VCARD\r\n"
    )
    after = len(w.tg.events)
    await w.tg.send_document(ADMIN, ADMIN, "phone.vcf", card.encode())
    preview = await w.tg.wait_text(ADMIN, "new contacts: 2", after=after)
    assert "not a mobile number" in preview["text"]  # the home line
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await w.tg.wait_text(ADMIN, "Saved: 2 new contact(s)", after=after)
    found = await _say(w, "/contacts نگار", "1 contact(s)")
    assert "0912 777 8888" in found["text"]
    await _say(w, "/contacts Reza", "Reza Karimi")


async def test_saved_texts_are_offered_where_a_text_is_asked_for(w: World) -> None:
    await _say(w, "/templates add promo Big sale today, 20% off", "Saved text “promo” added")
    await _say(w, "/templates add thanks\nسلام {name}، سفارش {order} ارسال شد", "added")
    listing = await _say(w, "/templates", "2 saved text(s)")
    assert "promo" in str(listing["reply_markup"]) and "thanks" in str(listing["reply_markup"])
    asked = await _say(w, f"/send payam: {ALI}", "or tap a saved one")
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, asked["message_id"], 1)  # thanks: placeholders
    await w.tg.wait_text(ADMIN, "“thanks” has placeholders (name, order)", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, asked["message_id"], 0)  # promo
    preview = await w.tg.wait_text(ADMIN, "Send preview", after=after)
    assert "Big sale today, 20% off" in preview["text"]
    # a list's flow offers them too: the saved text with placeholders fills each row
    data = files.csv_bytes(files.customers(2))
    after = len(w.tg.events)
    await w.tg.send_document(ADMIN, ADMIN, "two.csv", data, "payam:")
    asked = await w.tg.wait_text(ADMIN, "Now send the SMS text", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, asked["message_id"], 1)
    preview = await w.tg.wait_text(ADMIN, "Send preview", after=after)
    assert "سلام علی رضایی، سفارش A-1000 ارسال شد" in preview["text"]
    # edit and delete by button
    listing = await _say(w, "/templates", "2 saved text(s)")
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, listing["message_id"], 0)
    card = await w.tg.wait_text(ADMIN, "Big sale today", after=after)
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, card["message_id"], 0)
    await w.tg.wait_text(ADMIN, "Send the new text of “promo”", after=after)
    await _say(w, "Bigger sale tomorrow", "Saved text “promo” updated")
    after = len(w.tg.events)
    await w.tg.press(ADMIN, ADMIN, card["message_id"], 1)
    await w.tg.wait_text(ADMIN, "Saved text “promo” deleted", after=after)
    await _say(w, "/templates", "1 saved text(s)")


async def test_a_correspondents_forum_topic_is_named_after_them(tmp_path: Path) -> None:
    forum = -100778
    async with world(tmp_path, start_bridge=False) as w:
        w.tg.group(forum, "Support", forum=True)
        with w.config_path.open("a", encoding="utf-8") as config:
            config.write(f'\n[[routes]]\naccount = "payam"\nchat_id = {forum}\ntopics = true\n')
        async with running(load_config(w.config_path)) as bridge:
            w.bridge = bridge
            await _say(w, f"/contacts add {ALI} Ali Rezaei", "was added")
            w.payam.inject_inbound(ALI, "hello from ali")
            shown = await w.tg.wait_text(forum, "hello from ali")
            topic = w.tg.topics[(forum, shown["message_thread_id"])]
            assert topic["name"] == "Ali Rezaei · 0912 123 4567"
            # a topic made before its correspondent had a name takes the name when they get one
            w.payam.inject_inbound(SARA, "hi, new customer")
            first = await w.tg.wait_text(forum, "new customer")
            thread = first["message_thread_id"]
            assert w.tg.topics[(forum, thread)]["name"] == "0935 111 2222"
            await _say(w, f"/contacts add {SARA} Sara Karimi", "was added")
            await eventually(
                lambda: w.tg.topics[(forum, thread)]["name"] == "Sara Karimi · 0935 111 2222",
                what="the topic renamed",
            )


async def test_in_persian_a_list_contacts_and_labels_read_and_answer_in_persian(
    w: World,
) -> None:
    await _say(w, "/lang fa", "زبان این گفتگو فارسی شد")
    saved = await _say(w, "/contacts add ۰۹۱۲۱۲۳۴۵۶۷ علی رضایی #مشتری", "افزوده شد")
    assert "علی رضایی (⁦۰۹۱۲ ۱۲۳ ۴۵۶۷⁩)" in saved["text"]
    preview = await _say(w, "/send payam: @مشتري سلام", "پیش‌نمایش ارسال")  # Arabic ي
    assert "@مشتري: ۱ مخاطب با این برچسب" in preview["text"]
    rows: list[tuple[object, ...]] = [*files.customers(3), ("abc", "x", "y")]
    after = len(w.tg.events)
    await w.tg.send_document(ADMIN, ADMIN, "فهرست.xlsx", files.xlsx(rows), "payam: سلام {name}")
    preview = await w.tg.wait_text(ADMIN, "پیش‌نمایش ارسال", after=after)
    assert "ردیف‌های خوانده‌شده: ۴ — گیرندگان معتبر: ۳" in preview["text"]
    assert "ردیف ۵: ⁦abc⁩ — شمارهٔ موبایل نیست" in preview["text"]
    assert "نمونه برای" in preview["text"] and "سلام علی رضایی" in preview["text"]
