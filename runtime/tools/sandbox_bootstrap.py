"""The child side of the sandbox: set up the limits, then run the user's code.

This file is executed by path as `python -I -S -B sandbox_bootstrap.py CONFIG_JSON`, never
imported by the runtime, so it uses the standard library only. `-I` drops PYTHON* variables,
the user site and the script directory from `sys.path` (the user's code cannot import the
project); `-S` skips `site`, so no site-packages are visible; `-B` writes no `.pyc`.

Order matters: everything that needs privileges or libraries (the network namespace through
`ctypes`) happens first, then the resource limits, then the audit hook, and only then the
user's code runs. Layers, from hard to soft:

- `unshare(CLONE_NEWNET)` (or `CLONE_NEWUSER|CLONE_NEWNET` when not root): the process gets an
  empty network namespace, so every connection fails at the kernel ("Network is unreachable").
  Reported to the parent; when the kernel refuses, this layer is simply absent.
- rlimits (kernel): CPU seconds (SIGXCPU, then SIGKILL one second later), address space
  (MemoryError), file size (EFBIG; SIGXFSZ is ignored so writes fail instead of killing),
  no core dumps, and RLIMIT_NPROC=0 when no fork is allowed (ineffective for root).
- audit hook (interpreter): refuses sockets of the internet families, process creation beyond
  the fork budget, exec/spawn/system, writes outside the sandbox directory, changing rlimits
  and loading native code through ctypes. Audit hooks are defence in depth, not a boundary
  against an adversary who finds an interpreter escape; the OS layers above are the hard ones.
"""

import json
import os
import signal
import sys
import traceback

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
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


def enter_network_namespace() -> str:
    """Move this process into a fresh, empty network namespace; say which way worked."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) == 0:
            return "netns"
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
            return "userns+netns"
    except (OSError, AttributeError):
        pass
    finally:
        # Forget ctypes: a later `import ctypes` re-runs its dlopen and meets the audit hook.
        for name in [name for name in sys.modules if name.split(".")[0] == "ctypes"]:
            del sys.modules[name]
    return ""


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
    if int(config["max_forks"]) == 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))


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
    with open(sys.argv[1], encoding="utf-8") as handle:
        config = json.load(handle)
    os.remove(sys.argv[1])
    with open(config["code_path"], encoding="utf-8") as handle:
        source = handle.read()
    status = os.fdopen(int(config["status_fd"]), "w", buffering=1)
    if config["network_namespace"]:
        status.write("isolation " + (enter_network_namespace() or "none") + "\n")
    set_limits(config)
    if config["audit_hook"]:
        sys.addaudithook(make_audit_hook(config["root"], int(config["max_forks"])))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        code = compile(source, "<sandbox>", "exec")
        exec(code, namespace)
    except MemoryError as error:
        status.write("memory\n")
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
