"""Accounts, roles and what each role may do."""
