"""What every style format shares on the way in: names made into entry keys, A1111 text
(``{prompt}``, weights, LoRA tags) made into catalog text, and the catalog put together.

Pure: text in, (entries, warnings) out; nothing is read, written or printed here.
"""
from __future__ import annotations

import re
import unicodedata

from ..catalog import KEY_RE, MAX_TEXT

MAX_ENTRIES = 20_000   # entries one import may make
MAX_KEY = 64           # characters of a made-up entry key
PLACE = "\x00subject\x00"  # where `{prompt}` stood, while the text is worked on
SUBJECT = "{{ subject }}"
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")
_EXTRA = re.compile(r"<(?:lora|lyco|hypernet):[^<>]*>", re.IGNORECASE)
_PROMPT = re.compile(r"\{prompt\}")
MAX_NESTING = 32  # brackets within brackets; deeper ones are text (and the work stays linear)
_OPENS = {")": "(", "]": "["}
_SPACES = re.compile(r"\s+")
_COMMAS = re.compile(r",(?:\s*,)+")  # an empty item left where a LoRA tag was
_PREFIX = re.compile(r"^\s*(?:\[([^\]]{1,30})\]|([^:/\-]{1,30}?)\s*(?::|/|\s-\s|-(?=\S)))\s*(?=\S)")


def identifier(name: str, fallback: str = "style") -> str:
    """``"Cinematic Photo (v2)"`` -> ``cinematic_photo_v2``: ASCII letters, digits and ``_``,
    lower case, never only digits, at most :data:`MAX_KEY` characters."""
    ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    key = _NOT_WORD.sub("_", ascii_).strip("_").lower()[:MAX_KEY].strip("_")
    if not key:
        return fallback
    if not KEY_RE.match(key):  # only digits
        key = f"{fallback}_{key}"[:MAX_KEY]
    return key


def tags_of(name: str) -> list[str]:
    """A category a name starts with, as a tag: ``sai-anime`` -> ``sai``, ``Fooocus Sharp`` ->
    ``fooocus``, ``Artist: Monet`` -> ``artist``, ``[Photo] Film`` -> ``photo``."""
    if name.lower().startswith("fooocus "):
        return ["fooocus"]
    m = _PREFIX.match(name)
    if not m:
        return []
    tag = identifier(m.group(1) or m.group(2) or "", fallback="")
    return [tag] if tag and tag != identifier(name) else []


def parse_weights(text: str) -> tuple[list[tuple[str, float]], list[str]]:
    """A1111 attention syntax -> [(text, weight)], and the problems found.

    ``(a)`` multiplies by 1.1, ``[a]`` divides by 1.1, ``(a:1.3)`` sets 1.3 (as the webui
    does, nested groups multiply); ``\\(`` is a plain bracket; an unclosed group runs to the
    end, a stray closing bracket is kept as text."""
    out: list[tuple[str, float]] = []
    stack: list[tuple[str, int]] = []  # (bracket, index in out where the group starts)
    problems: list[str] = []
    buf: list[str] = []

    def flush():
        if buf:
            out.append(("".join(buf), 1.0))
            buf.clear()

    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            buf.append(text[i + 1])
            i += 2
            continue
        if ch in "([" and len(stack) < MAX_NESTING:
            flush()
            stack.append((ch, len(out)))
        elif ch in ")]" and stack and stack[-1][0] == _OPENS[ch]:
            flush()
            bracket, start = stack.pop()
            factor = 1.1 if bracket == "(" else 1 / 1.1
            if bracket == "(" and start < len(out):
                head, _, tail = out[-1][0].rpartition(":")
                try:
                    value = float(tail)
                except ValueError:
                    value = None
                if head and value is not None and value == value and abs(value) < 100:
                    out[-1] = (head, out[-1][1])
                    factor = value
            out[start:] = [(t, w * factor) for t, w in out[start:]]
        else:
            if ch in ")]":
                problems.append(f"a stray `{ch}` kept as text")
            buf.append(ch)
        i += 1
    flush()
    for bracket, start in stack:  # closed at the end
        out[start:] = [(t, w * (1.1 if bracket == "(" else 1 / 1.1)) for t, w in out[start:]]
    if stack:
        problems.append("a bracket left open (closed at the end, as the webui does)")
    return [(t, round(w, 4)) for t, w in out if t], problems


def convert(text: str, *, placeholder: bool) -> tuple[str, float, list[str], str]:
    """A1111-style text -> (catalog text, one weight for the whole entry, warnings, a note of
    the weights that could not be carried). ``placeholder``: ``{prompt}`` places the subject
    (in a negative it is dropped: a prompt's negatives are always added)."""
    warnings: list[str] = []
    text = text.replace("\x00", "")
    if _EXTRA.search(text):
        found = ", ".join(dict.fromkeys(m.group(0) for m in _EXTRA.finditer(text)))
        warnings.append(f"{found}: LoRA and hypernetwork tags cannot be carried (a catalog holds text); dropped")
        text = _EXTRA.sub(" ", text)
    text = _PROMPT.sub(PLACE if placeholder else " ", text)
    if "{" in text or "}" in text:
        warnings.append("`{`/`}` (dynamic-prompt variants or templates) cannot be carried until promptlang has "
                        "variations (issue 10); the braces were dropped and the words kept")
        text = text.replace("{", " ").replace("}", " ")
    parts, problems = parse_weights(text)
    warnings.extend(dict.fromkeys(problems))
    plain = "".join(t for t, _ in parts)
    weighted = [(t.strip(), w) for t, w in parts if w != 1.0 and t.strip(" ,")]
    weight, note = 1.0, ""
    if weighted:
        solid = [t for t, w in parts if w == 1.0 and t.strip(" ,\n\t")]
        same = {w for _, w in weighted}
        if not solid and len(same) == 1 and PLACE not in plain:
            weight = same.pop()  # the whole text had one weight: the entry's weight says it exactly
        else:
            note = "; ".join(f"({t.replace(PLACE, '{prompt}')}:{w:g})" for t, w in weighted[:20])
            warnings.append(f"weights on parts of the text cannot be carried (an entry has one weight): {note}; "
                            "written as plain text")
    plain = _SPACES.sub(" ", plain)
    plain = _COMMAS.sub(",", plain).strip(" ,")
    return plain.replace(PLACE, SUBJECT), weight, warnings, note


