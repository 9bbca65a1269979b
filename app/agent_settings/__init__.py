"""FlexxAgent settings: the typed registry (SPEC §3), storage and resolution."""
