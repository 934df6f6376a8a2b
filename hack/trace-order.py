#!/usr/bin/env python3
"""Writes the link order of berth's functions: the ones a `run` executes,
in the order they first run, one symbol per line.

Usage: trace-order.py [--follow] UNSTRIPPED_BINARY OUT -- ARGS...

With --follow (for containerd-shim-berth-v2, which containerd starts as
`shim start`, which spawns the long-lived shim by re-executing itself):
a process that execs the same binary is traced on, and tracing lasts
until every traced process has ended. The command's own exit is relayed
at once, so the caller (containerd) is not kept waiting, and the tracer's
output goes to OUT.log.

The binary is run under ptrace with a breakpoint (int3) on the entry of
every function in its symbol table, following every fork and clone (the
runtime's children execute the same image). A breakpoint that fires is
recorded and removed, so each function costs one stop. A child that execs
another program is detached. The output feeds lld's
--symbol-ordering-file (see crates/berth/build.rs): the code a container
start touches then sits in a few contiguous pages instead of being spread
over the whole text segment, which is what the runtime's resident size is
made of (docs/performance.md).

Needs root or CAP_SYS_PTRACE, python3, and binutils' nm.
"""
import ctypes
import os
import signal
import subprocess
import sys

PTRACE_TRACEME, PTRACE_PEEKTEXT, PTRACE_POKETEXT = 0, 1, 4
PTRACE_CONT, PTRACE_GETREGS, PTRACE_SETREGS, PTRACE_DETACH = 7, 12, 13, 17
PTRACE_SETOPTIONS = 0x4200
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10  # fork, vfork, clone, exec
EVENT_EXEC = 4
WALL = 0x40000000
RIP = 16  # index of rip in struct user_regs_struct

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


class Regs(ctypes.Structure):
    _fields_ = [("r", ctypes.c_ulonglong * 27)]


def ptrace(req, pid, addr=0, data=0):
    ctypes.set_errno(0)
    r = libc.ptrace(req, pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
    if r == -1 and ctypes.get_errno() != 0 and req != PTRACE_PEEKTEXT:
        raise OSError(ctypes.get_errno(), f"ptrace {req} on {pid}")
    return r


def functions(binary):
    """Entry address -> symbol name for every function, one name per address."""
    out = subprocess.run(["nm", "--defined-only", binary], capture_output=True,
                         text=True, check=True).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTiW":
            syms.setdefault(int(parts[0], 16), parts[2])
    return syms


def set_byte(pid, addr, byte):
    word = ptrace(PTRACE_PEEKTEXT, pid, addr) & 0xFFFFFFFFFFFFFFFF
    old = word & 0xFF
    word = (word & ~0xFF) | byte
    ptrace(PTRACE_POKETEXT, pid, addr, word)
    return old


PTRACE_GETEVENTMSG = 0x4201


class Tracer:
    """Every traced process and the breakpoints already removed in it."""

    def __init__(self, original, binary="", follow=False):
        self.original = original
        self.binary = binary
        self.follow = follow
        self.restored = {}
        self.hits = []
        self.seen = set()

    def step(self, p, status, release=False):
        """Handles one wait status; returns True when `p` stopped for SIGSTOP
        and was left stopped (only with `release`)."""
        if not os.WIFSTOPPED(status):
            self.restored.pop(p, None)
            return False
        sig, event = os.WSTOPSIG(status), status >> 16
        if event == EVENT_EXEC:
            if self.follow and os.path.realpath(f"/proc/{p}/exe") == self.binary:
                # The same program again, in a fresh address space.
                for addr in self.original:
                    set_byte(p, addr, 0xCC)
                self.restored[p] = set()
                ptrace(PTRACE_CONT, p)
                return False
            self.restored.pop(p, None)
            ptrace(PTRACE_DETACH, p)  # another program now: nothing to trace
            return False
        if event:
            msg = ctypes.c_ulong()
            ptrace(PTRACE_GETEVENTMSG, p, 0, ctypes.addressof(msg))
            self.restored[msg.value] = set(self.restored.get(p, ()))
        elif sig == signal.SIGTRAP:
            self.breakpoint(p)
        elif sig == signal.SIGSTOP:
            if release:
                return True
        else:
            ptrace(PTRACE_CONT, p, 0, sig)
            return False
        ptrace(PTRACE_CONT, p)
        return False

    def breakpoint(self, p):
        regs = Regs()
        ptrace(PTRACE_GETREGS, p, 0, ctypes.addressof(regs))
        addr = regs.r[RIP] - 1
        if addr not in self.original:
            return
        set_byte(p, addr, self.original[addr])
        self.restored.setdefault(p, set()).add(addr)
        regs.r[RIP] = addr
        ptrace(PTRACE_SETREGS, p, 0, ctypes.addressof(regs))
        if addr not in self.seen:
            self.seen.add(addr)
            self.hits.append(addr)

    def release(self, p):
        """Stops a process that outlives the traced command (a created
        container's init), puts every byte back and lets it go."""
        os.kill(p, signal.SIGSTOP)
        while True:
            _, status = os.waitpid(p, WALL)
            if self.step(p, status, release=True):
                break
            if p not in self.restored:
                return
        done = self.restored.pop(p)
        for addr, byte in self.original.items():
            if addr not in done:
                set_byte(p, addr, byte)
        ptrace(PTRACE_DETACH, p)


def relay_exit():
    """--follow: the caller waits for this process only until the traced
    command exits; tracing goes on in a child. Returns the pipe to report
    the command's exit status on."""
    r, w = os.pipe()
    if os.fork() != 0:
        os.close(w)
        data = os.read(r, 16)
        sys.exit(int(data or b"1"))
    os.close(r)
    return w


def main():
    follow = sys.argv[1] == "--follow"
    argv = sys.argv[2:] if follow else sys.argv[1:]
    binary, out = argv[0], argv[1]
    args = argv[argv.index("--") + 1:]
    syms = functions(binary)
    report = relay_exit() if follow else None
    pid = os.fork()
    if pid == 0:
        ptrace(PTRACE_TRACEME, 0)
        os.kill(os.getpid(), signal.SIGSTOP)
        os.execv(binary, [binary] + args)
    if follow:
        # The command keeps the caller's stdout and stderr; the tracer
        # lets go of them so the caller sees end-of-file when it exits.
        log = os.open(out + ".log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        for fd in (0, 1, 2):
            os.dup2(log, fd)
    os.waitpid(pid, WALL)
    ptrace(PTRACE_SETOPTIONS, pid, 0, OPTIONS)
    ptrace(PTRACE_CONT, pid)
    os.waitpid(pid, WALL)  # the exec stop: the image is mapped
    tracer = Tracer({addr: set_byte(pid, addr, 0xCC) for addr in syms},
                    os.path.realpath(binary), follow)
    tracer.restored[pid] = set()
    ptrace(PTRACE_CONT, pid)
    code = 1
    while (tracer.restored if follow else pid in tracer.restored):
        p, status = os.waitpid(-1, WALL)
        if p == pid and (os.WIFEXITED(status) or os.WIFSIGNALED(status)):
            code = (os.WEXITSTATUS(status) if os.WIFEXITED(status)
                    else 128 + os.WTERMSIG(status))
            if report is not None:
                os.write(report, str(code).encode())
                os.close(report)
                report = None
        tracer.step(p, status)
    for p in list(tracer.restored):
        tracer.release(p)
    with open(out, "w") as f:
        f.writelines(syms[a] + "\n" for a in tracer.hits)
    print(f"{len(tracer.hits)} of {len(syms)} functions ran", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
