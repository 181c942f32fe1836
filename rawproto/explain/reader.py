"""The byte reader our explain-decoders are written against.

A learner finds here the one trick that lets a parser read like the RFC's
diagram: the parser is a *generator*. When it needs bytes it writes

    data = yield from reader.read_exact(2)

and, if the bytes have not arrived yet, the generator simply pauses (it
``yield``\\ s) until the driver feeds more and resumes it. The same code then
works whether the bytes come all at once, several frames per chunk, or one
byte at a time. This is the style of the ``websockets`` library's
``StreamReader``; h11 and wsproto do the same job with callbacks and a
commit/rollback buffer.

The reader also remembers *what* it is waiting for, so a driver can say
"needs 3 more bytes" for a frame that was cut in two.
"""

from __future__ import annotations

from collections.abc import Generator


class Truncated(Exception):
    """The input ended in the middle of something: ``needs N more bytes``."""

    def __init__(self, missing: int, what: str, exact: bool) -> None:
        self.missing = missing
        self.what = what
        self.exact = exact
        super().__init__(needs_text(missing, what, exact))


def needs_text(missing: int, what: str, exact: bool) -> str:
    """``needs 3 more bytes`` (or ``needs at least 1 more byte (header)``)."""
    plural = "" if missing == 1 else "s"
    if exact:
        return f"needs {missing} more byte{plural}"
    return f"needs at least {missing} more byte{plural} ({what})"


class StreamReader:
    """A growing buffer that parser generators read from.

    ``position`` counts every byte handed out since the reader was made, so a
    parser can note the offset of each field it reads.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()  # bytes fed but not yet read by the parser
        self.position = 0  # offset of buffer[0] in the whole stream
        self.eof = False  # True once the driver said no more bytes will come
        # What the parser is waiting for right now (for "needs N more bytes").
        self.missing = 0
        self.what = ""
        self.exact = True

    def feed_data(self, data: bytes) -> None:
        """Append bytes that arrived."""
        self.buffer += data

    def feed_eof(self) -> None:
        """No more bytes will arrive."""
        self.eof = True

    def _wait(self, missing: int, what: str, exact: bool) -> Generator[None, None, None]:
        if self.eof:
            raise Truncated(missing, what, exact)
        self.missing, self.what, self.exact = missing, what, exact
        yield
        self.missing = 0

    def _take(self, n: int) -> bytes:
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        self.position += n
        return data

    def read_exact(
        self, n: int, what: str = "bytes", *, last: bool = True
    ) -> Generator[None, None, bytes]:
        """Read exactly ``n`` bytes, pausing until they are there.

        ``what`` names the field for messages; ``last`` says whether these are
        the final bytes of the unit being parsed (so the count is exact).
        """
        while len(self.buffer) < n:
            yield from self._wait(n - len(self.buffer), what, last)
        return self._take(n)

    def read_until(
        self, separator: bytes, limit: int, what: str = "line"
    ) -> Generator[None, None, bytes]:
        """Read up to and including ``separator``; ``ValueError`` past ``limit``."""
        while (end := self.buffer.find(separator)) < 0:
            if len(self.buffer) > limit:
                raise ValueError(f"{what} longer than {limit} bytes")
            yield from self._wait(1, what, False)
        if end + len(separator) > limit:
            raise ValueError(f"{what} longer than {limit} bytes")
        return self._take(end + len(separator))

    def read_to_eof(self) -> Generator[None, None, bytes]:
        """Read everything until the driver calls :meth:`feed_eof`."""
        while not self.eof:
            self.missing, self.what, self.exact = 0, "end of stream", False
            yield
        self.missing = 0
        return self._take(len(self.buffer))

    def read_available(self) -> bytes:
        """Take whatever is buffered now (used to hand leftovers on)."""
        return self._take(len(self.buffer))

    def read_some(self, n: int, what: str = "bytes") -> Generator[None, None, bytes]:
        """Read between 1 and ``n`` bytes: whatever has arrived, up to ``n``.

        Returns ``b""`` only when the stream has ended.
        """
        while not self.buffer:
            if self.eof:
                return b""
            yield from self._wait(n, what, True)
        return self._take(min(n, len(self.buffer)))
