"""Instructor side of the course: grading pipeline, CLI and hidden-test checks.

Never shipped to students: ``checks/`` holds reference answers.
"""
