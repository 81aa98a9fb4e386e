"""The child side of the sandbox: drop privileges, set the limits, then run the user's code.

This file is executed by path as `python -I -S -B sandbox_bootstrap.py CONFIG_JSON`, never
imported by the runtime, so it uses the standard library only. `-I` drops PYTHON* variables,
the user site and the script directory from `sys.path` (the user's code cannot import the
project); `-S` skips `site`, so no site-packages are visible; `-B` writes no `.pyc`.

Normally it runs inside bubblewrap (`sandbox_isolation.py`): the kernel's namespaces, the
seccomp filter and the read-only file system are the security boundary. Order matters here:

1. when the parent is root it maps uid 0 and 65534 into the user namespace and leaves this
   process CAP_SETUID/CAP_SETGID only: drop every supplementary group and become 65534, which
   clears the last capabilities (no_new_privs is already set, so nothing can give them back);
2. rlimits (kernel): CPU seconds (SIGXCPU, then SIGKILL one second later), address space
   (MemoryError), file size (EFBIG; SIGXFSZ is ignored so writes fail instead of killing),
   no core dumps, and RLIMIT_NPROC (0 when no fork is allowed);
3. audit hook (interpreter): refuses sockets of the internet families, process creation beyond
   the fork budget, exec/spawn/system, writes outside the working directory, changing rlimits
   and loading native code through ctypes. It gives clear messages and is defence in depth;
   it is not a security boundary (in the explicitly unsafe mode it is all there is).

There is no status channel from this process: the parent decides isolation, time, CPU and
output limits from what it launched, its own clocks, the exit status and the resource usage the
kernel reports. Only the "memory" label is read from the code's own stderr (a MemoryError
traceback), so a program can at most make its own failure look like an out-of-memory one.
"""

import json
import os
import signal
import sys
import traceback

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PATH_EVENTS = {
    "os.remove": 1,
    "os.rmdir": 1,
    "os.mkdir": 1,
    "os.truncate": 1,
    "os.chmod": 1,
    "os.chown": 1,
    "os.utime": 1,
    "shutil.rmtree": 1,
    "os.rename": 2,
    "os.link": 2,
    "os.symlink": 2,
}
PROCESS_EVENTS = ("os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen",
                  "pty.spawn", "os.forkpty")
INET_FAMILIES = (2, 10)  # AF_INET, AF_INET6


def drop_privileges(uid: int | None) -> None:
    """Become `uid` with no supplementary groups (root parent only; see the module docstring)."""
    if uid is None:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise SystemExit("sandbox: could not drop privileges")


def set_limits(config: dict) -> None:  # type: ignore[type-arg]
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cpu = int(config["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    memory = int(config["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = int(config["file_size_bytes"])
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    processes = int(config["max_processes"])
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if hard != resource.RLIM_INFINITY:
        processes = min(processes, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def make_audit_hook(root: str, max_forks: int):  # type: ignore[no-untyped-def]
    """The hook that refuses what the sandbox forbids, raising PermissionError in user code."""
    root = os.path.realpath(root)
    forks_left = [max_forks]
    allowed_files = {"/dev/null"}

    def inside(path: object) -> bool:
        if isinstance(path, int):
            return True  # an already-open descriptor: checked when it was opened
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        if not isinstance(path, str):
            return False
        real = os.path.realpath(path)
        return real in allowed_files or real == root or real.startswith(root + os.sep)

    def hook(event: str, args: tuple) -> None:  # type: ignore[type-arg]
        if event == "open":
            path, mode, flags = args
            writing = (
                any(c in mode for c in "wax+") if isinstance(mode, str)
                else bool(flags & WRITE_FLAGS)
            )
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing outside the sandbox directory: {path!r}")
        elif event in PATH_EVENTS:
            for path in args[: PATH_EVENTS[event]]:
                if not inside(path):
                    raise PermissionError(f"sandbox: {event} outside the sandbox directory")
        elif event == "socket.__new__":
            if args[1] in INET_FAMILIES:
                raise PermissionError("sandbox: network access is blocked")
        elif event in ("socket.connect", "socket.bind", "socket.sendto",
                       "socket.getaddrinfo", "socket.gethostbyname"):
            raise PermissionError("sandbox: network access is blocked")
        elif event == "os.fork":
            if forks_left[0] <= 0:
                raise PermissionError("sandbox: process creation is blocked")
            forks_left[0] -= 1
        elif event in PROCESS_EVENTS:
            raise PermissionError("sandbox: running other programs is blocked")
        elif event in ("resource.setrlimit", "resource.prlimit", "ctypes.dlopen",
                       "ctypes.dlsym", "ctypes.dlsym/handle"):
            raise PermissionError(f"sandbox: {event} is blocked")

    return hook


def print_user_traceback(error: BaseException) -> None:
    """The traceback without this bootstrap's own frame, as if the code ran as a script."""
    tb = error.__traceback__
    traceback.print_exception(type(error), error, tb.tb_next if tb else None)
    sys.stderr.flush()


def main() -> None:
    config = json.loads(sys.argv[1])
    drop_privileges(config.get("drop_to_uid"))
    with open(config["code_path"], encoding="utf-8") as handle:
        source = handle.read()
    os.environ.pop("PWD", None)  # bubblewrap sets it; the environment is PATH, LANG, HOME, TMPDIR
    set_limits(config)
    if config["audit_hook"]:
        sys.addaudithook(make_audit_hook(config["root"], int(config["max_forks"])))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        code = compile(source, "<sandbox>", "exec")
        exec(code, namespace)
    except MemoryError as error:
        print_user_traceback(error)
        sys.stderr.flush()
        os._exit(1)
    except SystemExit:
        raise
    except BaseException as error:
        print_user_traceback(error)
        sys.exit(1)
    finally:
        sys.stdout.flush()


if __name__ == "__main__":
    main()
