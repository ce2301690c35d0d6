"""/balance [account]: every account's credit in one message."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import Application, CommandHandler

from providers.base import Balance, ProviderError

from .. import render
from ..sending import UserError
from .common import Caller, Context, Services, command, reply


@command("viewer")
async def balance(update: Update, context: Context, svc: Services, caller: Caller) -> None:
    names = [a.name for a in svc.config.accounts]
    if context.args:
        wanted = context.args[0].split(":")[0]
        if wanted not in names:
            raise UserError("send.unknown_account", account=wanted, accounts=", ".join(names))
        names = [wanted]
    results = await asyncio.gather(
        *(svc.providers[n].balance() for n in names), return_exceptions=True
    )
    blocks = [render.t(caller.lang, "balance.title")]
    for name, result in zip(names, results, strict=True):
        cfg = svc.config.account(name)
        assert cfg is not None
        if isinstance(result, Balance):
            if cfg.currency and result.currency != cfg.currency:
                result = Balance(
                    result.credit,
                    cfg.currency,
                    result.tariffs,
                    result.lines,
                    result.expires,
                    result.account_name,
                )
            blocks.append(render.balance_block(caller.lang, name, cfg.provider, result))
        elif isinstance(result, ProviderError):
            blocks.append(
                render.t(
                    caller.lang,
                    "balance.error",
                    account=render.esc(name),
                    error=render.provider_error(caller.lang, result),
                )
            )
        else:
            raise result
    await reply(update, "\n\n".join(blocks))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("balance", balance))
