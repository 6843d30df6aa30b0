"""nbclient's NotebookClient with the caps the grader needs.

- a wall-clock cap on the whole notebook (nbclient only limits each cell); cells past it
  get a ``NotebookTimeLimit`` error;
- a cell that times out is interrupted; if the kernel does not come back (a C call that
  ignores SIGINT) or dies, the kernel is restarted and the cells that ran before are
  replayed, so that one cell costs only itself;
- each timeout is recorded with the kernel's CPU time over the cell, so the grader can
  tell a busy machine (little CPU, long wall time) from code that really runs too long;
- nbgrader's fix for kernels whose traceback display was disabled (nbgrader#1324).
"""

from __future__ import annotations

import copy
import os
import time

from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbformat import NotebookNode
from traitlets import Integer, Unicode

MAX_RESTARTS = 3


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process and its waited-for children."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return None


class CappedClient(NotebookClient):
    notebook_timeout = Integer(600, help="Wall-clock limit (seconds) for the whole notebook.").tag(config=True)
    ipc_path = Unicode("", help="Talk to the kernel over Unix sockets with this path prefix (empty: TCP).")

    def __init__(self, nb, **kwargs):
        super().__init__(nb, **kwargs)
        self.timeouts: list[dict] = []
        self.problems: list[str] = []
        self.done_cells: list[int] = []   # code cells that ran to the end, in order
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_start = (0.0, None)

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        if self.ipc_path:  # no network sockets at all (the fallback sandbox blocks them)
            km.transport, km.ip = "ipc", self.ipc_path
        return km

    # -- one cell -------------------------------------------------------------------------
    def _kernel_pid(self):
        provisioner = getattr(self.km, "provisioner", None)
        return getattr(provisioner, "pid", None) or getattr(getattr(provisioner, "process", None), "pid", None)

    def _get_timeout(self, cell):
        per_cell = super()._get_timeout(cell)
        left = max(1, int(self._deadline - time.monotonic()))
        return left if per_cell is None else min(per_cell, left)

    async def _async_handle_timeout(self, timeout, cell=None):
        started, cpu0 = self._cell_start
        cpu1 = _cpu_seconds(self._kernel_pid())
        self.timeouts.append({
            "cell": self._current_index, "seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 1),
            "limit": "notebook" if time.monotonic() >= self._deadline - 1 else "cell"})
        return await super()._async_handle_timeout(timeout, cell)

    def on_executed(self, cell, execute_reply):
        """nbgrader's Execute.on_cell_executed: an error reply with no error output (the
        traceback display was patched away, or a timeout) still shows as an error."""
        content = execute_reply["content"]
        if content.get("status") != "error":
            return
        if any(o.output_type == "error" and o.get("ename") == content.get("ename") for o in cell.outputs):
            return
        out = _error(content.get("ename", "Error"), content.get("evalue", ""))
        out.traceback = content.get("traceback") or ["ERROR: An error occurred while showtraceback was disabled"]
        cell.outputs.append(out)

    async def _run_cell(self, cell, index, store_history=True):
        self._current_index = index
        self._cell_start = (time.monotonic(), _cpu_seconds(self._kernel_pid()))
        cell = await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1,
                                             store_history=store_history)
        return cell

    # -- the notebook ---------------------------------------------------------------------
    async def async_execute(self, reset_kc=False, **kwargs):
        self.on_cell_executed = lambda cell, cell_index, execute_reply: self.on_executed(cell, execute_reply)
        self.reset_execution_trackers()
        restarts = 0
        async with self.async_setup_kernel(**kwargs):
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if time.monotonic() >= self._deadline:
                    cell.outputs = [_error("NotebookTimeLimit", "cellule non exécutée : la limite de temps du notebook est dépassée")]
                    self.emit(index, cell)
                    continue
                if self.km is None:  # the kernel could not be brought back
                    cell.outputs = [_error("KernelLost", "cellule non exécutée : le noyau n'a pas pu être relancé")]
                    self.emit(index, cell)
                    continue
                try:
                    await self._run_cell(cell, index)
                    self.done_cells.append(index)
                except (CellTimeoutError, DeadKernelError) as exc:
                    stuck = isinstance(exc, CellTimeoutError)
                    if stuck and not any(t["cell"] == index for t in self.timeouts):
                        await self._async_handle_timeout(0, cell)
                    cell.outputs = [_error(
                        "CellTimeoutError" if stuck else "DeadKernelError",
                        "cellule arrêtée : elle ne répondait plus après la limite de temps" if stuck
                        else "le noyau Python est mort pendant cette cellule (plantage, os._exit ou mémoire épuisée)")]
                    self.problems.append(f"cell {index}: {'stuck past its interrupt' if stuck else 'the kernel died'}; kernel restarted")
                    restarts += 1
                    ok = restarts <= MAX_RESTARTS and await self._restart_and_replay()
                    if not ok:
                        self.problems.append(f"cell {index}: the kernel could not be restarted; later cells not run")
                        await self._async_cleanup_kernel()
                self.emit(index, cell)
        return self.nb

    execute = run_sync(async_execute)

    async def _restart_and_replay(self) -> bool:
        """A fresh kernel, then every cell that had run to the end, again, silently."""
        await self._async_cleanup_kernel()
        self.km = self.create_kernel_manager()
        try:
            await self.async_start_new_kernel(cwd=self.resources.get("metadata", {}).get("path"))
            await self.async_start_new_kernel_client()
            for index in self.done_cells:
                await self._run_cell(copy.deepcopy(self.nb.cells[index]), index, store_history=False)
        except (CellTimeoutError, DeadKernelError, RuntimeError):
            return False
        return True

    def emit(self, index, cell):  # replaced by the runner: stream each cell as it is done
        pass
