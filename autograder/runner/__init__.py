"""What runs INSIDE a grading sandbox: the notebook client and its kernel.

This package is copied alone into each sandbox (it imports nothing else of the instructor
side). ``python -m autograder_runner SETTINGS.json`` executes one notebook and streams the
result to its standard output as JSON lines, one per code cell, then a last line with the
timeouts and problems met. The grader outside treats every byte of it as untrusted.
"""
