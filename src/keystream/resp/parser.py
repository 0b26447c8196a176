"""Sans-I/O RESP request parser.

Design notes
------------
Goal: turn the bytes a client sends into complete commands (lists of bytes), with Redis's
exact protocol-error texts, in O(bytes read), and fast on the hot path.

Plan: two parsers behind one `feed(data) -> list[list[bytes]]` method.

* Fast path: when nothing is buffered and a read starts with `*`, `_parse_whole` reads it
  as whole multibulk commands of bulk strings with canonical lengths (digits, no sign, no
  leading zero), within the limits. This is the common case: a client (or a pipeline)
  writes whole commands and they arrive whole. It is a byte loop that mypyc compiles to
  C (hot path), with no method call, regex or scan of the values per read.
* Exact path: anything else (a command split across reads, inline commands, bad frames,
  huge declared lengths, any doubt) is parsed by `_parse_buffer`, written here after Redis's
  `processMultibulkBuffer`/`processInlineBuffer`. It keeps what is incomplete and remembers
  how many bytes a pending bulk needs, so a 100 MB value arriving in 64 KB reads is not
  re-scanned on every read.

Warnings: the fast path only accepts what the exact path accepts the same way; on any doubt
it gives the read to the exact path, which alone decides what is an error. A protocol
error is returned after the commands that preceded it in the same read, as Redis does.
"""

from __future__ import annotations

from keystream.resp.errors import ProtocolError, expected_bulk

__all__ = ["RequestParser", "split_inline"]

INLINE_MAX = 64 * 1024  # PROTO_INLINE_MAX_SIZE
MBULK_BIG_ARG = 32 * 1024
INT_MAX = 2**31 - 1
# The fast path leaves bigger multibulk counts to the exact path (which never allocates
# for a count before the elements arrive).
FAST_MAX_COUNT = 999_999


class RequestParser:
    """Accumulates client bytes and yields complete commands.

    `feed()` returns the commands completed by this read. If the input is malformed, the
    commands before the bad frame are returned and `error` holds the ProtocolError text;
    the connection must then be closed after replying.
    """

    __slots__ = ("_buf", "_need", "authenticated", "error", "max_bulk_len", "max_query_buf")

    def __init__(self, max_bulk_len: int = 512 * 1024 * 1024, max_query_buf: int = 1024**3) -> None:
        self._buf = bytearray()
        self._need = 0  # bytes the buffered partial command needs before re-parsing is useful
        self.error: str | None = None
        self.max_bulk_len = max_bulk_len
        self.max_query_buf = max_query_buf
        self.authenticated = True

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[list[bytes]]:
        if not self._buf:
            cmds = _parse_whole(data, self.max_bulk_len, self.authenticated)
            if cmds is not None:
                return cmds
        buf = self._buf
        buf += data
        if len(buf) < self._need:
            if len(buf) > self.max_query_buf:
                self.error = "Protocol error: query buffer limit exceeded"
                buf.clear()
            return []
        out: list[list[bytes]] = []
        try:
            pos, need = _parse_buffer(buf, out, self.max_bulk_len, self.authenticated)
        except ProtocolError as e:
            self.error = str(e)
            buf.clear()
            self._need = 0
            return out
        del buf[:pos]
        self._need = need
        if len(buf) > self.max_query_buf:
            self.error = "Protocol error: query buffer limit exceeded"
            buf.clear()
        return out


def _parse_whole(data: bytes, max_bulk: int, authed: bool) -> list[list[bytes]] | None:
    """The commands of a read made only of whole multibulk commands whose elements are bulk
    strings with canonical lengths, within the limits; None for anything else (a partial
    command included), which the exact path then parses from the start of the read."""
    n = len(data)
    out: list[list[bytes]] = []
    pos = 0
    while pos < n:
        if data[pos] != 42:  # '*'
            return None
        count, pos = _length(data, pos + 1, n)
        if count <= 0 or count > FAST_MAX_COUNT or (not authed and count > 10):
            return None
        args: list[bytes] = []
        for _ in range(count):
            if pos >= n or data[pos] != 36:  # '$'
                return None
            ln, pos = _length(data, pos + 1, n)
            if ln < 0 or ln > max_bulk or (not authed and ln > 16384):
                return None
            end = pos + ln
            if end + 2 > n:
                return None
            args.append(data[pos:end])
            pos = end + 2  # (the two bytes after a bulk are skipped unread, as Redis does)
        out.append(args)
    return out


