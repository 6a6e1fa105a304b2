"""`os.getenv` as CircuitPython 10.2+ has it: values come from CIRCUITPY/settings.toml, always as str."""

from __future__ import annotations

import re
import sys
from pathlib import Path

_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_LINE = re.compile(r"^(?P<key>[A-Za-z0-9_-]+)\s*=\s*(?P<value>.*?)\s*$")
_INT = re.compile(r"^[+-]?(0|[1-9](_?[0-9])*)$")
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


def parse_value(raw: str) -> str:
    """One value as CircuitPython 10.2+ returns it: strings unquoted, integers as their decimal text."""
    if raw.startswith('"'):
        return _basic_string(raw)
    token = raw.split("#", 1)[0].strip()
    if _INT.match(token):
        return str(int(token.replace("_", "")))
    if token in ("true", "false") or re.match(r"^[+-]?[0-9_]+(\.[0-9_]+)?([eE][+-]?[0-9]+)?$", token):
        return token  # booleans and floats: newest builds only; their text either way
    raise SettingError(f"unsupported value {raw!r} (use a \"string\" or a decimal integer)")


def read_settings(path: Path) -> tuple[dict[str, str], list[str]]:
    """Root-table keys of settings.toml and readable problems ("line N: ...") for what was skipped."""
    values: dict[str, str] = {}
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return values, problems
    except (OSError, UnicodeDecodeError) as exc:
        return values, [f"cannot read {path}: {exc}"]
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("["):
            break  # CircuitPython reads the root table only
        match = _LINE.match(stripped)
        if not match:
            problems.append(f"line {number}: expected KEY = VALUE, got {stripped!r}")
            continue
        try:
            values[match["key"]] = parse_value(match["value"])
        except SettingError as exc:
            problems.append(f"line {number}: {match['key']}: {exc}")
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


class Settings:
    """Re-reads settings.toml on every call, like the board; --set overrides win."""

    def __init__(self, path: Path, overrides: dict[str, str]) -> None:
        self.path = path
        self.overrides = dict(overrides)
        self._reported: set[str] = set()

    def getenv(self, key: str, default: object = None) -> object:
        values, problems = read_settings(self.path)
        for problem in problems:
            if problem not in self._reported:
                self._reported.add(problem)
                print(f"[hostsim] settings.toml {problem}; os.getenv returns the default", file=sys.stderr)
        values.update(self.overrides)
        return values.get(key, default)
