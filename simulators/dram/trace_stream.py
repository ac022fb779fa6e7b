"""Reading trace files in chunks, in memory bounded by the chunk size rather than the file's.

:class:`TraceReader` yields a trace file's requests as :class:`TraceChunk`
arrays, a few megabytes of text at a time, in any format of
:mod:`archgym.simulators.dram.trace_formats`, plain or compressed. Lines never
straddle chunks, errors name the line in the whole file, and the cycles are
checked to be non-decreasing across chunks too.

STL text is parsed by the compiled parser of
:mod:`archgym.simulators.dram.native` where it can be built (about 60 ms per
million lines), else by numba's (:mod:`archgym.simulators.dram.stl_parser`,
as fast once numba has started), and lines either rejects by the NumPy parser
of :mod:`archgym.simulators.dram.trace`, which reports malformed lines.
"""

from __future__ import annotations

import ctypes
import gzip
import hashlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from archgym.errors import WorkloadError
from archgym.simulators.dram import native
from archgym.simulators.dram.stl_parser import parse_stl_fast
from archgym.simulators.dram.trace import Trace, _line_text, _LineError
from archgym.simulators.dram.trace_formats import (
    _EXPECTED,
    _GZIP_MAGIC,
    _PARSERS,
    _ZSTD_MAGIC,
    _check_format,
    _detect,
    _zstandard,
    trace_name,
)

__all__ = ["DEFAULT_CHUNK_BYTES", "TraceChunk", "TraceReader"]

DEFAULT_CHUNK_BYTES = 4 << 20
"""Text read per chunk: about 170,000 STL lines."""

_SHORTEST_STL_LINE = len(b"0 read 0\n")

_PARSE_WORKERS = 2
"""Blocks parsed at once, in threads, while the next is read."""

_Parsed = tuple[np.ndarray, np.ndarray, np.ndarray, int]
"""Cycles, write flags and addresses of a block of lines, and its number of newlines."""

_DETECT_BYTES = 1 << 16
"""Text inspected to detect the format (its first request line decides)."""


@dataclass(frozen=True)
class TraceChunk:
    """Consecutive requests of a trace file.

    Attributes:
        cycles: Issue cycle of each request (int64, non-decreasing).
        is_write: Whether each request writes.
        addresses: Byte address of each request (uint64).
        first_request: Index of the chunk's first request in the whole trace.
    """

    cycles: np.ndarray
    is_write: np.ndarray
    addresses: np.ndarray
    first_request: int

    def __len__(self) -> int:
        return int(self.cycles.shape[0])


def _parse_stl_native(raw: bytes | bytearray, request_bytes: int) -> _Parsed | None:
    """STL text parsed by the compiled parser, with its number of newlines; None to use another parser
    (no library, or a line it rejects)."""
    lib = native.library()
    if lib is None:
        return None
    capacity = len(raw) // _SHORTEST_STL_LINE + 1  # cheaper than counting lines, and never too small
    cycles = np.empty(capacity, dtype=np.int64)
    is_write = np.empty(capacity, dtype=np.bool_)
    addresses = np.empty(capacity, dtype=np.uint64)
    lines = ctypes.c_int64(0)
    text = np.frombuffer(raw, dtype=np.uint8)
    n = lib.parse_stl(
        text.ctypes.data, len(raw), request_bytes, cycles.ctypes.data, is_write.ctypes.data, addresses.ctypes.data,
        capacity, ctypes.addressof(lines),
    )  # fmt: skip
    if n < 0:
        return None
    # Views of the first n entries: slicing keeps the spare capacity alive until the chunk is dropped.
    return cycles[:n], is_write[:n], addresses[:n], lines.value


