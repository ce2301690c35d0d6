"""The composition root: builds everything in order, tears it down in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot, BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, TypeHandler
from telegram.request import HTTPXRequest

from httpserve import serving
from providers._http import CallObserver, tls
from providers.base import SmsProvider
from providers.timeutil import format_tehran
from storage import files
from storage.access import AccessRepo
from storage.alerts import AlertsRepo
from storage.cluster import ClusterRepo
from storage.contacts import ContactsRepo, TemplatesRepo
from storage.db import Database
from storage.events import EventsRepo, Recorder
from storage.export import ExportRepo
from storage.inbound import InboundRepo
from storage.optouts import OptoutsRepo
from storage.outbox import OutboxRepo
from storage.persistence import DatabasePersistence
from storage.retention import Retention
from storage.search import SearchRepo
from storage.sends import SendRow, SendsRepo, SendState
from storage.stats import StatsRepo
from storage.uploads import UploadsRepo

from .alerts import CreditWatch
from .bridge import Bridge
from .buttons import Buttons
from .config import AmootAccount, Config, PayamAccount, SmsirAccount
from .contacts import Phonebook
from .delivery import DeliveryTracker
from .handlers import (
    admin,
    balance,
    bulk,
    contacts,
    export,
    inbox,
    optout,
    replies,
    report,
    search,
    send,
    start,
    stats,
    templates,
    tools,
)
from .handlers.common import Services, check_button, on_error, stale_button
from .leases import Leases
from .locales import COMMANDS
from .messages import Messages
from .metrics import Metrics
from .outbox import Outbox
from .polling import Polling
from .ratelimit import TelegramPacer
from .replicas import share_flows, take_updates
from .replies import Replies
from .sending import SendService
from .unknowns import SCHEDULE, UnknownResolver
from .web import MAX_CONNECTIONS, Web
from .webhooks import IDLE, Endpoint
from .workers import Worker, Workers

log = logging.getLogger("smsbridge")
ROUTES_EVERY = 5.0  # replicas: how soon a /route on one is followed by the others
OUTBOX_CHANNEL = "smsbridge_outbox"  # replicas: "rows were queued" (PostgreSQL NOTIFY)


async def account_facts(account: AmootAccount | SmsirAccount | PayamAccount) -> str:
    """Reach the account as `smsbridge check` does: its credit, expiry and token, in one line;
    ``ProviderError`` when it cannot be reached or refuses."""
    provider = build_provider(account)
    try:
        balance = await provider.balance()
        facts = [
            f"credit {balance.credit:,.0f}" + (f" {balance.currency}" if balance.currency else "")
        ]
        if balance.expires is not None:
            facts.append(f"account expires {format_tehran(balance.expires)}")
        token = provider.token_expiry()
        facts.append(
            f"token valid until {format_tehran(token)} (Tehran)" if token else "static token"
        )
        return ", ".join(facts)
    finally:
        await provider.aclose()


def build_provider(
    account: AmootAccount | SmsirAccount | PayamAccount, observer: CallObserver | None = None
) -> SmsProvider:
    # Each provider's module is imported when an account uses it (its models and tables are a
    # few MB and tens of milliseconds of the start).
    proxy = account.proxy or None
    if isinstance(account, AmootAccount):
        from providers.amootsms import AmootSmsClient

        return AmootSmsClient(
            account.name,
            account.base_url,
            account.token.get_secret_value(),
            proxy=proxy,
            delivery_codes=account.delivery_codes,
            observer=observer,
        )
    if isinstance(account, SmsirAccount):
        from providers.smsir import SmsirClient

        return SmsirClient(
            account.name,
            account.base_url,
            account.api_key.get_secret_value(),
            account.secret_key.get_secret_value(),
            send_by_mobile_numbers=account.send_by_mobile_numbers,
            delivery_statuses=account.delivery_statuses,
            proxy=proxy,
            observer=observer,
        )
    from providers.payamsms import PayamSmsClient

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
        observer=observer,
    )


@dataclass(frozen=True)
class Timing:
    """How often the background work runs, in seconds (tests run it faster)."""

    unknown_lookups: tuple[float, ...] = SCHEDULE  # after a confirmation, for a day
    delivery_first: float = 1.0
    delivery_longest: float = 60.0
    reconcile_every: float = 300.0
    credit_every: float = 600.0
    request_deadline: float = 10.0  # for an HTTP client to send a whole request
    outbox_retry: float = 1.0  # after Telegram failed (not a 429), doubling per attempt


@dataclass
class Running:
    config: Config
    db: Database
    application: Application  # type: ignore[type-arg]
    services: Services
    outbox: Outbox
    workers: Workers
    web_url: str
    polling: Polling
    credit: CreditWatch
    retention: Retention


def build_application(
    config: Config, pacer: TelegramPacer, persistence: DatabasePersistence
) -> Application:  # type: ignore[type-arg]
    telegram = config.telegram
    proxy = telegram.proxy or None
    shared = {"verify": tls()}
    return (
        ApplicationBuilder()
        .token(telegram.token.get_secret_value())
        .base_url(telegram.base_url)
        .base_file_url(telegram.base_url.replace("/bot", "/file/bot"))
        .request(HTTPXRequest(proxy=proxy, connection_pool_size=32, httpx_kwargs=shared))
        # Two connections: at a stop PTB cancels the long poll without waiting for it to let go
        # of its connection, and at once asks getUpdates again to confirm what it fetched. With
        # PTB's one, that call could wait out the pool timeout under load: an ERROR with a
        # traceback, and the last updates fetched again (commands run twice) after the restart.
        .get_updates_request(
            HTTPXRequest(proxy=proxy, read_timeout=40, connection_pool_size=2, httpx_kwargs=shared)
        )
        .rate_limiter(pacer)
        .persistence(persistence)
        .concurrent_updates(True)
        .build()
    )


async def open_database(config: Config) -> Database:
    """The configured backend: the SQLite file, or PostgreSQL at ``[storage] url``."""
    password = config.storage.password.get_secret_value() or None
    return await Database.open(config.storage.target, password)


@contextlib.asynccontextmanager
async def running(
    config: Config, pacer: TelegramPacer | None = None, timing: Timing = Timing()
) -> AsyncIterator[Running]:
    """The whole bridge, started; stopped in reverse order when the block ends. ``pacer``
    replaces Telegram's published limits (the benchmarks run them time-scaled); ``timing`` the
    background work's intervals."""
    # SQLite runs in a thread of its own: let it have the interpreter within 0.5 ms rather than
    # the default 5 ms, or every commit waits behind the request handling (measured: +25 %
    # relay throughput under load).
    sys.setswitchinterval(0.0005)
    async with contextlib.AsyncExitStack() as stack:
        if not config.storage.shared:
            stack.enter_context(files.exclusive(config.storage.path))  # one bridge per file
        db = await open_database(config)
        stack.push_async_callback(db.close)
        metrics = Metrics()
        providers: dict[str, SmsProvider] = {}
        for account in config.accounts:
            providers[account.name] = build_provider(account, metrics.provider_call)
            stack.push_async_callback(providers[account.name].aclose)
        # SMS events for webhooks are written with what they tell, while any webhook is set
        recorder = Recorder()
        recorder.on = bool(config.webhooks)
        # Replicas on one PostgreSQL: leases for the once-only jobs, renewed from now until the
        # workers have stopped (the exit stack runs this callback after theirs).
        cluster = ClusterRepo(db) if db.shared else None
        leases = Leases(cluster, config.storage.lease_seconds)
        if leases.shared:
            # this replica's heartbeat first: a replica starting beside it sees it alive, and
            # never takes over a send it is about to resume
            await leases.renew()
            renewing = asyncio.create_task(leases.run(), name="leases")
            stack.push_async_callback(_cancel, renewing)
        access, outbox_repo = AccessRepo(db), OutboxRepo(db)
        inbound = InboundRepo(db, recorder)
        sends_repo = SendsRepo(db, recorder, runner=leases.me if leases.shared else "")
        workers = Workers(leases)
        stack.push_async_callback(workers.stop)
        pacer = pacer or TelegramPacer()
        pacer.on_429 = lambda: metrics.telegram_429.inc()
        if cluster is not None:
            pacer.share(cluster)
        persistence = DatabasePersistence(db)
        application = build_application(config, pacer, persistence)

        def wake_outbox() -> None:
            """Rows were queued and committed: the outbox sends them (on the replica that holds
            it: the others are told through the database)."""
            outbox.wake()
            db.notify(OUTBOX_CHANNEL)

        def announce(send_ids: list[int]) -> None:
            """Sends changed and edits of their chat messages were queued: post them, and
            follow the sends' delivery."""
            wake_outbox()
            for send_id in send_ids:
                tracker.track(send_id)

        def followed(row: SendRow) -> None:
            """After a provider call: follow delivery, check credit, look up what is unknown."""
            if row.state in (SendState.SENT, SendState.PARTIAL, SendState.UNKNOWN):
                tracker.track(row.id)
                credit.after_send(row.account)
                workers.waker("credit")()
            if row.state is SendState.UNKNOWN:
                workers.waker("unknown-sends")()

        bridge = Bridge(config, inbound, wake_outbox, metrics)
        await bridge.load_routes()
        polling = Polling(config, providers, inbound, bridge, timing.reconcile_every)
        optouts = OptoutsRepo(db, recorder)
        sends = SendService(
            config, providers, sends_repo, metrics, inbound, followed, optouts, wake_outbox
        )
        tracker = DeliveryTracker(
            providers,
            sends_repo,
            announce,
            workers.waker("delivery"),
            first_check=timing.delivery_first,
            longest_wait=timing.delivery_longest,
        )
        resolver = UnknownResolver(providers, sends_repo, announce, timing.unknown_lookups)

        async def rename_topic(chat_id: int, thread_id: int, title: str) -> None:
            try:
                await application.bot.edit_forum_topic(chat_id, thread_id, name=title)
            except TelegramError as exc:  # not a forum any more, or no right to manage topics
                log.info("a topic in chat %s keeps its title: %s", chat_id, exc)

        phonebook = Phonebook(ContactsRepo(db), inbound.topics_of, rename_topic)
        messages = Messages(
            config, access, inbound, outbox_repo, sends, application.bot, wake_outbox, phonebook
        )
        outbox = Outbox(
            outbox_repo,
            application.bot,
            messages.render,
            digest=messages.render_digest,
            first_retry=timing.outbox_retry,
            interval=pacer.interval,
            on_dead=messages.notify_dead,
        )
        credit = CreditWatch(
            config, providers, AlertsRepo(db), messages.tell_admins, timing.credit_every, metrics
        )
        svc = Services(
            config=config,
            providers=providers,
            access=access,
            sends=sends,
            bridge=bridge,
            replies=Replies(inbound, outbox_repo, outbox, polling),
            outbox=outbox_repo,
            wake_outbox=wake_outbox,
            buttons=Buttons(await access.button_key()),
            uploads=UploadsRepo(db),
            phonebook=phonebook,
            templates=TemplatesRepo(db),
            search=SearchRepo(db),
            exports=ExportRepo(db),
            stats=StatsRepo(db),
        )
        # Before any update is taken: sends a stopped process left mid-call are settled or
        # resumed, and no Confirm pressed now can be mistaken for one of them. (With replicas:
        # those of replicas whose heartbeat has stopped; later deaths, the recover-sends job.)
        resumable = await sends.recover(grace=leases.ttl)
        application.bot_data["services"] = svc
        application.add_handler(TypeHandler(Update, check_button), group=-1)
        # A file starts its flow even while /send waits for an answer (the file flow comes first).
        features = (start, balance, bulk, contacts, templates, send, replies, admin, inbox)
        for feature in (*features, report, search, export, stats, tools, optout):
            feature.register(application)
        application.add_handler(CallbackQueryHandler(stale_button))  # after every other
        application.add_error_handler(on_error)
        if db.shared:
            share_flows(application, persistence)

        await application.initialize()
        stack.push_async_callback(application.shutdown)
        await application.start()
        stack.push_async_callback(application.stop)
        await _set_commands(application.bot, config.telegram.language)
        if config.telegram.mode == "polling" and leases.shared:  # one replica at a time
            await application.bot.delete_webhook()
            updates = functools.partial(take_updates, application)
            workers.loop("telegram-updates", 5.0, updates, retry=1.0, once=True)
            stack.push_async_callback(workers.stop, "telegram-updates")  # before PTB stops
        elif config.telegram.mode == "polling":
            assert application.updater is not None
            await application.bot.delete_webhook()
            await application.updater.start_polling(timeout=30, drop_pending_updates=False)
            stack.push_async_callback(application.updater.stop)
        else:  # updates arrive at POST /telegram; Telegram sends the secret with each
            await application.bot.set_webhook(
                config.telegram.webhook_url,
                secret_token=config.telegram.webhook_secret.get_secret_value(),
                allowed_updates=Update.ALL_TYPES,
            )

        await tracker.resume()
        workers.loop("outbox", 60.0, outbox.run, retry=1.0, once=True)
        workers.start("credit", credit.interval, credit.step, 60.0, once=True)
        workers.start("delivery", tracker.longest_wait, tracker.step, 5.0)
        workers.start("unknown-sends", 60.0, resolver.step, 5.0, once=True)
        if resumable:
            workers.start("resume-sends", 5.0, functools.partial(_resume, sends, resumable))
        if db.shared:
            # a row queued on any replica wakes the outbox here, should this replica hold it
            listening = asyncio.create_task(db.listen(OUTBOX_CHANNEL, outbox.wake))
            stack.push_async_callback(_cancel, listening)
            recover = functools.partial(_recover, sends, leases.ttl)
            workers.start("recover-sends", leases.ttl, recover, once=True)
            # routes set by /route on another replica
            workers.start("routes", ROUTES_EVERY, functools.partial(_reload_routes, bridge))
        events = EventsRepo(db)
        await events.keep_only([h.url for h in config.webhooks])  # an endpoint removed: forgotten
        for position, hook in enumerate(config.webhooks, 1):
            endpoint = Endpoint(hook, events, messages.webhook_trouble)
            stack.push_async_callback(endpoint.aclose)
            workers.start(f"webhook:{position}", IDLE, endpoint.step, 1.0, once=True)
        retention = Retention(db, config.storage.keep_days)
        workers.start("retention", 86_400.0, retention.step, 3_600.0, once=True)
        for a in config.accounts:
            interval = float(getattr(a, "poll_interval", 0) or 30.0)
            poll = functools.partial(_step, polling.poll_step, a.name)
            reconcile = functools.partial(_step, polling.reconcile_step, a.name)
            # One lease for both: a replica that takes over polling reconciles first, which
            # finds what a hand-out-once inbox gave the replica that died before storing it.
            held = f"inbox:{a.name}"
            workers.start(f"poll:{a.name}", interval, poll, once=True, lease=held)
            every = polling.reconcile_every
            workers.start(f"reconcile:{a.name}", every, reconcile, once=True, lease=held)
        web = Web(
            config,
            db,
            bridge,
            sends_repo,
            outbox_repo,
            outbox,
            application,
            metrics,
            providers,
            announce,
            workers,
            events if config.webhooks else None,
        )
        server = config.server
        web_url = await stack.enter_async_context(
            serving(
                web.app(),
                server.host,
                server.port,
                deadline=timing.request_deadline,
                max_connections=MAX_CONNECTIONS,
                lifespan="off",
                graceful=2.0,
            )
        )
        log.info(
            "smsbridge is running with %d account(s); HTTP on %s", len(config.accounts), web_url
        )
        # What starting made (modules, the config, PTB's objects) lives as long as the process:
        # full collections need not walk it again (each was a ~0.1 s pause under load, in p99).
        # Thawed when the bridge stops, for a process that starts another (tests, the demo).
        gc.freeze()
        stack.callback(gc.unfreeze)
        yield Running(
            config, db, application, svc, outbox, workers, web_url, polling, credit, retention
        )


