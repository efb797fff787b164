"""Curation: pure functions over examples (health findings, duplicates, PII, splits, export)."""
