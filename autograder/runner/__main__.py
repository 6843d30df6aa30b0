"""``python -m autograder_runner SETTINGS.json``: execute one notebook inside the sandbox.

Standard output carries the protocol (see ``protocol``) and nothing else: the kernel is
started with its standard output on /dev/null, and this process is made non-dumpable so
that code in the kernel cannot reach its file descriptors.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import sys
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)  # an optional jsonschema extra that costs 0.8 s to import

import nbformat  # noqa: E402

from .capped_client import CappedClient  # noqa: E402
from .protocol import CELL, DONE, PROBLEMS, TIMEOUTS  # noqa: E402

PR_SET_DUMPABLE = 4
NOTE_TOO_BIG = "[sortie tronquée : {size} octets dépassent la limite de {cap} octets par sortie]\n"


def private_channel():
    """Our standard output, kept for the protocol; fd 1 itself now points to /dev/null."""
    channel = os.fdopen(os.dup(1), "wb", buffering=0)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    return channel


def apply_rlimits(limits: dict) -> None:
    for name, value in limits.items():
        which = getattr(resource, f"RLIMIT_{name}")
        resource.setrlimit(which, (value, value))


def capped(output: dict, cap: int) -> dict:
    """The output itself, or a visible note when it is bigger than ``cap`` bytes. Errors keep
    their name and a shortened message, so a failed test still counts as failed."""
    size = len(json.dumps(output))
    if size <= cap:
        return output
    if output.get("output_type") == "error":
        return {"output_type": "error", "ename": str(output.get("ename", "Error"))[:200],
                "evalue": str(output.get("evalue", ""))[:2000], "traceback": []}
    return {"output_type": "stream", "name": "stdout", "text": NOTE_TOO_BIG.format(size=size, cap=cap)}


def confined_kernelspec(home: Path, kernel_name: str) -> str:
    """A kernelspec that starts the kernel through ``confine.py`` (the fallback sandbox)."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(kernel_name)
    argv = list(spec.argv)
    if argv[1:3] == ["-m", "ipykernel_launcher"]:
        argv[1:3] = [str(Path(__file__).with_name("confine.py"))]
    folder = home / ".local" / "share" / "jupyter" / "kernels" / "confined"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kernel.json").write_text(json.dumps({**spec.to_dict(), "argv": argv}))
    return "confined"


def main(argv) -> int:
    settings = json.loads(Path(argv[1]).read_text())
    channel = private_channel()
    apply_rlimits(settings.get("rlimits", {}))
    work = Path(settings["workdir"])
    work.mkdir(parents=True, exist_ok=True)
    for f in Path(settings["files"]).iterdir() if settings.get("files") else []:
        shutil.copyfile(f, work / f.name)
    if settings.get("matplotlib_cache") and Path(settings["matplotlib_cache"]).is_dir():
        shutil.copytree(settings["matplotlib_cache"], os.environ["MPLCONFIGDIR"], dirs_exist_ok=True)
    kernel_name = settings["kernel_name"]
    if settings.get("confine"):
        kernel_name = confined_kernelspec(Path(os.environ["HOME"]), kernel_name)
    os.environ["PYTHONPATH"] = settings.get("kernel_pythonpath", "")

    nb = nbformat.read(settings["notebook"], as_version=4)
    # iopub_timeout: how long outputs may lag behind a cell's reply (a loaded machine lags
    # seconds) and how long an interrupted cell gets to stop before its kernel is restarted.
    client = CappedClient(
        nb, kernel_name=kernel_name, timeout=settings["timeout"], notebook_timeout=settings["notebook_timeout"],
        interrupt_on_timeout=True, allow_errors=True, raise_on_iopub_timeout=True, iopub_timeout=30,
        extra_arguments=settings.get("extra_arguments", []), ipc_path=settings.get("ipc_path", ""),
        error_on_timeout={"ename": "CellTimeoutError", "evalue": "cellule arrêtée : limite de temps dépassée",
                          "traceback": ["CellTimeoutError: cellule arrêtée (limite de temps dépassée)"]},
        resources={"metadata": {"path": str(work)}})
    cap = int(settings.get("max_output_bytes", 2_000_000))

    def emit(index, cell):
        line = {CELL: index, "execution_count": cell.get("execution_count"),
                "outputs": [capped(o, cap) for o in cell.get("outputs", [])]}
        channel.write(json.dumps(line).encode() + b"\n")

    client.emit = emit
    try:
        client.execute()
    except Exception as exc:  # the kernel never started, or nbclient itself failed
        client.problems.append(f"execution stopped: {type(exc).__name__}: {str(exc)[:300]}")
    channel.write(json.dumps({DONE: True, TIMEOUTS: client.timeouts, PROBLEMS: client.problems}).encode() + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
