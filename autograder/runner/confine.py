"""Start an IPython kernel under a seccomp filter (the fallback sandbox, without namespaces).

``python confine.py -f CONNECTION_FILE`` installs a filter, then runs
``ipykernel_launcher``. The filter refuses, with EPERM:
- network sockets (AF_INET, AF_INET6, AF_PACKET): the kernel talks to its client over Unix sockets;
- signals to any process but the kernel itself (kill/tkill/tgkill/pidfd_send_signal);
- ptrace and writing into another process's memory.
"""

from __future__ import annotations

import errno
import os
import runpy
import socket
import sys


def install_filter() -> None:
    import pyseccomp as seccomp

    deny = seccomp.ERRNO(errno.EPERM)
    f = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for family in (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET):
        f.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, family))
    me = os.getpid()
    for call in ("kill", "tkill", "tgkill"):
        f.add_rule(deny, call, seccomp.Arg(0, seccomp.NE, me))
    for call in ("ptrace", "process_vm_writev", "pidfd_send_signal", "pidfd_open"):
        f.add_rule(deny, call)
    f.load()


if __name__ == "__main__":
    install_filter()
    sys.argv[0] = "ipykernel_launcher"
    runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
