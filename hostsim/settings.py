"""`os.getenv` as CircuitPython has it: values come from CIRCUITPY/settings.toml.

10.2 and later (supervisor/shared/settings.c) return every value as str: a quoted string unquoted, a bare
value as its text up to a comment; a value they cannot read gives the default. 10.0 and 10.1
(shared-module/os/getenv.c) parse a bare value as an integer and raise ValueError when it is not one, or
when the value cannot be read.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_LINE = re.compile(r"^(?P<key>[A-Za-z0-9_-]+)\s*=\s*(?P<value>.*?)\s*$")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class SettingError(ValueError):
    """A settings.toml value CircuitPython cannot read (os.getenv then returns the default)."""


def _basic_string(text: str) -> str:
    """A TOML basic string starting at text[0] == '"'; anything after it must be a comment."""
    out: list[str] = []
    i = 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            rest = text[i + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise SettingError(f"unexpected text after the closing quote: {rest!r}")
            return "".join(out)
        if ch == "\\":
            code = text[i + 1 : i + 2]
            if code in _ESCAPES:
                out.append(_ESCAPES[code])
                i += 2
                continue
            if code in ("u", "U"):
                width = 4 if code == "u" else 8
                digits = text[i + 2 : i + 2 + width]
                if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                    raise SettingError(f"bad \\{code} escape")
                out.append(chr(int(digits, 16)))
                i += 2 + width
                continue
            raise SettingError(f"unknown escape \\{code}")
        out.append(ch)
        i += 1
    raise SettingError("string is not closed")


def parse_value(raw: str) -> tuple[str, bool]:
    """One value as (text, quoted): a basic string unquoted, a bare value up to its comment."""
    if raw.startswith('"'):
        return _basic_string(raw), True
    token = raw.split("#", 1)[0].strip()
    if not token:
        raise SettingError("empty value")
    return token, False


def read_settings(path: Path) -> tuple[dict[str, tuple[str, bool]], dict[str, str]]:
    """Root-table keys of settings.toml as (text, quoted), and readable problems ("line N: ...") by key."""
    values: dict[str, tuple[str, bool]] = {}
    problems: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values, problems
    except (OSError, UnicodeDecodeError) as exc:
        return values, {"": f"cannot read {path}: {exc}"}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            break  # CircuitPython reads the root table only
        match = _LINE.match(stripped)
        if not match:
            problems[f"line {number}"] = f"line {number}: expected KEY = VALUE, got {stripped!r}"
            continue
        try:
            values[match["key"]] = parse_value(match["value"])
        except SettingError as exc:
            problems[match["key"]] = f"line {number}: {match['key']}: {exc}"
    return values, problems


def parse_override(item: str) -> tuple[str, str]:
    """A --set KEY=VALUE item; VALUE is taken literally (it is what os.getenv returns)."""
    key, sep, value = item.partition("=")
    if not sep or not _KEY.match(key):
        raise ValueError(
            f"--set {item!r}: expected KEY=VALUE with a bare TOML key (letters, digits, _ or -);"
            " put the CIRCUITPY folder before the options"
        )
    return key, value


def _bare_integer(text: str) -> int:
    """A bare value as CircuitPython 10.0/10.1 parse it (mp_parse_num_integer, base 0)."""
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"invalid syntax for integer with base 10: {text!r}") from None


class Settings:
    """Re-reads settings.toml on every call, like the board; --set overrides (str) win.

    `version` is the CircuitPython (major, minor) whose getenv to follow.
    """

    def __init__(self, path: Path, overrides: dict[str, str], version: tuple[int, int] = (10, 2)) -> None:
        self.path = path
        self.overrides = dict(overrides)
        self.version = version
        self._reported: set[str] = set()

    def getenv(self, key: str, default: object = None) -> object:
        if key in self.overrides:
            return self.overrides[key]
        values, problems = read_settings(self.path)
        old = self.version < (10, 2)
        for name, problem in problems.items():
            if old and name == key:
                raise ValueError(problem)
            if problem not in self._reported:
                self._reported.add(problem)
                print(f"[hostsim] settings.toml {problem}; os.getenv returns the default", file=sys.stderr)
        if key not in values:
            return default
        text, quoted = values[key]
        return _bare_integer(text) if old and not quoted else text
