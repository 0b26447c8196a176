"""A byte range of a segment file, to be sent without passing through Python (sendfile).

`FileSlice` holds its own duplicate of the segment's descriptor, so the range stays readable
whatever happens to the segment before it is sent: retention deleting the file, the cleaner
swapping in a compacted one, the partition being deleted (an unlinked file stays readable
through an open descriptor, and the bytes of a segment below its end never change). The
duplicate is closed once the range is sent, or when the slice is dropped unsent.

It is a buffer-like item in a response's buffer list: `len()` is its byte count. Whoever
writes the response either hands (fd, position, length) to os.sendfile and calls `advance`
with what the kernel took, or calls `read()` to copy the bytes (where no socket is at hand).
Deliberately not here: any reading of the bytes' contents (the reader builds slices from the
batch headers and indexes only).
"""

from __future__ import annotations

import os

__all__ = ["FileSlice"]


class FileSlice:
    __slots__ = ("fd", "length", "position")

    def __init__(self, fd: int, position: int, length: int) -> None:
        self.fd = -1                  # set first: __del__ runs even when dup fails (EMFILE)
        self.position = position
        self.length = length
        self.fd = os.dup(fd)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return f"FileSlice(fd={self.fd}, position={self.position}, length={self.length})"

    def advance(self, n: int) -> None:
        """n bytes of the front were sent."""
        self.position += n
        self.length -= n

    def read(self) -> bytes:
        """The remaining bytes, copied (the fallback where sendfile cannot be used)."""
        out = []
        pos, left = self.position, self.length
        while left > 0:
            chunk = os.pread(self.fd, left, pos)
            if not chunk:
                raise OSError(f"segment file ended {left} bytes before the slice's end")
            out.append(chunk)
            pos += len(chunk)
            left -= len(chunk)
        return b"".join(out)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        self.close()
