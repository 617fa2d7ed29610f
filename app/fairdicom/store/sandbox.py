"""Forbid network sockets in a query worker process (Linux seccomp), as a second barrier.

SPARQL ``SERVICE`` and ``LOAD`` make the engine open HTTP connections. The query service
refuses them lexically before a query reaches a worker; when no endpoint is allow-listed the
worker also installs this filter, so that even a query that fooled the lexical check cannot
open an IPv4 or IPv6 socket (DNS lookups included). Pipes and Unix sockets keep working.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_AF_INET, _AF_INET6 = 2, 10
_X32_BIT = 0x40000000

_ARCHES = {
    # machine: (AUDIT_ARCH_*, socket syscall number)
    "x86_64": (0xC000003E, 41),
    "aarch64": (0xC00000B7, 198),
}


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _op(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _program(arch: int, socket_nr: int) -> bytes:
    deny = _RET_ERRNO | errno.EACCES
    return b"".join(
        [
            _op(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
            _op(_JEQ_K, 1, 0, arch),
            _op(_RET_K, 0, 0, deny),  # another ABI than the one we checked: refuse
            _op(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
            _op(_JGE_K, 0, 1, _X32_BIT),
            _op(_RET_K, 0, 0, deny),  # x32 system calls: refuse
            _op(_JEQ_K, 0, 4, socket_nr),
            _op(_LD_W_ABS, 0, 0, 16),  # seccomp_data.args[0] (low word): the domain
            _op(_JEQ_K, 1, 0, _AF_INET),
            _op(_JEQ_K, 0, 1, _AF_INET6),
            _op(_RET_K, 0, 0, deny),
            _op(_RET_K, 0, 0, _RET_ALLOW),
        ]
    )


def forbid_network() -> bool:
    """Make every later IPv4/IPv6 socket() of this process fail; return whether it worked."""
    known = _ARCHES.get(platform.machine())
    if known is None or platform.system() != "Linux":
        return False
    program = _program(*known)
    buffer = ctypes.create_string_buffer(program)
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return bool(libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0)
