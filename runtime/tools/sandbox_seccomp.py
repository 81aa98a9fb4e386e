"""A seccomp filter for the sandbox, written as classic BPF so no library is needed.

`seccomp_program(allow_fork=...)` returns the raw `struct sock_filter` array that bubblewrap
loads with `--seccomp FD` just before it runs the sandboxed interpreter (bubblewrap sets
`no_new_privs` first). The filter is a deny list on top of the namespaces: it refuses the
system calls that reach kernel surfaces a sandboxed program never needs and that have a
history of privilege escalations or that would let it leave its namespaces:

- debugging and cross-process memory (`ptrace`, `process_vm_readv/writev`, `pidfd_getfd`,
  `kcmp`), namespaces and mounts (`unshare`, `setns`, `mount`, the new mount API, `pivot_root`,
  `chroot`, any `clone` with a `CLONE_NEW*` flag), kernel modules and kexec, `bpf`,
  `perf_event_open`, `userfaultfd`, `io_uring_*`, keyrings, clocks, swap, reboot, `syslog`,
  `personality`, `open_by_handle_at` (the classic container escape) and port I/O.
- `clone3` answers ENOSYS (its flags live in memory a filter cannot read), so libc falls back
  to `clone`, whose flags the filter checks.
- with `allow_fork=False`, `fork`, `vfork` and a `clone` without `CLONE_THREAD` fail with EPERM
  (threads still work).
- no signal-sending call may send SIGXCPU, so the parent can trust that a program killed by
  SIGXCPU hit its CPU limit.

Anything else from another ABI on the same machine (x32 numbers, a foreign architecture)
kills the process. Only x86-64 has a table here; elsewhere `seccomp_program` returns None and
the sandbox reports that this layer is absent.
"""

from __future__ import annotations

import errno
import platform
import struct

# BPF opcodes (linux/filter.h) and seccomp return values (linux/seccomp.h).
LOAD_WORD_ABSOLUTE = 0x20
JUMP_EQUAL = 0x15
JUMP_GREATER_EQUAL = 0x35
JUMP_SET = 0x45
RETURN = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
# Offsets into struct seccomp_data: nr, arch, then args[] (64-bit each, little endian).
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0_LOW = 0, 4, 16

CLONE_THREAD = 0x00010000
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
CLONE_NAMESPACES = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
                    | 0x20000000 | 0x40000000 | 0x00000080)

# x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
X86_64_DENIED = {
    "ptrace": 101, "syslog": 103, "personality": 135, "vhangup": 153, "pivot_root": 155,
    "adjtimex": 159, "chroot": 161, "acct": 163, "settimeofday": 164, "mount": 165,
    "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172, "ioperm": 173,
    "init_module": 175, "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212,
    "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
    "unshare": 272, "perf_event_open": 298, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_getfd": 438, "mount_setattr": 442,
}
X86_64_CLONE, X86_64_FORK, X86_64_VFORK, X86_64_CLONE3 = 56, 57, 58, 435
# Signal-sending calls and the index of their signal argument: sending SIGXCPU is refused, so
# a program killed by SIGXCPU was killed by the kernel's CPU limit, not by itself.
X86_64_SIGNAL_SENDERS = {62: 1, 200: 1, 234: 2, 129: 1, 297: 2, 424: 1}
SIGXCPU = 24


def _op(code: int, k: int, jump_true: int = 0, jump_false: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jump_true, jump_false, k)


def seccomp_program(*, allow_fork: bool) -> bytes | None:
    """The filter for this machine's architecture, or None when there is no table for it."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    deny = RET_ERRNO | errno.EPERM
    body: list[bytes] = [
        _op(LOAD_WORD_ABSOLUTE, OFFSET_ARCH),
        _op(JUMP_EQUAL, AUDIT_ARCH_X86_64, 1, 0),
        _op(RETURN, RET_KILL_PROCESS),
        _op(LOAD_WORD_ABSOLUTE, OFFSET_NR),
        _op(JUMP_GREATER_EQUAL, X32_SYSCALL_BIT, 0, 1),
        _op(RETURN, RET_KILL_PROCESS),
        _op(JUMP_EQUAL, X86_64_CLONE3, 0, 1),
        _op(RETURN, RET_ERRNO | errno.ENOSYS),
    ]
    refused = sorted(X86_64_DENIED.values())
    if not allow_fork:
        refused += [X86_64_FORK, X86_64_VFORK]
    for number in refused:
        body += [_op(JUMP_EQUAL, number, 0, 1), _op(RETURN, deny)]
    for number, index in X86_64_SIGNAL_SENDERS.items():
        body += [
            _op(JUMP_EQUAL, number, 0, 4),
            _op(LOAD_WORD_ABSOLUTE, OFFSET_ARG0_LOW + 8 * index),
            _op(JUMP_EQUAL, SIGXCPU, 0, 1),
            _op(RETURN, deny),
            _op(RETURN, RET_ALLOW),
        ]
    # clone: refuse new namespaces always, and a new process (no CLONE_THREAD) without forks.
    body += [
        _op(JUMP_EQUAL, X86_64_CLONE, 0, 3 if allow_fork else 5),
        _op(LOAD_WORD_ABSOLUTE, OFFSET_ARG0_LOW),
        _op(JUMP_SET, CLONE_NAMESPACES, 0, 1),
        _op(RETURN, deny),
    ]
    if not allow_fork:
        body += [_op(JUMP_SET, CLONE_THREAD, 1, 0), _op(RETURN, deny)]
    body.append(_op(RETURN, RET_ALLOW))
    return b"".join(body)
