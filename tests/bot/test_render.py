"""Sentences a person reads for provider failures and refusals, in both languages."""

from __future__ import annotations

import pytest

from bot import locales, render
from providers.base import Capability, NotSupported, ProviderRejected


@pytest.mark.parametrize("capability", list(Capability))
def test_every_missing_capability_reads_as_a_sentence_naming_account_and_capability(
    capability: Capability,
) -> None:
    error = NotSupported("smsir", capability)
    en = render.provider_error("en", error)
    fa = render.provider_error("fa", error)
    assert en.startswith("Account smsir cannot do this: ") or "smsir" in en
    assert locales.CAPABILITY_NAMES["en"][capability.value] in en
    assert locales.CAPABILITY_NAMES["fa"][capability.value] in fa and "smsir" in fa
    assert "NotSupported" not in en + fa


def test_a_provider_refusal_keeps_its_own_persian_message() -> None:
    error = ProviderRejected("smsir", "4", "sms.ir refused: مخاطب معتبر نیست", "مخاطب معتبر نیست")
    assert "مخاطب معتبر نیست" in render.provider_error("fa", error)
    assert "sms.ir refused" in render.provider_error("en", error)


def test_refusals_name_each_recipient_and_the_reason() -> None:
    text = render.refusals("en", "amoot", [("group:4", "groups_unsupported")])
    assert "group:4" in text and "account amoot cannot send to contact groups" in text
    fa = render.refusals("fa", "smsir", [("989121234567", "not_contact")])
    assert "۰۹۱۲ ۱۲۳ ۴۵۶۷" in fa and "smsir" in fa


def test_every_sentence_is_valid_html_for_telegram() -> None:
    """Templates are sent in HTML mode: a literal <id> would make Telegram refuse the message."""
    import re

    for lang, table in locales.STRINGS.items():
        for key, template in table.items():
            tags = re.findall(r"<[^>]*>", template)
            assert set(tags) <= {"<b>", "</b>"}, (lang, key, tags)
        assert set(table) == set(locales.STRINGS["en"]), lang
