"""The send-outcome rule: the one place that decides what became of a send that got no clear answer.

**The rule.** A recipient of a send is *accepted* when the provider took it and named it (a message
id). It is *failed* only when the provider said no before doing anything (``ProviderRejected`` on
the send request itself), or when the request provably never left (``Unreachable``: no connection
was made). In every other case, once the request may have reached the provider — a timeout, a reset,
a 5xx, an answer we cannot read, a server-error status inside a 200, a provider that did not confirm
and may have sent part, a follow-up look-up that failed — the recipients it covered are *unknown*.
Unknown is never shown as "not sent" and nothing is ever resent automatically: an unknown recipient
becomes accepted or failed only when the provider itself says so (a look-up of its records, or a
delivery report), and until then the chat says "may have been sent; check /report before sending
again".

Every provider module wraps each send request in ``send_request()`` and builds per-recipient
failures with ``results_for()``; the bot records what each recipient's ``Outcome`` is (and a send
is ``unknown`` while any of its recipients is). Nothing else decides.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from .base import (
    InvalidRecipient,
    Outcome,
    OutcomeUnknown,
    ProviderError,
    ProviderProtocolError,
    ProviderRejected,
    RecipientResult,
    Unreachable,
)


def outcome_of(exc: BaseException) -> Outcome:
    """FAILED when the send provably did nothing, else UNKNOWN."""
    if isinstance(exc, ProviderRejected | Unreachable):
        return Outcome.FAILED
    if isinstance(exc, ProviderProtocolError) and _refused_by_status(exc.code):
        return Outcome.FAILED
    return Outcome.UNKNOWN


def _refused_by_status(code: str) -> bool:
    """An HTTP 4xx other than 408 is the server turning the request away unprocessed."""
    return code.startswith("http_4") and code != "http_408"


def as_unknown(exc: ProviderError) -> ProviderError:
    """A failure of a request that may have sent SMS, as the rule reads it."""
    if isinstance(exc, OutcomeUnknown) or outcome_of(exc) is Outcome.FAILED:
        return exc
    unknown = OutcomeUnknown(
        exc.account,
        exc.code,
        f"{exc.detail}; the SMS may have been sent",
        f"{exc.detail_fa}؛ ممکن است پیامک رفته باشد",
    )
    unknown.__cause__ = exc
    return unknown


def unconfirmed(exc: ProviderRejected) -> OutcomeUnknown:
    """A refusal of a send that may still have sent part of it (sms.ir sends with
    ``CanContinueInCaseOfError``): not proof that nothing went out, so unknown."""
    unknown = OutcomeUnknown(
        exc.account,
        exc.code,
        f"{exc.detail}; part of the SMS may have been sent",
        f"{exc.detail_fa}؛ ممکن است بخشی از پیامک‌ها رفته باشد",
    )
    unknown.__cause__ = exc
    return unknown


@contextlib.contextmanager
def send_request(account: str) -> Iterator[None]:
    """Around one send request and the reading of its answer: any failure that is not a clear
    refusal becomes ``OutcomeUnknown`` (a bug in reading the answer too: the provider may have
    accepted)."""
    try:
        yield
    except ProviderError as exc:
        converted = as_unknown(exc)
        if converted is exc:
            raise
        raise converted from exc
    except Exception as exc:
        raise OutcomeUnknown(
            account, "bad_answer", "the provider's answer to a send could not be read"
        ) from exc


def ends_send(exc: ProviderError, *, first: bool, only: bool) -> bool:
    """Whether a failed chunk of a send fails the whole send (the error is raised) rather than
    its own recipients (the next chunks still go): only a clear refusal of the first chunk, when
    it is the only chunk or the refusal is the account's (credit, credentials, line), which the
    next chunks would meet too. A recipient-level refusal of one chunk of many, or an unknown
    outcome, is reported recipient by recipient."""
    if not first or outcome_of(exc) is not Outcome.FAILED:
        return False
    return only or not isinstance(exc, InvalidRecipient)


def results_for(recipients: Iterable[str], exc: ProviderError) -> list[RecipientResult]:
    """Every recipient a failed send request covered, each failed or unknown by the rule."""
    if outcome_of(exc) is Outcome.FAILED:
        return [RecipientResult.refused(r, exc.code) for r in recipients]
    return [RecipientResult.unknown(r, exc.code) for r in recipients]
