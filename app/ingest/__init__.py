"""Turning uploaded files into examples: one parser per format behind one registry."""
