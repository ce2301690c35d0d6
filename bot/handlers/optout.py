"""/optout: the numbers that asked not to be texted — list (viewer), add and remove (operator),
each change in the audit log."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from providers import numbers
from storage.access import ROLES

from .. import render
from ..sending import UserError
from .common import Caller, Context, Services, command, fit, reply, when

LISTED = 30


@command("viewer")
async def optout(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    args = context.args or []
    if not args:
        await reply(update, fit(await _listing(svc, caller)))
        return
    action = args[0].lower()
    if action not in ("add", "del") or len(args) not in (2, 3):
        raise UserError("optout.usage")
    if ROLES.index(caller.role) < ROLES.index("operator"):
        raise UserError("forbidden", role="operator", have=caller.role)
    if not numbers.is_valid(args[1]):
        raise UserError("send.no_valid", invalid=args[1])
    number = numbers.normalize(args[1])
    account = args[2] if len(args) == 3 else svc.config.accounts[0].name
    if svc.config.account(account) is None:
        names = ", ".join(a.name for a in svc.config.accounts)
        raise UserError("send.unknown_account", account=account, accounts=names)
    changed = await svc.sends.set_optout(
        account, number, action == "add", user_id=caller.user_id, chat_id=caller.chat_id
    )
    key = f"optout.{action}" if changed else f"optout.{action}_unchanged"
    await reply(
        update,
        render.t(caller.lang, key, number=render.phone(caller.lang, number), account=account),
    )


async def _listing(svc: Services, caller: Caller) -> str:
    total = await svc.sends.optout_count()
    if not total:
        return render.t(caller.lang, "optout.empty")
    lines = [render.t(caller.lang, "optout.title", count=render.number(caller.lang, total))]
    for entry in await svc.sends.optout_listing(LISTED):
        how = "optout.by_sms" if entry.source == "sms" else "optout.by_hand"
        lines.append(
            render.t(
                caller.lang,
                "optout.line",
                number=render.phone(caller.lang, entry.number),
                account=render.esc(entry.account),
                when=when(caller.lang, entry.at),
                how=render.t(caller.lang, how, user=entry.by_user or "—"),
            )
        )
    if total > LISTED:
        lines.append(
            render.t(caller.lang, "optout.more", count=render.number(caller.lang, total - LISTED))
        )
    lines.append(render.t(caller.lang, "optout.usage"))
    return "\n".join(lines)


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("optout", optout))