async def _resume(sends: SendService, rows: list[SendRow], _worker: Worker) -> None:
    """Send the recipients that interrupted sends still had to go (once; again after a failure,
    which leaves nothing sent twice: a request's recipients are marked before it leaves)."""
    while rows:
        fresh = await sends.get(rows[0].id)
        if fresh is not None:
            await sends.execute(fresh, announce=True)
        rows.pop(0)
    return None


async def _recover(sends: SendService, grace: float, _worker: Worker) -> float:
    """Replicas: the sends of a replica that died mid-send, settled or resumed here."""
    for row in await sends.recover(grace=grace):
        await sends.execute(row, announce=True)
    return grace


async def _reload_routes(bridge: Bridge, _worker: Worker) -> float:
    await bridge.load_routes()
    return ROUTES_EVERY


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _step(
    step: Callable[[str], Awaitable[float | None]], account: str, _worker: Worker
) -> float | None:
    return await step(account)


async def _set_commands(bot: Bot, default: str) -> None:
    """The command menu in Persian and English (and the config's language for everyone else)."""
    for lang in ("fa", "en"):
        menu = [BotCommand(name, fa if lang == "fa" else en) for name, _r, fa, en in COMMANDS]
        await bot.set_my_commands(menu, language_code=lang)
        if lang == default:
            await bot.set_my_commands(menu)
