"""Check-in codes, scans, attendance and volunteer hours (SPEC §5)."""
