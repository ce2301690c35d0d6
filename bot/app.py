"""The composition root: builds everything in order, tears it down in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from providers.amootsms import AmootSmsClient
from providers.base import SmsProvider
from providers.payamsms import PayamSmsClient
from providers.smsir import SmsirClient
from storage.access import AccessRepo
from storage.db import Database
from storage.inbound import InboundRepo, OutboxRepo
from storage.persistence import SqlitePersistence
from storage.sends import SendsRepo

from .bridge import Bridge
from .config import AmootAccount, Config, PayamAccount, SmsirAccount
from .delivery import DeliveryTracker
from .handlers import balance, send, start
from .handlers.common import Services, on_error
from .outbox import Outbox
from .ratelimit import TelegramPacer
from .sending import SendService

log = logging.getLogger("smsbridge")


def build_provider(account: AmootAccount | SmsirAccount | PayamAccount) -> SmsProvider:
    proxy = account.proxy or None
    if isinstance(account, AmootAccount):
        return AmootSmsClient(
            account.name,
            account.base_url,
            account.token.get_secret_value(),
            proxy=proxy,
            delivery_codes=account.delivery_codes,
        )
    if isinstance(account, SmsirAccount):
        return SmsirClient(
            account.name,
            account.base_url,
            account.api_key.get_secret_value(),
            account.secret_key.get_secret_value(),
            send_by_mobile_numbers=account.send_by_mobile_numbers,
            delivery_statuses=account.delivery_statuses,
            proxy=proxy,
        )
    return PayamSmsClient(
        account.name,
        account.base_url,
        client_id=account.client_id.get_secret_value(),
        client_secret=account.client_secret.get_secret_value(),
        system_name=account.system_name,
        username=account.username.get_secret_value(),
        password=account.password.get_secret_value(),
        lines=account.lines,
        send_method=account.send_method,
        login_json=account.login_json,
        proxy=proxy,
    )


@dataclass
class Running:
    config: Config
    db: Database
    application: Application  # type: ignore[type-arg]
    services: Services
    outbox: Outbox
    tasks: list[asyncio.Task[None]]


def build_application(config: Config, db: Database) -> Application:  # type: ignore[type-arg]
    telegram = config.telegram
    proxy = telegram.proxy or None
    return (
        ApplicationBuilder()
        .token(telegram.token.get_secret_value())
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_url.replace("/bot", "/file/bot"))
        .request(HTTPXRequest(proxy=proxy, connection_pool_size=32))
        .get_updates_request(HTTPXRequest(proxy=proxy, read_timeout=40))
        .rate_limiter(TelegramPacer())
        .persistence(SqlitePersistence(db))
        .concurrent_updates(True)
        .build()
    )


@contextlib.asynccontextmanager
async def running(config: Config) -> AsyncIterator[Running]:
    """The whole bridge, started; stopped in reverse order when the block ends."""
    async with contextlib.AsyncExitStack() as stack:
        db = await Database.open(config.storage.path)
        stack.push_async_callback(db.close)
        providers: dict[str, SmsProvider] = {}
        for account in config.accounts:
            providers[account.name] = build_provider(account)
            stack.push_async_callback(providers[account.name].aclose)
        access, inbound, outbox_repo = AccessRepo(db), InboundRepo(db), OutboxRepo(db)
        bridge = Bridge(config, providers, inbound, access)
        await bridge.load_routes()
        sends_repo = SendsRepo(db)
        tracker = DeliveryTracker(providers, sends_repo)
        stack.push_async_callback(tracker.close)
        svc = Services(
            config=config,
            providers=providers,
            access=access,
            sends=SendService(config, providers, sends_repo),
            bridge=bridge,
            outbox=outbox_repo,
            delivery=tracker,
        )
        application = build_application(config, db)
        application.bot_data["services"] = svc
        tracker.on_change = functools.partial(send.show_delivery, application.bot, svc)
        for feature in (start, balance, send):
            feature.register(application)
        application.add_error_handler(on_error)

        await application.initialize()
        stack.push_async_callback(application.shutdown)
        outbox = Outbox(outbox_repo, application.bot, bridge.render)
        bridge.outbox = outbox
        await application.start()
        stack.push_async_callback(application.stop)
        if config.telegram.mode == "polling":
            assert application.updater is not None
            await application.bot.delete_webhook()
            await application.updater.start_polling(timeout=30, drop_pending_updates=False)
            stack.push_async_callback(application.updater.stop)

        await tracker.resume()
        tasks = [asyncio.create_task(outbox.run(), name="outbox")]
        tasks += [
            asyncio.create_task(bridge.poll_forever(a.name), name=f"poll:{a.name}")
            for a in config.accounts
        ]
        stack.push_async_callback(_cancel, tasks)
        log.info("smsbridge is running with %d account(s)", len(config.accounts))
        yield Running(config, db, application, svc, outbox, tasks)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
