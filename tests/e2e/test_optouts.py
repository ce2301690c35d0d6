"""Opt-outs: a customer who answers with the opt-out keyword is skipped by every later send of
that account — counted in the preview, never sent to — until taken off the list; one opted-out
number goes only with an admin's explicit, audited override."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ADMIN, GROUP, OPERATOR, World, eventually, preview_of

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL

CUSTOMER, OTHER = "09125551111", "09125552222"


async def _preview(
    w: World, user: int, command: str, expect: str = "Send preview"
) -> dict[str, Any]:
    if expect == "Send preview":
        return await preview_of(w, user, command)
    after = len(w.tg.events)  # a refusal instead of a preview
    await w.tg.send(user, user, command)
    return await w.tg.wait_text(user, expect, after=after)


async def test_an_opt_out_sms_is_marked_and_every_later_send_skips_the_number(w: World) -> None:
    w.payam.inject_inbound(CUSTOMER, "لغو ۱۱")  # Persian digits and a space: "لغو11"
    shown = await w.tg.wait_text(ADMIN, "Opt-out")
    assert "no send from account payam goes to this number" in shown["text"]
    await eventually(lambda: _listed(w), what="the number on /optout")
    preview = await _preview(w, ADMIN, f"/send payam: {CUSTOMER} {OTHER} our new offer")
    assert "Recipients (1)" in preview["text"] and "opted out" in preview["text"]
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: w.payam.sent(), what="the send")
    assert w.payam.sent() == [("98" + OTHER[1:], "our new offer")]  # never to the customer
    # the customer says "stop" in another account's words: only payam's list holds them
    w.amoot.inject_inbound(OTHER, "STOP!")
    await w.tg.wait_text(GROUP, "no send from account amoot goes")  # amoot: every line there
    preview = await _preview(w, ADMIN, f"/send payam: {OTHER} still fine on payam")
    assert "opted out" not in preview["text"]


async def _listed(w: World) -> bool:
    after = len(w.tg.events)
    await w.tg.send(ADMIN, ADMIN, "/optout")
    listing = await w.tg.wait_text(ADMIN, "opted out", after=after)
    return "0912 555 1111" in listing["text"] and "by SMS" in listing["text"]


async def test_one_opted_out_number_needs_an_admin_and_the_override_is_audited(w: World) -> None:
    await w.tg.send(ADMIN, ADMIN, f"/users add {OPERATOR} operator")
    await w.tg.wait_text(ADMIN, "now has the role")
    w.tg.private_chat(OPERATOR)
    await w.tg.send(ADMIN, ADMIN, f"/optout add {CUSTOMER} payam")
    await w.tg.wait_text(ADMIN, "is skipped by every send from account payam")
    refused = await _preview(
        w, OPERATOR, f"/send payam: {CUSTOMER} hello", "Only an admin can send"
    )
    assert "opted out of SMS from account payam" in refused["text"]
    await w.tg.send(OPERATOR, OPERATOR, f"/otp payam: {CUSTOMER}")
    await w.tg.wait_text(OPERATOR, "Only an admin can send")
    assert w.payam.sent() == []
    preview = await _preview(w, ADMIN, f"/send payam: {CUSTOMER} your order has shipped")
    assert "Confirming sends to it anyway, as an admin" in preview["text"]
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: w.payam.sent(), what="the overridden send")
    assert w.bridge is not None
    audit = await w.bridge.db.fetchall("SELECT action, user_id, detail FROM audit")
    assert ("optout.add", ADMIN, "98" + CUSTOMER[1:]) in [tuple(r) for r in audit]
    assert ("optout.override", ADMIN, "98" + CUSTOMER[1:]) in [tuple(r) for r in audit]
    # taken off the list, the number is an ordinary recipient again (an operator may change it)
    await w.tg.send(OPERATOR, OPERATOR, f"/optout del {CUSTOMER} payam")
    await w.tg.wait_text(OPERATOR, "may be texted again")
    preview = await _preview(w, OPERATOR, f"/send payam: {CUSTOMER} welcome back")
    assert "opted out" not in preview["text"]


async def test_a_viewer_may_list_but_not_change_the_list(w: World) -> None:
    viewer = 3003
    await w.tg.send(ADMIN, ADMIN, f"/users add {viewer} viewer")
    await w.tg.wait_text(ADMIN, "now has the role")
    w.tg.private_chat(viewer)
    await w.tg.send(viewer, viewer, "/optout")
    await w.tg.wait_text(viewer, "No number has opted out")
    await w.tg.send(viewer, viewer, f"/optout add {CUSTOMER}")
    await w.tg.wait_text(viewer, "This needs the operator role")
    await w.tg.send(viewer, viewer, "/optout remove everything")
    await w.tg.wait_text(viewer, "/optout add|del <number> [account]")


async def test_an_opt_out_that_arrives_after_the_preview_still_stops_the_send(w: World) -> None:
    """The preview was made before the customer opted out; the confirmation comes after."""
    preview = await _preview(w, ADMIN, f"/send payam: {CUSTOMER} {OTHER} weekend sale")
    assert "opted out" not in preview["text"]
    w.payam.inject_inbound(CUSTOMER, "لغو")
    await w.tg.wait_text(ADMIN, "Opt-out")
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: w.payam.sent(), what="the send")
    assert w.payam.sent() == [("98" + OTHER[1:], "weekend sale")]
    result = await w.tg.wait_for(
        lambda e: (
            e.message.get("message_id") == preview["message_id"]
            and "opted out" in e.message.get("text", "")
        )
    )
    assert "0912 555 1111" in result.message["text"]


async def test_the_operators_cancellation_list_is_asked_and_answered_per_number(w: World) -> None:
    """AmootSMS keeps its own list of numbers that cancelled a line at the operator: the preview
    asks it for each number and skips the ones on it; another line's list is not this one's."""
    w.amoot.cancel_reception(CUSTOMER, "10001234")
    preview = await _preview(w, ADMIN, f"/send amoot:10001234 {CUSTOMER} {OTHER} hello")
    assert "Recipients (1)" in preview["text"]
    assert "0912 555 1111⁩ will not be sent: cancelled SMS from this line" in preview["text"]
    assert len(w.amoot.calls("IsBlackList_ByCancelation")) == 2
    await w.tg.press(ADMIN, ADMIN, preview["message_id"], 0)
    await eventually(lambda: w.amoot.sent(), what="the send")
    assert w.amoot.sent() == [("98" + OTHER[1:], "hello")]
    other_line = await _preview(w, ADMIN, f"/send amoot:public {CUSTOMER} hello")
    assert "cancelled" not in other_line["text"]
    refused = await _preview(
        w, ADMIN, f"/send amoot:10001234 {CUSTOMER} hi", "Every recipient cancelled SMS"
    )
    assert "line 10001234 of account amoot" in refused["text"]
