"""The message catalogue: complete, compiled, and with the same placeholders in every language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest

from grader.i18n import (
    DOMAIN,
    LOCALE_DIR,
    accept_language,
    catalogue_languages,
    gettext_for,
    label_language,
    ngettext_for,
)

LANGUAGES = ("de", "es", "fr", "ja", "ko", "ru")
PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
ROOT = Path(__file__).resolve().parent.parent


def read_po(language: str):
    pofile = pytest.importorskip("babel.messages.pofile")
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", "rb") as handle:
        return pofile.read_po(handle)


def extracted_ids() -> set[object]:
    """The labels in the code and templates now, extracted as ``make messages`` does."""
    extract = pytest.importorskip("babel.messages.extract")
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**extract.DEFAULT_KEYWORDS, "ngettext": (1, 2)}
    found: set[object] = set()
    for _file, _line, message, _comments, _context in extract.extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_every_language_has_a_compiled_catalogue() -> None:
    assert catalogue_languages() == ("en", *LANGUAGES)


def test_the_template_lists_every_label_in_the_code() -> None:
    pofile = pytest.importorskip("babel.messages.pofile")
    with open(LOCALE_DIR / f"{DOMAIN}.pot", "rb") as handle:
        template = pofile.read_po(handle)
    listed = {m.id if isinstance(m.id, str) else tuple(m.id) for m in template if m.id}
    assert extracted_ids() == listed, "run make messages and translate what is new"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_label_is_translated_with_the_same_placeholders(language: str) -> None:
    catalogue = read_po(language)
    pofile = pytest.importorskip("babel.messages.pofile")
    with open(LOCALE_DIR / f"{DOMAIN}.pot", "rb") as handle:
        template = pofile.read_po(handle)
    for message in template:
        if not message.id:
            continue
        translated = catalogue.get(message.id)
        assert translated is not None and not translated.fuzzy, (language, message.id)
        strings = (
            translated.string if isinstance(translated.string, tuple) else (translated.string,)
        )
        assert all(strings), (language, message.id)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for text in strings:
            used = set(PLACEHOLDER.findall(text))
            assert used <= wanted | {"num"}, (language, message.id, text)
            if len(strings) == 1 or "num" not in wanted:
                assert wanted - {"num"} <= used, (language, message.id, text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_is_the_po_file(language: str) -> None:
    """A stale .mo (a .po edited without ``make messages``) fails here."""
    catalogue = read_po(language)
    with open(LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for message in catalogue:
        if not message.id:
            continue
        if isinstance(message.id, tuple):
            for count in (1, 2, 5, 21, 1_000_000):
                got = compiled.ngettext(message.id[0], message.id[1], count)
                index = compiled.plural(count)  # type: ignore[attr-defined]
                assert got == message.string[index], (language, message.id, count)
        else:
            assert compiled.gettext(message.id) == message.string, (language, message.id)


def test_labels_fall_back_to_english() -> None:
    assert gettext_for("ko")("Score") == "점수"
    assert gettext_for("de-AT")("Missing") == "Fehlt"
    assert gettext_for("zh")("Score") == "Score"
    assert gettext_for(None)("Score") == "Score"
    assert label_language("zh", "ko") == "ko"  # the answer's, else the bank's first, else English
    assert label_language("zh", "it") == "en"
    assert label_language("ru-RU") == "ru"
    assert ngettext_for("ru")(
        "Your instructor chose not to show what the missed criterion asks for.",
        "Your instructor chose not to show what the %(num)s missed criteria ask for.",
        5,
    ).endswith("5 упущенных критериев.")


def test_accept_language_picks_the_best_offered() -> None:
    offered = ["en", "ko", "ja", "ru"]
    assert accept_language("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", offered) == "ko"
    assert accept_language("fr-CH, fr;q=0.9, ja;q=0.8, en;q=0.5", offered) == "ja"
    assert accept_language("de", offered) == ""
    assert accept_language("en;q=0, ru", offered) == "ru"
    assert accept_language("ru;q=abc, en", offered) == "en"
    assert accept_language(None, offered) == ""
