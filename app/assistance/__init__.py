"""Remote assistance (SPEC §4): rules, lifecycle, activation files, relay, cleanup."""