class TraceReader:
    """A trace file read in chunks.

    Args:
        path: The trace file: STL, DRAMsim3 or Ramulator 2 text, plain, gzip or zstd.
        format: One of :data:`~archgym.simulators.dram.trace_formats.TRACE_FORMATS`,
            or None to detect it from the first request line.
        clock_mhz: Clock at which the file's cycles are counted.
        request_bytes: Bytes moved by each request.
        chunk_bytes: Text parsed at a time (longer lines are read whole).

    Raises:
        WorkloadError: The format is unknown.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        format: str | None = None,
        clock_mhz: float = 800.0,
        request_bytes: int = 64,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.path = Path(path)
        self.format = None if format is None else _check_format(format)
        self.clock_mhz = float(clock_mhz)
        self.request_bytes = int(request_bytes)
        self.chunk_bytes = max(int(chunk_bytes), 1)
        self.name = trace_name(self.path)
        self._compression: str | None = None

    @property
    def size_bytes(self) -> int:
        """Size of the file on disk (compressed, if it is)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            raise WorkloadError(f"trace file {str(self.path)!r} does not exist") from None
        except OSError as exc:
            raise WorkloadError(f"cannot read trace file {str(self.path)!r}: {exc.strerror or exc}") from None

    def digest(self) -> str:
        """SHA-256 of the file's bytes, to key caches by content (a fraction of the time parsing takes)."""
        try:
            with self.path.open("rb") as file:
                return hashlib.file_digest(file, "sha256").hexdigest()
        except FileNotFoundError:
            raise WorkloadError(f"trace file {str(self.path)!r} does not exist") from None
        except OSError as exc:
            raise WorkloadError(f"cannot read trace file {str(self.path)!r}: {exc.strerror or exc}") from None

    def _open(self) -> tuple[IO[bytes], IO[bytes]]:
        """The decompressed text stream and the raw file under it (whose position tells the progress)."""
        try:
            raw = self.path.open("rb")
        except FileNotFoundError:
            raise WorkloadError(f"trace file {str(self.path)!r} does not exist") from None
        except OSError as exc:
            raise WorkloadError(f"cannot read trace file {str(self.path)!r}: {exc.strerror or exc}") from None
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            self._compression = "gzip"
            return gzip.GzipFile(fileobj=raw), raw
        if magic.startswith(_ZSTD_MAGIC):
            zstandard: Any = _zstandard(self.path)
            self._compression = "zstd"
            return zstandard.ZstdDecompressor().stream_reader(raw), raw
        self._compression = None
        return raw, raw

    def _read_into(self, stream: IO[bytes], buffer: memoryview) -> int:
        """Fill ``buffer`` from ``stream`` as far as the stream goes; the bytes read."""
        filled = 0
        while filled < len(buffer):
            read = self._read(stream, buffer[filled:])
            if not read:
                break
            filled += read
        return filled

    def _read(self, stream: IO[bytes], buffer: memoryview) -> int:
        try:
            return stream.readinto(buffer)  # type: ignore[attr-defined]
        except Exception as exc:  # gzip's OSError and EOFError, zstandard's ZstdError
            if self._compression is None or not isinstance(exc, (OSError, EOFError)) and (
                type(exc).__name__ != "ZstdError"
            ):
                if isinstance(exc, OSError):
                    raise WorkloadError(f"cannot read trace file {str(self.path)!r}: {exc}") from None
                raise
            raise WorkloadError(f"{self.path} is not a valid {self._compression} file: {exc}") from None

    def chunks(self, progress: Callable[[int, int], None] | None = None) -> Iterator[TraceChunk]:
        """The trace's requests, chunk by chunk.

        Args:
            progress: Called after each chunk with the bytes of the file read so
                far and the file's size (both on disk, so compressed for
                compressed files).

        Raises:
            WorkloadError: The file is missing, unreadable or badly compressed,
                holds no requests, or a line is malformed (the message names the
                file, the 1-based line number, the line and the expected format).
        """
        total = self.size_bytes
        lines_before = 0
        requests_before = 0
        last_cycle: int | None = None
        in_flight: deque[tuple[Future[_Parsed], bytearray, int]] = deque()
        # Chunks are parsed in worker threads (the compiled parser releases the GIL) while the next is read.
        with ThreadPoolExecutor(_PARSE_WORKERS) as pool:
            texts = self._texts()
            while True:
                block = next(texts, None)
                if block is not None:
                    text, position = block
                    if self.format is None:
                        self.format = self._detected(text)
                        if self.format is None:
                            # Only blank or comment lines so far: no requests, nothing to detect the format from.
                            lines_before += text.count(b"\n")
                            continue
                    in_flight.append((pool.submit(self._parse_text, text, self.format), text, position))
                    if len(in_flight) <= _PARSE_WORKERS:
                        continue
                elif not in_flight:
                    break
                chunk, lines, done = self._collect(in_flight.popleft(), lines_before, requests_before, last_cycle)
                lines_before += lines
                if len(chunk):
                    requests_before += len(chunk)
                    last_cycle = int(chunk.cycles[-1])
                    yield chunk
                if progress is not None:
                    progress(done, total)
        if progress is not None:
            progress(total, total)
        if requests_before == 0:
            raise WorkloadError(f"trace file {str(self.path)!r} holds no requests (only blank or '#' comment lines)")

    def detect(self) -> str:
        """The file's format: as given, else from its first request line (reading only as far as that line),
        the file name breaking ties; ``stl`` for a file without requests that its name does not name."""
        if self.format is None:
            with closing(self._texts()) as texts:
                for text, _ in texts:
                    self.format = self._detected(text)
                    if self.format is not None:
                        return self.format
            return _detect(b"", self.path)
        return self.format

    def _detected(self, text: bytearray) -> str | None:
        """The format from a block's first request line, or None if the block holds none."""
        if _first_request_line(text) is None:
            return None
        return _detect(bytes(text[: text.find(b"\n", _DETECT_BYTES) + 1 or len(text)]), self.path)

    def _texts(self) -> Iterator[tuple[bytearray, int]]:
        """The decompressed text in blocks of whole lines, each with the bytes of the file read by then.

        Each block is a new buffer that the file is read straight into, after the
        partial line the previous block ended with: no block is copied whole.
        """
        stream, raw = self._open()
        pending = bytearray()
        with stream, raw:
            while True:
                block = bytearray(len(pending) + self.chunk_bytes)
                block[: len(pending)] = pending
                read = self._read_into(stream, memoryview(block)[len(pending) :])
                del block[len(pending) + read :]
                if not read:
                    if block:
                        yield block, raw.tell()
                    return
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # no whole line yet
                    pending = block
                    continue
                pending = block[cut:]
                del block[cut:]
                yield block, raw.tell()

    def _parse_text(self, text: bytearray, fmt: str) -> _Parsed:
        """Cycles, write flags, addresses and newlines of a block of lines; raises :class:`_LineError`."""
        if fmt == "stl":
            compiled = _parse_stl_native(text, self.request_bytes)
            if compiled is not None:
                return compiled
            if native.library() is None:
                fast = parse_stl_fast(text, self.request_bytes)  # numba's, where no C compiler works
                if fast is not None:
                    return (*fast, text.count(b"\n"))
        return (*_PARSERS[fmt](text, self.request_bytes), text.count(b"\n"))

    def _collect(
        self,
        job: tuple[Future[_Parsed], bytearray, int],
        lines_before: int,
        requests_before: int,
        last_cycle: int | None,
    ) -> tuple[TraceChunk, int, int]:
        """A parsed block as a chunk, checked against the one before it; also its newlines and file position."""
        future, text, position = job
        fmt = self.format or "stl"
        try:
            cycles, is_write, addresses, lines = future.result()
        except _LineError as exc:
            self._fail(text, fmt, lines_before, exc.line_index, exc.problem)
        if fmt == "ramulator2":  # no timestamps: one request a cycle, counted over the whole file
            cycles = cycles + requests_before
        if last_cycle is not None and len(cycles) and cycles[0] < last_cycle:
            self._fail(
                text,
                fmt,
                lines_before,
                _first_request_line(text) or 0,
                f"cycle {cycles[0]} is earlier than the previous request's cycle {last_cycle}; "
                "cycles must be non-decreasing",
            )
        return TraceChunk(cycles, is_write, addresses, requests_before), lines, position

    def _fail(self, text: bytes, fmt: str, lines_before: int, line_index: int, problem: str) -> NoReturn:
        line = _line_text(text, line_index)
        raise WorkloadError(
            f"{self.path}:{lines_before + line_index + 1}: malformed {fmt} line {line!r}: {problem}. "
            f"Expected {_EXPECTED[fmt]}"
        )

    def read(self, progress: Callable[[int, int], None] | None = None) -> Trace:
        """The whole trace in memory (its arrays take 17 bytes a request)."""
        return self.trace(list(self.chunks(progress)))

    def trace(self, chunks: Sequence[TraceChunk]) -> Trace:
        """The trace made of these chunks of this file, joined in order."""
        return Trace(
            cycles=np.concatenate([c.cycles for c in chunks]),
            is_write=np.concatenate([c.is_write for c in chunks]),
            addresses=np.concatenate([c.addresses for c in chunks]),
            name=self.name,
            clock_mhz=self.clock_mhz,
            request_bytes=self.request_bytes,
        )


def _first_request_line(text: bytes) -> int | None:
    """Index of the first line of ``text`` that is neither blank nor a comment, or None."""
    start = index = 0
    while start < len(text):
        end = text.find(b"\n", start)
        end = len(text) if end < 0 else end
        stripped = text[start:end].strip()
        if stripped and not stripped.startswith(b"#"):
            return index
        start, index = end + 1, index + 1
    return None
