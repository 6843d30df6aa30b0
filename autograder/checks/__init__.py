"""Hidden-test checks called from the notebooks' hidden test cells (one module per assignment)."""
