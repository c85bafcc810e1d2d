"""Scenarios: formulas and restrictions shared by import and export scenarios."""
