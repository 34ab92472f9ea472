"""One message catalogue per language (zh is the default, en is available).

Catalogues are JSON files beside this module, ``{"key": "text with {placeholders}"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
CATALOGUES = Path(__file__).resolve().parent


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language."""
    path = CATALOGUES / f"{lang}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def pick_language(accept_language: str | None) -> str:
    """Choose zh or en from an Accept-Language header or a plain code; zh unless en leads.

    >>> pick_language("en-US,en;q=0.9"), pick_language("zh-CN"), pick_language(None)
    ('en', 'zh', 'zh')
    """
    if not accept_language:
        return DEFAULT_LANGUAGE
    first = accept_language.split(",")[0].strip().lower()
    return "en" if first.startswith("en") else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Message:
    """A message not yet put into words: a key and its values, said in any language later.
    A value that is itself a Message (or a list of them) is said in the same language.

    >>> Message("error.not_found.grid", {"code": "G1"}).say("en")
    'Grid G1 does not exist'
    """

    key: str
    params: dict[str, Any] = field(default_factory=dict)

    def say(self, lang: str = DEFAULT_LANGUAGE) -> str:
        return t(self.key, lang, **self.params)


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """Translate ``key`` into ``lang`` and fill its placeholders.

    >>> t("error.outside_grids", "en", distance_m=12.5)
    'The point is outside every grid; the nearest grid is 12.5 m away'
    """
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key) or key
    return text.format(**{name: _said(value, lang) for name, value in params.items()})


def _said(value: Any, lang: str) -> Any:
    if isinstance(value, Message):
        return value.say(lang)
    if isinstance(value, list) and value and all(isinstance(v, Message) for v in value):
        return ("；" if lang == "zh" else "; ").join(v.say(lang) for v in value)
    return value


def label(key: str, lang: str, fallback: str) -> str:
    """The translation of ``key``, or ``fallback`` (the raw value) when no catalogue has it:
    a city's own kinds of things show as the city wrote them, not as a key.

    >>> label("stockpile_kind.firehouse", "en", "firehouse")
    'firehouse'
    """
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang).get(key) or catalogue(DEFAULT_LANGUAGE).get(key)
    return text if text is not None else fallback
