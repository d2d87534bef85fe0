"""Parking self-governance (SPEC §8): shift templates, fair duty rosters, swaps, duty
check-in at the post, fees and the month-end subsidy report."""
