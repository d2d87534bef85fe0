"""Points: a double-entry, append-only ledger per community (SPEC §6)."""
