"""Generator of the "Try with sample data" files (see __main__.py and house_style.py)."""
