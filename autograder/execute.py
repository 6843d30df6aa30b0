"""nbgrader's Execute with a wall-clock cap on the whole notebook.

nbgrader only limits each cell (`Execute.timeout`). A notebook of many slow cells, each
under that limit, could hold a grading batch for hours; here every cell's timeout is also
cut to what is left of `notebook_timeout`. Cells that time out are recorded in the
notebook metadata (`autograder.timeouts`) so the pipeline can report them.
"""

from __future__ import annotations

import time

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

TIMEOUT_KEY = "autograder"


class CappedExecute(Execute):
    notebook_timeout = Integer(
        600, help="Wall-clock limit (seconds) for executing one whole notebook."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = time.monotonic() + self.notebook_timeout
        self._timeouts = []
        nb.metadata.pop(TIMEOUT_KEY, None)
        nb, resources = super().preprocess(nb, resources, km)
        if self._timeouts:
            nb.metadata[TIMEOUT_KEY] = {"timeouts": self._timeouts}
        return nb, resources

    def execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if cell.cell_type == "code" and time.monotonic() >= self._deadline:
            # Past the cap: the rest is not run, and must not count as passing tests.
            cell.outputs = [NotebookNode(
                output_type="error", ename="NotebookTimeLimit",
                evalue="cellule non exécutée : la limite de temps du notebook est dépassée",
                traceback=["NotebookTimeLimit: cellule non exécutée (limite de temps du notebook dépassée)"])]
            return cell
        return super().execute_cell(cell, cell_index, execution_count, store_history)

    def _get_timeout(self, cell):
        per_cell = super()._get_timeout(cell)
        left = max(1, int(self._deadline - time.monotonic()))
        return left if per_cell is None else min(per_cell, left)

    async def _async_handle_timeout(self, timeout, cell=None):
        label = "?"
        if cell is not None:
            label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id", "?")
        cap = time.monotonic() >= self._deadline - 1
        self._timeouts.append({"cell": label, "seconds": timeout,
                               "limit": "notebook" if cap else "cell"})
        return await super()._async_handle_timeout(timeout, cell)
