"""What a person reads: Persian and English strings, digits, money and Jalali dates (HTML parse mode)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

import jdatetime

from providers.base import (
    AuthFailed,
    Balance,
    InsufficientCredit,
    InvalidRecipient,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
)
from providers.text import TextInfo
from providers.timeutil import TEHRAN
from storage.access import ROLES

_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
LRI, PDI = "\u2066", "\u2069"  # isolate Latin runs (numbers, ids) inside right-to-left text

STRINGS: dict[str, dict[str, str]] = {
    "fa": {
        "welcome": "سلام {name}! این ربات پل پیامک شماست.\nنقش شما: {role}\n\n{help}",
        "unauthorized": "شما مجاز به استفاده از این ربات نیستید.\nشناسه تلگرام شما: {user_id}\n"
        "این شناسه را برای مدیر ربات بفرستید.",
        "forbidden": "این کار نقش «{role}» می‌خواهد و نقش شما «{have}» است.",
        "role.admin": "مدیر",
        "role.operator": "اپراتور",
        "role.viewer": "بیننده",
        "balance.title": "💰 اعتبار حساب‌ها",
        "balance.line": "<b>{account}</b> ({provider}): {credit}",
        "balance.tariffs": "تعرفه هر بخش — فارسی: {fa}، انگلیسی: {en}",
        "balance.lines": "خطوط: {lines}",
        "balance.expires": "انقضای حساب: {date}",
        "balance.error": "<b>{account}</b>: {error}",
        "rial": "{amount} ریال ({toman} تومان)",
        "toman": "{amount} تومان",
        "unit": "{amount} (واحد را سرویس‌دهنده نگفته است)",
        "send.no_text": "متن پیامک را بعد از شماره‌ها بنویسید.",
        "send.no_valid": "هیچ شماره معتبری نیست. نامعتبر: {invalid}",
        "send.unknown_account": "حسابی به نام «{account}» نیست. حساب‌ها: {accounts}",
        "send.unknown_line": "خط «{line}» در حساب {account} نیست. خطوط: {lines}",
        "send.no_line": "حساب {account} خطی ندارد؛ در پیکربندی lines را تعیین کنید.",
        "preview.title": "📤 پیش‌نمایش ارسال #{id}",
        "preview.from": "حساب: {account} — خط: {line}",
        "preview.recipients": "گیرندگان ({count}): {numbers}",
        "preview.invalid": "⚠️ نامعتبر (ارسال نمی‌شود): {invalid}",
        "preview.refused": "⚠️ {recipient} ارسال نمی‌شود: {reason}",
        "preview.audience": "تعداد گیرندگان واقعی (به گفته سرویس‌دهنده): {count}",
        "refused.not_contact": "در دفترچه تلفن حساب {account} نیست (White SMS فقط به مخاطبان می‌فرستد)",
        "refused.unknown_group": "چنین گروهی در حساب {account} نیست",
        "refused.groups_unsupported": "حساب {account} ارسال به گروه مخاطبان ندارد",
        "send.none_accepted": "هیچ گیرنده‌ای ارسال‌شدنی نیست.\n{refused}",
        "preview.text": "متن:\n{text}",
        "preview.parts": "کدگذاری: {encoding} — {length} نویسه — {parts} بخش برای هر گیرنده",
        "preview.cost": "هزینه تقریبی: {cost}",
        "preview.reply_to": "پاسخ به {sender}",
        "button.confirm": "✅ ارسال",
        "button.confirm_again": "✅ بله، به {count} گیرنده بفرست",
        "button.cancel": "❌ لغو",
        "confirm.armed": "⚠️ این ارسال {count} گیرنده دارد (بیش از {threshold}). دوباره تأیید کنید.",
        "confirm.gone": "این پیش‌نمایش دیگر معتبر نیست (قبلاً ارسال یا لغو شده است).",
        "confirm.not_owner": "فقط کسی که این پیش‌نمایش را ساخته می‌تواند آن را تأیید کند.",
        "confirm.quota": "سهمیه روزانه شما ({quota} گیرنده) کافی نیست: امروز {used} گیرنده فرستاده‌اید.",
        "sending": "⏳ در حال ارسال…",
        "cancelled": "❌ ارسال #{id} لغو شد.",
        "result.title": "📨 نتیجه ارسال #{id} از {account}:",
        "result.ok": "{mark} {number} — شناسه پیام {message_id} — {state}",
        "result.summary": "وضعیت تحویل: {counts}",
        "delivery.queued": "در صف",
        "delivery.sent": "تحویل مخابرات",
        "delivery.delivered": "رسید",
        "delivery.failed": "نرسید",
        "delivery.unknown": "نامعلوم",
        "result.failed": "❌ {number} — {error}",
        "result.unknown": "❓ معلوم نیست پیامک رفته یا نه: {error}\nدوباره ارسال نشد تا دوبار نرسد؛ "
        "با /report یا پنل سرویس‌دهنده بررسی کنید.",
        "result.error": "❌ ارسال انجام نشد: {error}",
        "result.campaign": "کد کمپین: {campaign}",
        "result.price": "هزینه: {price}",
        "inbound": "📩 پیامک از {sender}\nبه خط {line} ({account})\n🕒 {jalali} — {gregorian}\n\n{text}",
        "digest.title": "📬 {count} پیامک — برای پاسخ به یکی، روی این پیام «پاسخ» بزنید و پیامتان را با "
        "شماره آن (مثلاً {example}) شروع کنید.",
        "digest.item": "<b>{number}</b> از {sender} به خط {line} ({account}) — {time}\n{text}",
        "digest.choose": "این پیام چند پیامک دارد. پاسخ را با شماره پیامک شروع کنید، مثلاً: {example} متن پاسخ",
        "inbound.reply_hint": "برای پاسخ، روی این پیام «پاسخ» بزنید.",
        "reply.not_sms": "برای پاسخ پیامکی، به خود پیامک دریافتی پاسخ دهید.",
        "reply.viewer": "پاسخ پیامکی نقش اپراتور می‌خواهد.",
        "error.generic": "خطایی پیش آمد و کار انجام نشد. دوباره تلاش کنید.",
        "error.auth": "حساب {account}: احراز هویت سرویس‌دهنده ناموفق بود — {detail}",
        "error.credit": "حساب {account}: اعتبار کافی نیست — {detail}",
        "error.recipient": "حساب {account}: شماره گیرنده پذیرفته نشد — {detail}",
        "error.unavailable": "حساب {account}: سرویس‌دهنده در دسترس نیست — {detail}",
        "error.unknown_outcome": "حساب {account}: پاسخ سرویس‌دهنده نرسید؛ معلوم نیست پیامک رفته یا نه.",
        "error.protocol": "حساب {account}: پاسخ سرویس‌دهنده قابل فهم نبود.",
        "error.ratelimited": "حساب {account}: سرویس‌دهنده محدودیت سرعت اعمال کرده؛ کمی بعد تلاش کنید.",
        "error.unsupported": "حساب {account} این قابلیت را ندارد: {capability}.",
        "error.rejected": "حساب {account}: سرویس‌دهنده نپذیرفت — {detail}",
        "unknown_command": "این دستور را نمی‌شناسم. /help را ببینید.",
        "help.title": "دستورهایی که نقش شما ({role}) اجازه می‌دهد:",
        "help.reply": "برای پاسخ به پیامک دریافتی، روی پیام آن «پاسخ» بزنید.",
        "lang.choose": "زبان این گفتگو را انتخاب کنید:",
        "lang.set": "زبان این گفتگو فارسی شد.",
        "lang.bad": "زبان باید fa یا en باشد.",
        "users.title": "کاربران:",
        "users.line": "{user} — {role}",
        "users.bootstrap": "{user} — مدیر (از پیکربندی)",
        "users.usage": "نحوه استفاده: /users add شناسه نقش — /users del شناسه\nنقش‌ها: viewer، operator، admin",
        "users.added": "کاربر {user} با نقش «{role}» ثبت شد.",
        "users.removed": "کاربر {user} حذف شد.",
        "users.not_found": "کاربر {user} در فهرست نیست.",
        "users.bootstrap_fixed": "{user} مدیر تعیین‌شده در پیکربندی است و از گفتگو حذف یا تغییر نمی‌کند.",
        "audit.title": "آخرین رویدادها:",
        "audit.line": "{at} — {action} — کاربر {user} — گفتگو {chat}{account}{recipients}\n{detail}",
        "audit.empty": "رویدادی ثبت نشده است.",
        "lines.title": "حساب‌ها و خطوط:",
        "lines.account": "<b>{account}</b> ({provider}) — خطوط: {lines}",
        "lines.route": "  {line} ← {chats}",
        "lines.no_route": "  {line} ← هیچ گفتگویی",
        "lines.all": "همه خطوط",
        "route.usage": "نحوه استفاده: /route حساب:خط here|off — مثال: /route amoot:10001234 here",
        "route.on": "پیامک‌های {target} از این پس به این گفتگو می‌آید.",
        "route.choose": "پیامک‌های کدام خط به این گفتگو بیاید (یا دیگر نیاید)؟",
        "route.here": "✅ به این گفتگو",
        "route.off_button": "🚫 دیگر نه",
        "users.choose_role": "نقش کاربر {user} چه باشد؟",
        "route.off": "پیامک‌های {target} دیگر به این گفتگو نمی‌آید.",
        "inbox.title": "آخرین پیامک‌های این گفتگو:",
        "inbox.empty": "هنوز پیامکی به این گفتگو نیامده است.",
        "inbox.line": "{when} — از {sender} به {line} ({account}):\n{text}",
        "report.title": "آخرین ارسال‌ها:",
        "report.empty": "هنوز ارسالی نشده است.",
        "report.line": "#{id} — {when} — {account} — {state} — {summary}",
        "report.detail": "ارسال #{id} از {account} ({when}) — {state}\nمتن: {text}",
        "report.not_found": "ارسال #{id} پیدا نشد.",
        "state.draft": "پیش‌نویس",
        "state.armed": "در انتظار تأیید دوم",
        "state.sending": "در حال ارسال",
        "state.sent": "ارسال شد",
        "state.partial": "ارسال ناقص",
        "state.failed": "ناموفق",
        "state.unknown": "نامعلوم",
        "state.cancelled": "لغو شد",
        "state.scheduled": "زمان‌بندی‌شده",
        "otp.usage": "نحوه استفاده: /otp [حساب:] شماره [کد]",
        "otp.ask": "کد را به چه شماره‌ای بفرستم؟ (اگر کد خاصی می‌خواهید، بعد از شماره بنویسید.) انصراف: /cancel",
        "otp.sent": "🔐 کد {code} به {number} فرستاده شد (حساب {account}، شناسه پیام {message_id}).",
        "pattern.usage": "نحوه استفاده: /pattern [حساب:] کد_الگو شماره مقدار۱ مقدار۲…",
        "pattern.list": "الگوهای حساب {account}:",
        "pattern.item": "{id} — {text}",
        "pattern.drafts": "متن‌های ذخیره‌شده حساب {account}:",
        "pattern.sent": "📨 الگوی {id} به {number} فرستاده شد (شناسه پیام {message_id}).",
        "pattern.ask": "الگوی {id}: شماره گیرنده و سپس مقدارها را با فاصله بفرستید. انصراف: /cancel",
        "schedule.title": "ارسال‌های زمان‌بندی‌شده:",
        "schedule.empty": "ارسال زمان‌بندی‌شده‌ای نیست.",
        "schedule.item": "{when} — {account} — {count} گیرنده — {text}",
        "schedule.provider_item": "{when} — {account} — {number} — {text}",
        "schedule.no_cancel": "حساب {account} لغو ارسال زمان‌بندی‌شده را ندارد؛ برای لغو به پنل سرویس‌دهنده بروید.",
        "schedule.cancelled": "ارسال زمان‌بندی‌شده لغو شد.",
        "schedule.not_cancelled": "لغو نشد؛ شاید پیامک رفته باشد.",
        "button.cancel_scheduled": "لغو {n}",
        "preview.when": "زمان ارسال: {jalali} — {gregorian}",
        "send.bad_time": "زمان «{value}» را نفهمیدم. نمونه: ‎@1405/09/10 14:30 یا ‎@2026-12-01 14:30",
        "send.past_time": "زمان ارسال گذشته است.",
        "send.no_schedule": "حساب {account} ارسال زمان‌بندی‌شده ندارد.",
        "cancel.done": "از گفتگوی جاری خارج شدید.",
        "flow.account": "از کدام حساب بفرستم؟",
        "flow.recipients": "شماره گیرنده‌ها را بفرستید (با فاصله یا ویرگول جدا کنید؛ برای گروه مخاطبان: group:شناسه). برای انصراف: /cancel",
        "flow.no_recipients": "شماره‌ای پیدا نکردم. دوباره بفرستید یا /cancel.",
        "flow.text": "حالا متن پیامک را بفرستید.",
        "cancel.nothing": "گفتگوی فعالی نیست.",
        "low_credit": "⚠️ اعتبار حساب {account} کم است: {credit} (آستانه هشدار: {threshold}).",
    },
    "en": {
        "welcome": "Hello {name}! This is your SMS bridge.\nYour role: {role}\n\n{help}",
        "unauthorized": "You are not authorized to use this bot.\nYour Telegram id: {user_id}\n"
        "Send this id to the bot's admin.",
        "forbidden": "This needs the {role} role; yours is {have}.",
        "role.admin": "admin",
        "role.operator": "operator",
        "role.viewer": "viewer",
        "balance.title": "💰 Account credit",
        "balance.line": "<b>{account}</b> ({provider}): {credit}",
        "balance.tariffs": "Tariff per part — Persian: {fa}, English: {en}",
        "balance.lines": "Lines: {lines}",
        "balance.expires": "Account expires: {date}",
        "balance.error": "<b>{account}</b>: {error}",
        "rial": "{amount} Rial ({toman} Toman)",
        "toman": "{amount} Toman",
        "unit": "{amount} (unit not stated by the provider)",
        "send.no_text": "Write the SMS text after the numbers.",
        "send.no_valid": "No valid number. Invalid: {invalid}",
        "send.unknown_account": "There is no account named “{account}”. Accounts: {accounts}",
        "send.unknown_line": "Line “{line}” is not on account {account}. Lines: {lines}",
        "send.no_line": "Account {account} has no line; set lines in the config.",
        "preview.title": "📤 Send preview #{id}",
        "preview.from": "Account: {account} — line: {line}",
        "preview.recipients": "Recipients ({count}): {numbers}",
        "preview.invalid": "⚠️ Invalid (will not be sent): {invalid}",
        "preview.refused": "⚠️ {recipient} will not be sent: {reason}",
        "preview.audience": "Actual recipients (as the provider counts them): {count}",
        "refused.not_contact": "not in account {account}'s phonebook (White SMS sends to contacts only)",
        "refused.unknown_group": "account {account} has no such group",
        "refused.groups_unsupported": "account {account} cannot send to contact groups",
        "send.none_accepted": "No recipient can be sent to.\n{refused}",
        "preview.text": "Text:\n{text}",
        "preview.parts": "Encoding: {encoding} — {length} characters — {parts} part(s) per recipient",
        "preview.cost": "Estimated cost: {cost}",
        "preview.reply_to": "Reply to {sender}",
        "button.confirm": "✅ Send",
        "button.confirm_again": "✅ Yes, send to {count} recipients",
        "button.cancel": "❌ Cancel",
        "confirm.armed": "⚠️ This send has {count} recipients (more than {threshold}). Confirm again.",
        "confirm.gone": "This preview is no longer valid (already sent or cancelled).",
        "confirm.not_owner": "Only the person who made this preview can confirm it.",
        "confirm.quota": "Your daily quota ({quota} recipients) is not enough: you sent to {used} today.",
        "sending": "⏳ Sending…",
        "cancelled": "❌ Send #{id} cancelled.",
        "result.title": "📨 Result of send #{id} from {account}:",
        "result.ok": "{mark} {number} — message id {message_id} — {state}",
        "result.summary": "Delivery: {counts}",
        "delivery.queued": "queued",
        "delivery.sent": "at the operator",
        "delivery.delivered": "delivered",
        "delivery.failed": "not delivered",
        "delivery.unknown": "unknown",
        "result.failed": "❌ {number} — {error}",
        "result.unknown": "❓ Unknown whether the SMS went out: {error}\nNot resent, to avoid a double "
        "send; check /report or the provider's panel.",
        "result.error": "❌ Not sent: {error}",
        "result.campaign": "Campaign: {campaign}",
        "result.price": "Cost: {price}",
        "inbound": "📩 SMS from {sender}\nto line {line} ({account})\n🕒 {jalali} — {gregorian}\n\n{text}",
        "digest.title": "📬 {count} SMS — to answer one, reply to this message and start with its "
        "number (e.g. {example}).",
        "digest.item": "<b>{number}</b> from {sender} to line {line} ({account}) — {time}\n{text}",
        "digest.choose": "This message carries several SMS. Start your reply with the SMS's number, "
        "e.g.: {example} your answer",
        "inbound.reply_hint": "Reply to this message to answer by SMS.",
        "reply.not_sms": "To answer by SMS, reply to the inbound SMS itself.",
        "reply.viewer": "Answering by SMS needs the operator role.",
        "error.generic": "Something went wrong and nothing was done. Please try again.",
        "error.auth": "Account {account}: the provider refused the credentials — {detail}",
        "error.credit": "Account {account}: not enough credit — {detail}",
        "error.recipient": "Account {account}: the recipient was refused — {detail}",
        "error.unavailable": "Account {account}: the provider is unreachable — {detail}",
        "error.unknown_outcome": "Account {account}: no answer from the provider; the SMS may or may not have gone out.",
        "error.protocol": "Account {account}: the provider's answer could not be understood.",
        "error.ratelimited": "Account {account}: the provider is rate limiting; try again shortly.",
        "error.unsupported": "Account {account} cannot do this: {capability}.",
        "error.rejected": "Account {account}: the provider refused — {detail}",
        "unknown_command": "I do not know this command. See /help.",
        "help.title": "Commands your role ({role}) may use:",
        "help.reply": "To answer an inbound SMS, reply to its message.",
        "lang.choose": "Choose the language of this chat:",
        "lang.set": "This chat now speaks English.",
        "lang.bad": "The language must be fa or en.",
        "users.title": "Users:",
        "users.line": "{user} — {role}",
        "users.bootstrap": "{user} — admin (from the config)",
        "users.usage": "Usage: /users add &lt;id&gt; &lt;role&gt; — /users del &lt;id&gt;\nRoles: viewer, operator, admin",
        "users.added": "User {user} now has the role “{role}”.",
        "users.removed": "User {user} was removed.",
        "users.not_found": "User {user} is not in the list.",
        "users.bootstrap_fixed": "{user} is an admin from the config; chat commands cannot remove or change them.",
        "audit.title": "Latest audit entries:",
        "audit.line": "{at} — {action} — user {user} — chat {chat}{account}{recipients}\n{detail}",
        "audit.empty": "No audit entries yet.",
        "lines.title": "Accounts and lines:",
        "lines.account": "<b>{account}</b> ({provider}) — lines: {lines}",
        "lines.route": "  {line} → {chats}",
        "lines.no_route": "  {line} → no chat",
        "lines.all": "every line",
        "route.usage": "Usage: /route &lt;account:line&gt; here|off — e.g. /route amoot:10001234 here",
        "route.on": "SMS to {target} now come to this chat.",
        "route.choose": "Which line's SMS should come to this chat (or stop coming)?",
        "route.here": "✅ to this chat",
        "route.off_button": "🚫 not any more",
        "users.choose_role": "Which role for user {user}?",
        "route.off": "SMS to {target} no longer come to this chat.",
        "inbox.title": "Latest SMS in this chat:",
        "inbox.empty": "No SMS has come to this chat yet.",
        "inbox.line": "{when} — from {sender} to {line} ({account}):\n{text}",
        "report.title": "Latest sends:",
        "report.empty": "Nothing has been sent yet.",
        "report.line": "#{id} — {when} — {account} — {state} — {summary}",
        "report.detail": "Send #{id} from {account} ({when}) — {state}\nText: {text}",
        "report.not_found": "There is no send #{id}.",
        "state.draft": "draft",
        "state.armed": "awaiting second confirmation",
        "state.sending": "sending",
        "state.sent": "sent",
        "state.partial": "partly sent",
        "state.failed": "failed",
        "state.unknown": "unknown",
        "state.cancelled": "cancelled",
        "state.scheduled": "scheduled",
        "otp.usage": "Usage: /otp [account:] &lt;number&gt; [code]",
        "otp.ask": "Which number should get the code? (Add a code after it to choose one.) /cancel to stop.",
        "otp.sent": "🔐 Code {code} sent to {number} (account {account}, message id {message_id}).",
        "pattern.usage": "Usage: /pattern [account:] &lt;pattern id&gt; &lt;number&gt; &lt;value1&gt; &lt;value2&gt;…",
        "pattern.list": "Patterns of account {account}:",
        "pattern.item": "{id} — {text}",
        "pattern.drafts": "Stored texts of account {account}:",
        "pattern.sent": "📨 Pattern {id} sent to {number} (message id {message_id}).",
        "pattern.ask": "Pattern {id}: send the number, then the values, separated by spaces. /cancel to stop.",
        "schedule.title": "Scheduled sends:",
        "schedule.empty": "Nothing is scheduled.",
        "schedule.item": "{when} — {account} — {count} recipient(s) — {text}",
        "schedule.provider_item": "{when} — {account} — {number} — {text}",
        "schedule.no_cancel": "Account {account} cannot cancel a scheduled send; cancel it in the provider's panel.",
        "schedule.cancelled": "The scheduled send was cancelled.",
        "schedule.not_cancelled": "Not cancelled; it may have gone out already.",
        "button.cancel_scheduled": "Cancel {n}",
        "preview.when": "Send at: {jalali} — {gregorian}",
        "send.bad_time": "I could not read the time “{value}”. E.g. @2026-12-01 14:30 or @1405/09/10 14:30",
        "send.past_time": "That send time has passed.",
        "send.no_schedule": "Account {account} cannot schedule sends.",
        "cancel.done": "You left the current flow.",
        "flow.account": "Which account should it go from?",
        "flow.recipients": "Send the recipients: numbers separated by spaces or commas (group:&lt;id&gt; for a contact group). /cancel to stop.",
        "flow.no_recipients": "I found no number in that. Send them again, or /cancel.",
        "flow.text": "Now send the SMS text.",
        "cancel.nothing": "There is no flow to leave.",
        "low_credit": "⚠️ Account {account} is low on credit: {credit} (alert below {threshold}).",
    },
}

CAPABILITY_NAMES = {
    "fa": {
        "balance": "نمایش اعتبار", "send": "ارسال پیامک", "send_p2p": "ارسال متن جدا برای هر شماره",
        "otp": "کد یکبارمصرف", "pattern": "ارسال با الگو", "schedule": "ارسال زمان‌بندی‌شده",
        "cancel_scheduled": "لغو ارسال زمان‌بندی‌شده", "delivery": "گزارش تحویل",
        "inbound_poll": "دریافت پیامک", "relay": "انتقال خودکار (relay)", "price": "برآورد هزینه",
        "contact_groups": "ارسال به گروه مخاطبان", "drafts": "متن‌های ذخیره‌شده",
    },
    "en": {
        "balance": "show credit", "send": "send SMS", "send_p2p": "a different text per number",
        "otp": "one-time codes", "pattern": "template sends", "schedule": "scheduled sends",
        "cancel_scheduled": "cancel scheduled sends", "delivery": "delivery reports",
        "inbound_poll": "receive SMS", "relay": "relay push", "price": "price estimates",
        "contact_groups": "send to contact groups", "drafts": "stored texts",
    },
}  # fmt: skip


# Every command with the least role that may use it and its menu text (setMyCommands, /help).
COMMANDS: tuple[tuple[str, str, str, str], ...] = (
    ("start", "viewer", "شروع و نقش شما", "start and your role"),
    ("help", "viewer", "راهنما", "help"),
    ("balance", "viewer", "اعتبار حساب‌ها", "account credit"),
    ("send", "operator", "ارسال پیامک", "send an SMS"),
    ("otp", "operator", "کد یکبارمصرف", "send a one-time code"),
    ("pattern", "operator", "ارسال با الگو", "template send"),
    ("report", "viewer", "گزارش ارسال‌ها", "send reports and delivery"),
    ("inbox", "viewer", "آخرین پیامک‌های دریافتی", "latest inbound SMS"),
    ("schedule", "operator", "ارسال‌های زمان‌بندی‌شده", "scheduled sends"),
    ("lines", "viewer", "حساب‌ها، خطوط و مسیرها", "accounts, lines and routes"),
    ("route", "admin", "مسیر پیامک‌های یک خط", "route a line's SMS to this chat"),
    ("users", "admin", "مدیریت کاربران", "manage users"),
    ("audit", "admin", "رویدادهای ثبت‌شده", "audit log"),
    ("lang", "viewer", "زبان این گفتگو", "language of this chat"),
    ("cancel", "viewer", "خروج از گفتگوی جاری", "leave the current flow"),
)


def help_text(lang: str, role: str) -> str:
    """The commands this role may use, in this language."""
    allowed = [c for c in COMMANDS if ROLES.index(c[1]) <= ROLES.index(role)]
    lines = [t(lang, "help.title", role=role_name(lang, role))]
    lines += [f"/{name} — {fa if lang == 'fa' else en}" for name, _r, fa, en in allowed]
    return "\n".join([*lines, "", t(lang, "help.reply")])


def t(lang: str, key: str, **values: object) -> str:
    """The string ``key`` in ``lang`` with values filled in (values are inserted as given)."""
    table = STRINGS.get(lang, STRINGS["fa"])
    return table.get(key, STRINGS["en"][key]).format(**values)


def esc(text: object) -> str:
    """Escape for HTML parse mode: shown verbatim, never interpreted, never dropped."""
    return html.escape(str(text), quote=False)


def digits(lang: str, text: str) -> str:
    return text.translate(_FA_DIGITS) if lang == "fa" else text


def number(lang: str, value: float) -> str:
    """Thousands separators (Persian ones and digits in Persian), no needless decimals."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
    if lang == "fa":
        return digits(lang, text.replace(",", "٬").replace(".", "٫"))
    return text


