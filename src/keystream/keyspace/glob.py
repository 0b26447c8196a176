"""Glob-style pattern matching with Redis's semantics (util.c `stringmatchlen`).

For KEYS, SCAN/HSCAN/SSCAN/ZSCAN MATCH, PSUBSCRIBE/PUBSUB, CONFIG GET and ACL patterns.

Syntax: `*` any run of bytes, `?` one byte, `[abc]` / `[^abc]` / `[a-z]` classes (a
reversed range `[z-a]` works as `[a-z]`), `\\x` a literal x (inside classes too; a
trailing lone `\\` matches a backslash). Quirks kept on purpose, because clients see them:

- An unterminated class `[abc` matches as if closed at the end of the pattern; `[]`
  matches nothing and `[^]` any one byte.
- `*` never matches an empty subject: `stringmatch(b"*", b"")` is False (KEYS and SCAN
  special-case the pattern `*` before calling the matcher, PUBSUB does not).
- Range bounds compare as signed chars (bytes >= 0x80 are negative), as C does.
- With `nocase`, ASCII letters compare case-insensitively, except an escaped byte inside
  a class, which still compares exactly.

The matcher is iterative, not a regular expression: after a `*`, only the most recent
`*` is ever retried at a later position. That gives the answers of Redis's recursive
matcher with its "skip longer matches" cut-off, in O(len(pattern) * len(subject)) at
worst (no exponential backtracking on `a*a*a*...b`), without recursion limits.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["compile_matcher", "stringmatch"]

_STAR = 42  # *
_QMARK = 63  # ?
_LBRACKET = 91  # [
_RBRACKET = 93  # ]
_BACKSLASH = 92  # \
_CARET = 94  # ^
_DASH = 45  # -
_SPECIAL = b"*?[\\"


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def _signed(c: int) -> int:
    return c - 256 if c >= 128 else c


def _class_matches(pattern: bytes, p: int, c: int, nocase: bool) -> tuple[bool, int]:
    """Match byte c against the class whose body starts at p (just after `[`).

    Returns (matched, index of the closing `]`), or of the last pattern byte when the
    class is unterminated (the caller steps past it, which ends the pattern).
    """
    plen = len(pattern)
    negate = p < plen and pattern[p] == _CARET
    if negate:
        p += 1
    matched = False
    while True:
        if p < plen and pattern[p] == _BACKSLASH and plen - p >= 2:
            p += 1
            if pattern[p] == c:
                matched = True
        elif p < plen and pattern[p] == _RBRACKET:
            break
        elif p >= plen:
            p -= 1
            break
        elif plen - p >= 3 and pattern[p + 1] == _DASH:
            start, end, x = _signed(pattern[p]), _signed(pattern[p + 2]), _signed(c)
            if start > end:
                start, end = end, start
            if nocase:
                start, end, x = _lower(start), _lower(end), _lower(x)
            p += 2
            if start <= x <= end:
                matched = True
        elif pattern[p] == c or (nocase and _lower(pattern[p]) == _lower(c)):
            matched = True
        p += 1
    return matched != negate, p


def stringmatch(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """True if subject matches the glob pattern, as Redis's stringmatchlen decides."""
    plen, slen = len(pattern), len(subject)
    p = s = 0
    star_p = -1  # pattern index just after the last `*` met
    star_s = 0  # subject index where the text after that `*` is being tried
    while True:
        ok = True
        while p < plen and s < slen:
            c = pattern[p]
            if c == _STAR:
                while p + 1 < plen and pattern[p + 1] == _STAR:
                    p += 1
                if p == plen - 1:
                    return True
                star_p, star_s = p + 1, s
                p += 1
                continue
            if c == _LBRACKET:
                matched, p = _class_matches(pattern, p + 1, subject[s], nocase)
                if not matched:
                    ok = False
                    break
            elif c != _QMARK:
                if c == _BACKSLASH and plen - p >= 2:
                    p += 1
                    c = pattern[p]
                if c != subject[s] and not (nocase and _lower(c) == _lower(subject[s])):
                    ok = False
                    break
            s += 1
            p += 1
            if s == slen:
                while p < plen and pattern[p] == _STAR:
                    p += 1
                break
        if ok and p == plen and s == slen:
            return True
        # Retry the last `*` one byte further along the subject, while there is any left.
        if star_p < 0:
            return False
        star_s += 1
        if star_s >= slen:
            return False
        p, s = star_p, star_s


def compile_matcher(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate equivalent to `stringmatch(pattern, subject, nocase)`, with fast paths
    for patterns without wildcards and for `prefix*`."""
    if not any(ch in _SPECIAL for ch in pattern):
        if nocase:
            low = pattern.lower()
            return lambda subject: subject.lower() == low
        return pattern.__eq__
    if not nocase and len(pattern) > 1 and pattern[-1] == _STAR:
        prefix = pattern[:-1]
        if not any(ch in _SPECIAL for ch in prefix):
            return lambda subject: subject.startswith(prefix)
    return lambda subject: stringmatch(pattern, subject, nocase)
