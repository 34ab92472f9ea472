"""Errors that name the field at fault, with a message key so any caller can say why in the
user's language (``reason(lang)``); ``str(error)`` is the English text."""

from __future__ import annotations

from typing import Any

from gridgov.i18n import t


class FieldError(ValueError):
    """Bad input (422): ``field`` names what is wrong, ``key`` says why."""

    def __init__(self, field: str, key: str, **params: Any) -> None:
        self.field = field
        self.key = key
        self.params = params
        super().__init__(f"{field}: {self.reason('en')}")

    def reason(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)


class OutOfScope(PermissionError):
    """The thing named lies outside the caller's scope (403); ``key`` says which thing."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(t(key, "en", **params))

    def reason(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)


class Refusal(ValueError):
    """Something refused as it is (a file, a command's argument): ``key`` says why, in any
    language by ``reason(lang)``; ``str(error)`` is the English text."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(t(key, "en", **params))

    def reason(self, lang: str = "zh") -> str:
        return t(self.key, lang, **self.params)
