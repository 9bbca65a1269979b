"""The portal speaks English, Spanish, Portuguese and Catalan (SPEC §6).

Three guards keep it that way (docs/translating.md):
- every string marked for translation in the code and the templates is translated in every
  catalogue (extracted here exactly as `make messages` does);
- the compiled `.mo` files say what their `.po` files say (`make translations`);
- no template shows a literal text that is not marked for translation.
"""

from __future__ import annotations

import io
import os
import re

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.i18n import LANGUAGES
from tests.conftest import ROOT

TRANSLATIONS = os.path.join(ROOT, "app", "translations")
KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "_l": None,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "N_": None,
}
METHODS = [("app/**.py", "python"), ("templates/**.html", "jinja2")]


def marked_strings() -> set[str]:
    """Every msgid of the code and templates (the singular of plural forms)."""
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, METHODS, {"templates/**.html": {"trimmed": "true"}}, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def catalogue(language: str):
    path = os.path.join(TRANSLATIONS, language, "LC_MESSAGES", "messages.po")
    with open(path, "rb") as fh:
        return read_po(fh, locale=language)


FOREIGN = sorted(set(LANGUAGES) - {"en"})


@pytest.mark.parametrize("language", FOREIGN)
def test_every_marked_string_is_translated_in_the_catalogue(language):
    cat = catalogue(language)
    missing, untranslated = [], []
    for msgid in sorted(marked_strings()):
        message = cat.get(msgid)
        if message is None:
            missing.append(msgid)
            continue
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        if message.fuzzy or not all(strings):
            untranslated.append(msgid)
    assert not missing, f"{language}: not in the catalogue (make messages): {missing[:20]}"
    assert not untranslated, f"{language}: untranslated or fuzzy: {untranslated[:20]}"


@pytest.mark.parametrize("language", FOREIGN)
def test_translations_keep_the_placeholders_of_the_original(language):
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    wrong = []
    for message in catalogue(language):
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else [message.id]
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        wanted = set(placeholder.findall(ids[-1]))
        for s in strings:
            if set(placeholder.findall(s)) - wanted or (
                len(strings) == 1 and set(placeholder.findall(s)) != wanted
            ):
                wrong.append((message.id, s))
    assert not wrong, wrong[:10]


@pytest.mark.parametrize("language", FOREIGN)
def test_compiled_catalogue_matches_its_source(language):
    def key(value):
        return tuple(value) if isinstance(value, tuple | list) else value

    source = {key(m.id): key(m.string) for m in catalogue(language) if m.id and not m.fuzzy}
    path = os.path.join(TRANSLATIONS, language, "LC_MESSAGES", "messages.mo")
    assert os.path.exists(path), f"{path} missing: run make translations"
    with open(path, "rb") as fh:
        compiled = {key(m.id): key(m.string) for m in read_mo(io.BytesIO(fh.read())) if m.id}
    assert compiled == source, f"{language}: messages.mo is stale; run make translations"


# --- templates: no literal text outside the translation markers ---------------------------

# Words that are the same in every language: the product's names, file kinds, units.
ALLOWED = {
    "FlexxAgent",
    "Portal",
    "Flexxible",
    "Tools",
    "CSV",
    "JSON",
    "API",
    "ID",
    "UTC",
    "TOTP",
    "SSO",
    "OpenID",
    "Connect",
    "MFA",
    "URI",
    "OS",
    "RA",
}
_DROP = [
    re.compile(r"\{#.*?#\}", re.S),
    re.compile(r"\{%-?\s*trans\b.*?endtrans\s*-?%\}", re.S),
    re.compile(r"\{%-?\s*macro\b[^%]*%\}", re.S),
    re.compile(r"<script\b.*?</script>", re.S),
    re.compile(r"<style\b.*?</style>", re.S),
    re.compile(r"<code\b[^>]*>.*?</code>", re.S),
    re.compile(r"\{\{.*?\}\}", re.S),
    re.compile(r"\{%.*?%\}", re.S),
]
_ATTRIBUTE = re.compile(r'\b(placeholder|title|aria-label|alt|label)="([^"]*)"')
_TAG = re.compile(r"<[^>]*>", re.S)
_WORD = re.compile(r"[^\W\d_][\w'\u2019.-]*", re.U)


def literals(source: str) -> list[str]:
    """Human words a template shows that no translation marker covers."""
    for pattern in _DROP[:6]:
        source = pattern.sub(" ", source)
    found = []
    for _name, value in _ATTRIBUTE.findall(source):
        if re.match(r"https?://", value):  # an example address, the same in every language
            continue
        for pattern in _DROP[6:]:
            value = pattern.sub(" ", value)
        found += _WORD.findall(value)
    for pattern in _DROP[6:]:
        source = pattern.sub(" ", source)
    text = re.sub(r"&\w+;|&#\d+;", " ", _TAG.sub(" ", source))
    found += _WORD.findall(text)
    return [w for w in found if w not in ALLOWED]


def template_files():
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "templates")):
        for name in files:
            if name.endswith(".html"):
                yield os.path.relpath(os.path.join(folder, name), ROOT)


def test_the_literal_finder_sees_text_and_attributes_but_not_marked_strings():
    assert literals('<p title="Hello">Sign in</p>') == ["Hello", "Sign", "in"]
    assert literals("<p>{{ _('Sign in') }} {% trans %}Hi {{ n }}{% endtrans %}</p>") == []
    assert literals("<p><code>ra.start</code> {{ x }} — 3</p>") == []


def test_templates_hold_no_untranslated_literal():
    found = {}
    for path in template_files():
        with open(os.path.join(ROOT, path), encoding="utf-8") as fh:
            words = literals(fh.read())
        if words:
            found[path] = words[:8]
    assert not found, f"wrap these in _() or {{% trans %}}: {found}"


_FLASH_LITERAL = re.compile(r"""\bflash\(\s*f?["']""")


def test_flash_messages_are_marked_for_translation():
    found = []
    for folder, _dirs, files in os.walk(os.path.join(ROOT, "app")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    for number, line in enumerate(fh, 1):
                        if _FLASH_LITERAL.search(line):
                            found.append(f"{os.path.relpath(path, ROOT)}:{number}")
    assert not found, found
