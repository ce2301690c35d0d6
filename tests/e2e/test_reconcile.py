"""AmootSMS hands each new SMS out once: what was lost between fetch and commit comes back."""

from __future__ import annotations

import pytest

from tests.conftest import GROUP, World

pytestmark = pytest.mark.both_backends  # the same journeys on SQLite and PostgreSQL


async def test_an_sms_lost_after_hand_out_is_recovered_with_its_line(w: World) -> None:
    assert w.bridge is not None
    polling = w.bridge.polling
    w.amoot.inject_inbound("09125551111", "lost in a crash", line="10001234")
    w.amoot.inbound[-1].read = True  # handed out to a process that died before its commit
    await polling.reconcile_once("amoot")  # (the reconciliation run at start may beat it to it)
    forwarded = await w.tg.wait_text(GROUP, "lost in a crash")
    assert "10001234" in forwarded["text"]
    assert await polling.reconcile_once("amoot") == 0  # never twice
    rows = await w.bridge.db.fetchall("SELECT line FROM inbound WHERE text = 'lost in a crash'")
    assert [r[0] for r in rows] == ["10001234"]


async def test_a_polled_sms_shows_its_line_and_the_reply_goes_from_it(w: World) -> None:
    """RecieveNewMessages does not name the receiving line: it is learned from the per-line
    listing before the SMS is shown, and the reply goes out from it (not from ``public``)."""
    assert w.bridge is not None
    w.amoot.inject_inbound("09125552222", "which line?", line="10001234")
    forwarded = await w.tg.wait_text(GROUP, "which line?")
    assert "to line \u206610001234\u2069" in forwarded["text"]
    await w.tg.send(1001, GROUP, "this one", reply_to=forwarded["message_id"])
    preview = await w.tg.wait_text(GROUP, "Reply to")
    assert "10001234" in preview["text"]
    await w.tg.press(1001, GROUP, preview["message_id"], 0)
    await w.tg.wait_text(GROUP, "message id")
    assert [(s.line, s.mobile) for s in w.amoot.outgoing] == [("10001234", "9125552222")]


async def test_a_reply_whose_line_cannot_be_learned_says_so_and_avoids_the_shared_line(
    w: World,
) -> None:
    """Was: a reply to an SMS with no known line went from the default line (``public``, a shared
    line the customer cannot answer) and the preview did not say so."""
    w.amoot.fail_next("garbage", count=50, method="RecieveMessages")
    w.amoot.inject_inbound("09125553333", "no line known", line="10001234")
    forwarded = await w.tg.wait_text(GROUP, "no line known")
    await w.tg.send(1001, GROUP, "answer", reply_to=forwarded["message_id"])
    preview = await w.tg.wait_text(GROUP, "Reply to")
    assert "did not say which line" in preview["text"]
    assert "line: \u206610001234\u2069" in preview["text"]
    await w.tg.press(1001, GROUP, preview["message_id"], 0)
    await w.tg.wait_text(GROUP, "message id")
    assert [(s.line, s.mobile) for s in w.amoot.outgoing] == [("10001234", "9125553333")]
