"""Read the usual DICOM header from its bytes in one pass: the dataset pydicom's ``dcmread``
would give, without its file machinery, or None when the file is not the usual case.

The usual case is a Part 10 file (preamble and ``DICM``) whose file meta information and
dataset are explicit VR little endian (every transfer syntax but the implicit, big endian and
deflated ones), every element of a known VR and a defined length, none longer than the deferral
size, and the dataset ending at the pixel data or at the end of the bytes. That is nearly every
file a modality or an archive writes, and it costs a third to a half of what ``dcmread``
costs. Anything else (a file without a preamble, implicit VR, a sequence of undefined length, a
value cut short by the end of the bytes, bytes left over, a conversion of the file meta that
fails) gives None, and the caller parses the file with ``dcmread``, whose results (and errors)
stay the reference.

The elements are pydicom's own (``RawDataElement``, values as raw bytes) in a pydicom
``Dataset`` with the same encoding and character set, so what reads the dataset cannot tell one
reading from the other; ``tests/test_header_bytes.py`` compares both on every file it has.
"""

from __future__ import annotations

import struct
from functools import lru_cache
from typing import cast

import pydicom.uid
from pydicom.dataelem import (
    DataElement,
    RawDataElement,
    convert_raw_data_element,
    empty_value_for_VR,
)
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

__all__ = ["read_explicit_little"]

PREFIX_END = 132
"""The 128-byte preamble and ``DICM``."""
_VRS = {vr.value.encode(): vr.value for vr in VR}
"""Every VR as written, and as ``dcmread`` names it (a plain ``str``)."""
_LONG_LENGTH = frozenset(vr.value.encode() for vr in EXPLICIT_VR_LENGTH_32)
"""VRs whose length takes 4 bytes after 2 reserved ones."""
_PIXEL_DATA = frozenset((0x7FE00010, 0x7FE00009, 0x7FE00008))
"""Where ``dcmread(stop_before_pixels=True)`` stops."""
_NOT_EXPLICIT_LITTLE = frozenset(
    (
        pydicom.uid.ImplicitVRLittleEndian,
        pydicom.uid.ExplicitVRBigEndian,
        pydicom.uid.DeflatedExplicitVRLittleEndian,
        *pydicom.uid.PrivateTransferSyntaxes,
    )
)
_TRANSFER_SYNTAX = 0x00020010
REMEMBERED_BYTES = 256
"""Longest file meta value whose conversion is remembered (a UID takes 64 at most)."""
REMEMBERED_VALUES = 256
"""Conversions remembered at most: with :data:`REMEMBERED_BYTES`, they bound what the memory
holds, whatever a file's meta carries."""
_HEADER = struct.Struct("<HH2sH").unpack_from
_LONG = struct.Struct("<L").unpack_from

Elements = dict[BaseTag, RawDataElement]


class _Unusual(Exception):
    """Not the usual case: ``dcmread`` reads this file."""


def read_explicit_little(data: bytes, defer_bytes: int) -> tuple[Dataset, int] | None:
    """Return the dataset of a file's bytes up to its pixel data and the offset where reading
    stopped (where ``dcmread`` leaves the stream), or None when the file is not the usual case.
    """
    if len(data) < PREFIX_END or data[128:PREFIX_END] != b"DICM":
        return None
    try:
        meta, start = _elements(data, PREFIX_END, defer_bytes, meta=True)
        if not meta or not _explicit_little(meta):
            return None
        elements, end = _elements(data, start, defer_bytes, meta=False)
        dataset = Dataset(cast(dict[BaseTag, DataElement | RawDataElement], elements))
        # as dcmread leaves it: the character set element converted, the encoding recorded
        dataset.set_original_encoding(False, True, dataset._character_set)
    except Exception:  # _Unusual, a value cut short, or a conversion that fails (dcmread
        return None  # fails the same way, and says how)
    return dataset, end


def _explicit_little(meta: Elements) -> bool:
    """Return True when the file meta says explicit VR little endian as ``dcmread`` decides it,
    after the conversions of the file meta that ``dcmread`` makes (each may fail): its element
    of the lowest tag (the group length, when there is one) and its transfer syntax."""
    _converted(meta[min(meta)])
    syntax = meta.get(BaseTag(_TRANSFER_SYNTAX))
    if syntax is None:
        return False
    value = _converted(syntax)
    return isinstance(value, str) and value not in _NOT_EXPLICIT_LITTLE


def _converted(raw: RawDataElement) -> object:
    """Return the value pydicom converts a file meta element to; raise what pydicom raises.
    Short values are remembered (the files of a series repeat them), a long one never."""
    if raw.length > REMEMBERED_BYTES:
        return convert_raw_data_element(raw).value
    return _remembered(raw.tag, raw.VR, raw.value)


@lru_cache(maxsize=REMEMBERED_VALUES)
def _remembered(tag: BaseTag, vr: str | None, value: bytes | None) -> object:
    raw = RawDataElement(tag, vr, len(value or b""), value, 0, False, True)
    return convert_raw_data_element(raw).value


def _elements(data: bytes, position: int, defer_bytes: int, meta: bool) -> tuple[Elements, int]:
    """Return the elements from ``position`` on, and where they end: the file meta group
    (``meta``), or the dataset up to its pixel data; raise _Unusual when they are not the usual
    case."""
    elements: Elements = {}
    size = len(data)
    while position + 8 <= size:
        group, element, written, length = _HEADER(data, position)
        tag = group << 16 | element
        if meta and group != 2:
            break
        if not meta and not elements and group == 0:
            raise _Unusual  # a command set: dcmread reads it as implicit VR
        vr = _VRS.get(written)
        if vr is None:  # implicit VR (or an item) where explicit VR was said, or an odd VR
            raise _Unusual
        start = position + 8
        if written in _LONG_LENGTH:
            length = _LONG(data, start)[0]  # struct.error when cut short
            start += 4
        if not meta and tag in _PIXEL_DATA:
            return elements, position
        if length > defer_bytes:  # dcmread defers it; an undefined length is longer too
            raise _Unusual
        end = start + length
        key = BaseTag(tag)
        value = data[start:end] if length else cast(bytes | None, empty_value_for_VR(vr, raw=True))
        elements[key] = RawDataElement(key, vr, length, value, start, False, True)
        position = end
    if position > size or (not meta and position < size):
        raise _Unusual  # a value cut short by the end, or bytes left that make no element
    return elements, position
