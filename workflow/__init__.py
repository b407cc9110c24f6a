"""Fidelis: the case-management engine (states, cases, money, documents, CLI)."""
