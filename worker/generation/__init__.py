"""Drafts from base models and their adapters: the engine behind comparisons and generations (no database)."""
