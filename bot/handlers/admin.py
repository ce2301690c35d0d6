"""Who may do what, and where SMS go: /lang, /users, /audit, /lines, /route."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from providers.numbers import to_ascii_digits
from storage.access import ROLES

from .. import render
from ..buttons import signed
from ..sending import UserError
from .common import (
    Caller,
    Context,
    Services,
    answer,
    button_handler,
    command,
    count,
    fit,
    reply,
    when,
)


@command("viewer")
async def lang(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    wanted = (context.args or [""])[0].lower()
    if not wanted:
        buttons = [
            [
                svc.buttons.button("فارسی", caller.chat_id, "lang:fa"),
                svc.buttons.button("English", caller.chat_id, "lang:en"),
            ]
        ]
        await reply(update, render.t(caller.lang, "lang.choose"), InlineKeyboardMarkup(buttons))
        return
    if wanted not in ("fa", "en"):
        raise UserError("lang.bad")
    await svc.access.set_language(caller.chat_id, wanted)
    await reply(update, render.t(wanted, "lang.set"))


@button_handler("viewer")
async def lang_button(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    assert update.callback_query is not None
    wanted = payload.split(":", 1)[1]
    await svc.access.set_language(caller.chat_id, wanted)
    await answer(update.callback_query)
    await update.callback_query.edit_message_text(render.t(wanted, "lang.set"))


@command("admin")
async def users(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    args = context.args or []
    lang_ = caller.lang
    bootstrap = set(svc.config.access.admins)
    if not args:
        lines = [render.t(lang_, "users.title")]
        lines += [
            render.t(lang_, "users.bootstrap", user=render.ltr(str(u))) for u in sorted(bootstrap)
        ]
        lines += [
            render.t(lang_, "users.line", user=render.ltr(str(u)), role=render.role_name(lang_, r))
            for u, r in await svc.access.users()
            if u not in bootstrap
        ]
        lines += ["", render.t(lang_, "users.usage")]
        await reply(update, "\n".join(lines))
        return
    action = args[0].lower()
    target = to_ascii_digits(args[1]) if len(args) > 1 else ""
    if not target.lstrip("-").isdecimal() or action not in ("add", "del"):
        raise UserError("users.usage")
    user_id = int(target)
    if user_id in bootstrap:
        raise UserError("users.bootstrap_fixed", user=user_id)
    if action == "add":
        role = args[2].lower() if len(args) > 2 else ""
        if not role:  # ask with buttons
            buttons = [
                [
                    svc.buttons.button(
                        render.role_name(lang_, r), caller.chat_id, f"usr:{user_id}:{r}"
                    )
                    for r in ROLES
                ]
            ]
            await reply(
                update,
                render.t(lang_, "users.choose_role", user=render.ltr(str(user_id))),
                InlineKeyboardMarkup(buttons),
            )
            return
        if role not in ROLES:
            raise UserError("users.usage")
        await svc.access.set_role(user_id, role, caller.user_id)
        await svc.access.audit(
            "users.add",
            user_id=caller.user_id,
            chat_id=caller.chat_id,
            detail=f"{user_id} → {role}",
        )
        await reply(
            update,
            render.t(
                lang_,
                "users.added",
                user=render.ltr(str(user_id)),
                role=render.role_name(lang_, role),
            ),
        )
        return
    if not await svc.access.remove(user_id):
        raise UserError("users.not_found", user=user_id)
    await svc.access.audit(
        "users.del", user_id=caller.user_id, chat_id=caller.chat_id, detail=str(user_id)
    )
    await reply(update, render.t(lang_, "users.removed", user=render.ltr(str(user_id))))


@command("admin")
async def audit(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    entries = await svc.access.recent_audit(count(context.args or []))
    if not entries:
        await reply(update, render.t(caller.lang, "audit.empty"))
        return
    lines = [render.t(caller.lang, "audit.title")]
    for e in entries:
        lines.append(
            render.t(
                caller.lang,
                "audit.line",
                at=when(caller.lang, e.at),
                action=render.esc(e.action),
                user=render.ltr(str(e.user_id or "—")),
                chat=render.ltr(str(e.chat_id or "—")),
                account=f" — {render.esc(e.account)}" if e.account else "",
                recipients=f" — {render.number(caller.lang, e.recipients)}" if e.recipients else "",
                detail=render.esc(e.detail),
            )
        )
    await reply(update, fit("\n".join(lines)))


@command("viewer")
async def lines_(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    lang_ = caller.lang
    routes = svc.bridge.routes()
    out = [render.t(lang_, "lines.title")]
    for account in svc.config.accounts:
        shown = ", ".join(render.ltr(render.esc(x)) for x in account.lines) or "—"
        out.append(
            render.t(
                lang_,
                "lines.account",
                account=render.esc(account.name),
                provider=account.provider,
                lines=shown,
            )
        )
        for line in ["", *account.lines]:
            chats = sorted({c for a, ln, c in routes if a == account.name and ln == line})
            label = render.t(lang_, "lines.all") if not line else render.ltr(render.esc(line))
            if chats:
                out.append(
                    render.t(
                        lang_,
                        "lines.route",
                        line=label,
                        chats=", ".join(render.ltr(str(c)) for c in chats),
                    )
                )
            elif line:
                out.append(render.t(lang_, "lines.no_route", line=label))
    await reply(update, fit("\n".join(out)))


@command("admin")
async def route(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    """One-shot with ``account:line here|off``; without arguments, buttons: the line, then
    here or off."""
    args = context.args or []
    if not args:
        buttons = [
            [
                svc.buttons.button(
                    f"{a.name}:{line}"
                    if line
                    else f"{a.name} ({render.t(caller.lang, 'lines.all')})",
                    caller.chat_id,
                    f"rt:{a.name}:{line}",
                )
            ]
            for a in svc.config.accounts
            for line in ["", *a.lines]
            if svc.buttons.fits(f"rt:{a.name}:{line}:here")
        ]
        await reply(update, render.t(caller.lang, "route.choose"), InlineKeyboardMarkup(buttons))
        return
    if len(args) != 2 or ":" not in args[0] or args[1].lower() not in ("here", "off"):
        raise UserError("route.usage")
    account, line = svc.sends.resolve(args[0])
    if not args[0].partition(":")[2]:
        line = ""  # account: alone covers every line
    await reply(update, await _set_route(svc, caller, account, line, args[1].lower() == "here"))


@button_handler("admin")
async def route_button(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    query = update.callback_query
    assert query is not None
    _prefix, account, rest = payload.split(":", 2)
    line, _sep, choice = rest.partition(":")
    await answer(query)
    if not choice:  # the line is chosen: here or off?
        base = f"rt:{account}:{line}"
        buttons = [
            [
                svc.buttons.button(
                    render.t(caller.lang, "route.here"), caller.chat_id, f"{base}:here"
                ),
                svc.buttons.button(
                    render.t(caller.lang, "route.off_button"), caller.chat_id, f"{base}:off"
                ),
            ]
        ]
        await query.edit_message_reply_markup(InlineKeyboardMarkup(buttons))
        return
    await query.edit_message_text(await _set_route(svc, caller, account, line, choice == "here"))


async def _set_route(svc: Services, caller: Caller, account: str, line: str, on: bool) -> str:
    await svc.bridge.set_route(account, line, caller.chat_id, on)
    await svc.access.audit(
        "route",
        user_id=caller.user_id,
        chat_id=caller.chat_id,
        account=account,
        detail=f"{line or '*'} {'here' if on else 'off'}",
    )
    target = render.ltr(render.esc(f"{account}:{line}" if line else account))
    return render.t(caller.lang, "route.on" if on else "route.off", target=target)


@button_handler("admin")
async def users_button(
    update: Update, context: Context, svc: Services, caller: Caller, payload: str
) -> None:
    query = update.callback_query
    assert query is not None
    _prefix, raw_id, role = payload.split(":")
    user_id = int(raw_id)
    await answer(query)
    if user_id in svc.config.access.admins or role not in ROLES:
        return
    await svc.access.set_role(user_id, role, caller.user_id)
    await svc.access.audit(
        "users.add", user_id=caller.user_id, chat_id=caller.chat_id, detail=f"{user_id} → {role}"
    )
    await query.edit_message_text(
        render.t(
            caller.lang,
            "users.added",
            user=render.ltr(raw_id),
            role=render.role_name(caller.lang, role),
        )
    )


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("lang", lang))
    app.add_handler(CallbackQueryHandler(lang_button, pattern=signed(r"lang:(fa|en)")))
    app.add_handler(CommandHandler("users", users))
    app.add_handler(CommandHandler("audit", audit))
    app.add_handler(CommandHandler("lines", lines_))
    app.add_handler(CommandHandler("route", route))
    app.add_handler(CallbackQueryHandler(route_button, pattern=signed(r"rt:[a-z0-9_-]+:.*")))
    app.add_handler(CallbackQueryHandler(users_button, pattern=signed(r"usr:-?\d+:[a-z]+")))
