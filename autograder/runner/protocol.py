"""The JSON-lines protocol between the runner (inside) and the grader (outside).

One line per executed code cell: ``{"cell": INDEX, "outputs": [...], "execution_count": N}``;
then one line ``{"done": true, "timeouts": [...], "problems": [...]}``. The grader
never trusts a line: it checks types and sizes and grafts only outputs onto its own copy
of the notebook.
"""

CELL = "cell"
DONE = "done"
TIMEOUTS = "timeouts"
PROBLEMS = "problems"
