"""Gifts: the points supermarket (积分超市) — catalogue, redemptions, pickup (SPEC §7)."""
