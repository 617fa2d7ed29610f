"""Split a JSON array of objects into the text of each object as the bytes arrive, so that
memory holds one object at a time however long the array (a WADO-RS metadata answer)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator

from fairdicom.dicom.limits import MAX_HEADER_BYTES
from fairdicom.errors import SourceError

__all__ = ["split_array"]

CHUNK = 64 * 1024


def split_array(chunks: Iterator[bytes], what: str) -> Iterator[str]:
    """Yield the text of each object of a JSON array as it arrives; raise SourceError when the
    array is malformed or ends early (the answer was cut off)."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")("strict")
    buffer = ""
    position = 0
    ended = False
    started = False

    def more(at_least: int) -> bool:
        nonlocal buffer, position, ended
        if ended:
            return False
        added = 0
        buffer = buffer[position:]
        position = 0
        while added < at_least:
            chunk = next(chunks, None)
            if chunk is None:
                buffer += text.decode(b"", final=True)
                ended = True
                return added > 0
            piece = text.decode(chunk)
            buffer += piece
            added += len(piece)
        return True

    try:
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                if buffer[position] == "," and not started:
                    raise SourceError(f"{what}: malformed JSON (not an array)")
                position += 1
            if position >= len(buffer):
                if not more(1):
                    raise SourceError(f"{what}: the answer was cut off (the JSON array is open)")
                continue
            char = buffer[position]
            if not started:
                if char != "[":
                    raise SourceError(f"{what}: malformed JSON (not an array)")
                started = True
                position += 1
                continue
            if char == "]":
                return
            if char != "{":
                raise SourceError(f"{what}: malformed JSON (an instance is not an object)")
            try:
                _, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if len(buffer) - position > MAX_HEADER_BYTES:
                    raise SourceError(
                        f"{what}: an instance's metadata is larger than "
                        f"{MAX_HEADER_BYTES // 2**20} MiB"
                    ) from None
                if not more(max(CHUNK, len(buffer) - position)):
                    raise SourceError(
                        f"{what}: the answer was cut off or is malformed JSON"
                    ) from None
                continue
            yield buffer[position:end]
            position = end
    except UnicodeDecodeError:
        raise SourceError(f"{what}: the answer is not UTF-8 text") from None