class Builder:
    """Entries collected from rows, with unique keys and the warnings, as a catalog dict."""

    def __init__(self):
        self.sections: dict[str, dict] = {"format": {}, "style": {}, "quality": {}, "negative": {}}
        self.warnings: list[str] = []
        self._names: dict[str, str] = {}  # key -> where it was first seen
        self._seen: dict[tuple, str] = {}  # (name, text, negative) -> where
        self.wildcards: dict[str, list] = {}  # `colors/warm` -> its values (a catalog's `wildcards:`)

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: warning: {message}")

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.sections.values()) + sum(len(v) for v in self.wildcards.values())

    def add(self, where: str, name: str, prompt: str, negative: str, *, tags=(), description: str = "",
            section: str | None = None, key: str | None = None) -> str | None:
        """Add one style; return its key, or None (with a warning) when it cannot be imported."""
        name = (name or "").strip()
        prompt, negative = prompt or "", negative or ""
        if not name:
            self.warn(where, "no name; skipped")
            return None
        if self.count >= MAX_ENTRIES:
            self.warn(where, f"more than {MAX_ENTRIES:,} entries; the rest were skipped")
            return None
        label = f"`{name[:60]}`"
        if len(prompt) > 4 * MAX_TEXT or len(negative) > 4 * MAX_TEXT:
            self.warn(where, f"{label}: longer than {MAX_TEXT:,} characters (a catalog's limit); skipped")
            return None
        text, weight, notes, lost = convert(prompt, placeholder=True)
        neg, _, neg_notes, _ = convert(negative, placeholder=False)
        for note in notes:
            self.warn(where, f"{label}: {note}")
        for note in neg_notes:
            self.warn(where, f"{label} (negative): {note}")
        if not text and not neg:
            self.warn(where, f"{label}: empty prompt and negative; skipped")
            return None
        if section is None:
            section = "negative" if not text else "format" if SUBJECT in text else "style"
        if section == "negative" and not text:
            text, neg = neg, ""
        if len(text) > MAX_TEXT or len(neg) > MAX_TEXT:
            self.warn(where, f"{label}: longer than {MAX_TEXT:,} characters (a catalog's limit); skipped")
            return None
        signature = (name, text, neg, weight)
        if signature in self._seen:
            self.warn(where, f"{label}: the same style again (first at {self._seen[signature]}); skipped")
            return None
        self._seen[signature] = where
        base = key or identifier(name)
        key, i = base, 1
        while key in self._names:
            i += 1
            key = f"{base[:MAX_KEY - len(str(i)) - 1]}_{i}"
        if key != base:
            self.warn(where, f"{label}: the name `{base}` is taken (at {self._names[base]}); imported as `{key}`")
        self._names[key] = where
        entry: dict = {"text": text}
        if neg:
            entry["negative"] = neg
        if weight != 1.0:
            entry["weight"] = weight
        tags = list(dict.fromkeys([*tags, *tags_of(name)]))
        if tags:
            entry["tags"] = tags
        if lost:
            description = f"{description}; " if description else ""
            description += f"A1111 weights not carried: {lost}"
        if name != key and not description:
            description = name
        if description:
            entry["description"] = description[:MAX_TEXT]
        self.sections[section][key] = entry
        return key

    def catalog(self, name: str, description: str) -> dict:
        data: dict = {"name": name, "version": "1.0.0", "description": description}
        data.update({s: e for s, e in self.sections.items() if e})
        if self.wildcards:
            data["wildcards"] = self.nested_wildcards()
        return data

    def nested_wildcards(self) -> dict:
        """``colors/warm`` -> ``{colors: {warm: [...]}}``; a name that is both a wildcard and a
        folder of wildcards keeps the folder (with a warning)."""
        out: dict = {}
        for name, values in self.wildcards.items():
            *folders, last = name.split("/")
            level, ok = out, True
            for folder in folders:
                if not isinstance(level.setdefault(folder, {}), dict):
                    ok = False
                    break
                level = level[folder]
            if not ok or isinstance(level.get(last), dict):
                self.warn(name, f"`__{name}__` is also a folder of wildcards; skipped")
                continue
            level[last] = list(values)
        return out


def to_yaml(data: dict) -> bytes:
    """A catalog dict as YAML (``yaml.safe_dump``: plain data, string keys)."""
    import yaml

    from ..catalog import MAX_FILE
    from ..errors import PromptError

    out = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10_000,
                         default_flow_style=False).encode("utf-8")
    if len(out) > MAX_FILE:
        raise PromptError(f"the catalog would be {len(out):,} bytes, more than a catalog may be ({MAX_FILE:,})",
                          hint="import a smaller file, or split it")
    return out
