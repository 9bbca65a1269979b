"""The overview across the fleet and its assistances: the dashboard (SPEC §5) and the
global search. The top domain: it reads fleet, assistance and audit rows, changes none."""