def _length(data: bytes, pos: int, n: int) -> tuple[int, int]:
    """The canonical decimal at pos ended by CRLF, and the position after it; -1 if there is
    none (a sign, a leading zero, another byte, too many digits, or the end of the read)."""
    value = 0
    i = pos
    while i < n:
        c = data[i]
        if c == 13:  # '\r'
            if i == pos or i + 1 >= n or data[i + 1] != 10 or (data[pos] == 48 and i > pos + 1):
                return -1, i
            return value, i + 2
        if c < 48 or c > 57 or i - pos >= 10:
            return -1, i
        value = value * 10 + (c - 48)
        i += 1
    return -1, i


def _parse_buffer(buf: bytearray, out: list[list[bytes]], max_bulk: int, authed: bool) -> tuple[int, int]:
    """Parse complete commands from buf into out. Returns (bytes consumed, bytes needed).

    Raises ProtocolError with Redis's text for malformed input (after filling `out` with
    the commands that came before it).
    """
    n = len(buf)
    pos = 0
    find = buf.find
    while pos < n:
        if buf[pos] != 42:  # not '*': inline command
            nl = find(b"\n", pos)
            if nl < 0:
                if n - pos > INLINE_MAX:
                    raise ProtocolError("Protocol error: too big inline request")
                return pos, 0
            line = bytes(buf[pos:nl])
            if line.endswith(b"\r"):
                line = line[:-1]
            pos = nl + 1
            args = split_inline(line)
            if args is None:
                raise ProtocolError("Protocol error: unbalanced quotes in request")
            if args:
                out.append(args)
            continue
        nl = find(b"\r\n", pos)
        if nl < 0:
            if n - pos > INLINE_MAX:
                raise ProtocolError("Protocol error: too big mbulk count string")
            return pos, 0
        try:
            count = int(buf[pos + 1:nl])
        except ValueError:
            raise ProtocolError("Protocol error: invalid multibulk length") from None
        if count > INT_MAX:
            raise ProtocolError("Protocol error: invalid multibulk length")
        if not authed and count > 10:
            raise ProtocolError("Protocol error: unauthenticated multibulk length")
        p = nl + 2
        if count <= 0:
            pos = p
            continue
        args = []
        for _ in range(count):
            if p >= n:
                return pos, 0
            if buf[p] != 36:  # '$'
                nl = find(b"\r\n", p)
                if nl < 0 and n - p <= INLINE_MAX:
                    return pos, 0
                raise ProtocolError(expected_bulk(buf[p]))
            nl = find(b"\r\n", p)
            if nl < 0:
                if n - p > INLINE_MAX:
                    raise ProtocolError("Protocol error: too big bulk count string")
                return pos, 0
            try:
                ln = int(buf[p + 1:nl])
            except ValueError:
                raise ProtocolError("Protocol error: invalid bulk length") from None
            if ln < 0 or ln > max_bulk:
                raise ProtocolError("Protocol error: invalid bulk length")
            if not authed and ln > 16384:
                raise ProtocolError("Protocol error: unauthenticated bulk length")
            start = nl + 2
            end = start + ln
            if end + 2 > n:
                return pos, end + 2 - pos
            args.append(bytes(buf[start:end]))
            p = end + 2
        out.append(args)
        pos = p
    return pos, 0


_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = b"0123456789abcdefABCDEF"


def split_inline(line: bytes) -> list[bytes] | None:
    """Split an inline command line like Redis's sdssplitargs; None on unbalanced quotes."""
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \n\r\t\v\f\x00":
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        inq = insq = False
        while True:
            if inq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 3 < n and line[i + 1] == ord("x") and line[i + 2] in _HEX and line[i + 3] in _HEX:
                    cur.append(int(line[i + 2:i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f\x00":
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            elif insq:
                if i >= n:
                    return None
                c = line[i]
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    cur.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in b" \n\r\t\v\f\x00":
                        return None
                    i += 1
                    break
                else:
                    cur.append(c)
            else:
                if i >= n:
                    break
                c = line[i]
                if c in b" \n\r\t\x00":  # unlike the blanks skipped between words: no \v, \f
                    break
                if c == 34:
                    inq = True
                elif c == 39:
                    insq = True
                else:
                    cur.append(c)
            i += 1
        args.append(bytes(cur))
