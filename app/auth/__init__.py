"""Accounts, sessions, roles and web security: who is asking, in which workspace, allowed to do what."""