def ltr(text: str) -> str:
    """Keep a Latin or numeric run (phone number, id) left-to-right inside Persian text."""
    return f"{LRI}{text}{PDI}"


def phone(lang: str, canonical: str) -> str:
    """``989121234567`` → ``0912 123 4567``, kept left-to-right."""
    return ltr(digits(lang, local_form(canonical)))


def money(lang: str, amount: float, currency: str) -> str:
    if currency == "rial":
        return t(lang, "rial", amount=number(lang, amount), toman=number(lang, amount / 10))
    if currency == "toman":
        return t(lang, "toman", amount=number(lang, amount))
    return t(lang, "unit", amount=number(lang, amount))


def when(lang: str, moment: datetime) -> tuple[str, str]:
    """(Jalali, Gregorian) renderings of a moment in Tehran time."""
    local = moment.astimezone(TEHRAN)
    jalali = jdatetime.datetime.fromgregorian(datetime=local.replace(tzinfo=None))
    return (
        digits(lang, jalali.strftime("%Y/%m/%d %H:%M")),
        digits(lang, local.strftime("%Y-%m-%d %H:%M")),
    )


def role_name(lang: str, role: str | None) -> str:
    return t(lang, f"role.{role}") if role else "—"


def provider_error(lang: str, exc: ProviderError) -> str:
    """One sentence for a provider failure; never a class name or a traceback."""
    detail = esc(exc.detail_fa if lang == "fa" else exc.detail)
    account = esc(exc.account)
    if isinstance(exc, NotSupported):
        capability = CAPABILITY_NAMES.get(lang, CAPABILITY_NAMES["en"])[exc.capability.value]
        return t(lang, "error.unsupported", account=account, capability=capability)
    key = "error.rejected"
    if isinstance(exc, OutcomeUnknown):
        key = "error.unknown_outcome"
    elif isinstance(exc, ProviderUnavailable):
        key = "error.unavailable"
    elif isinstance(exc, AuthFailed):
        key = "error.auth"
    elif isinstance(exc, InsufficientCredit):
        key = "error.credit"
    elif isinstance(exc, InvalidRecipient):
        key = "error.recipient"
    elif isinstance(exc, RateLimited):
        key = "error.ratelimited"
    elif isinstance(exc, ProviderProtocolError):
        key = "error.protocol"
    text = t(lang, key, account=account, detail=detail)
    if exc.code and exc.code not in text and not isinstance(exc, ProviderUnavailable):
        text += f" ({ltr(esc(exc.code))})"
    return text


def balance_block(lang: str, account: str, provider: str, balance: Balance) -> str:
    lines = [
        t(lang, "balance.line", account=esc(account), provider=provider,
          credit=money(lang, balance.credit, balance.currency))
    ]  # fmt: skip
    fa, en = balance.tariffs.get("base_fa"), balance.tariffs.get("base_en")
    if fa is not None and en is not None:
        lines.append(
            t(lang, "balance.tariffs", fa=money(lang, fa, balance.currency),
              en=money(lang, en, balance.currency))
        )  # fmt: skip
    if balance.lines:
        lines.append(t(lang, "balance.lines", lines=", ".join(ltr(esc(x)) for x in balance.lines)))
    if balance.expires is not None:
        lines.append(t(lang, "balance.expires", date=when(lang, balance.expires)[0]))
    return "\n".join(lines)


def local_form(canonical: str) -> str:
    """``989121234567`` → ``0912 123 4567``, as people write a number (also a topic's name)."""
    if len(canonical) == 12 and canonical.startswith("98"):
        local = "0" + canonical[2:]
        return f"{local[:4]} {local[4:7]} {local[7:]}"
    return canonical[:128]


def refusals(lang: str, account: str, refused: Sequence[tuple[str, str]]) -> str:
    """One line per recipient the provider will not reach, with the reason in words."""
    return "\n".join(
        t(lang, "preview.refused",
          recipient=phone(lang, r) if r.isdigit() else ltr(esc(r)),
          reason=t(lang, f"refused.{reason}", account=esc(account)))
        for r, reason in refused
    )  # fmt: skip


def text_info(lang: str, info: TextInfo) -> str:
    return t(
        lang, "preview.parts", encoding=info.encoding.value, length=number(lang, info.length),
        parts=number(lang, info.parts),
    )  # fmt: skip


def number_list(lang: str, numbers: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(phone(lang, n) for n in numbers[:limit])
    if len(numbers) > limit:
        shown += f" … (+{number(lang, len(numbers) - limit)})"
    return shown
