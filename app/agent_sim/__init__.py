"""The reference FlexxAgent: simulated agents speaking the real agent API over HTTP.

    python -m app.agent_sim --url http://127.0.0.1:5000 --count 5 --os "Windows 11"
    python -m app.agent_sim --url http://127.0.0.1:5000 --fleet fleet.json

One process plays thousands of agents (asyncio, one keep-alive HTTP connection per parked
poll), so the demo and the benchmarks use it. The enrollment token comes from the
environment (`AGENT_ENROLLMENT_TOKEN`), never from the command line, where other users of
the machine could read it. A fleet file (or the `SIM_FLEET` variable) is a JSON list of
profiles; each may name its own `enrollment_token`, or an already issued `device_token`
(benchmarks with pre-enrolled fleets), or inherit the environment's enrollment token.

Each agent enrolls, checks in every interval with its user sessions, long-polls for orders
between check-ins and answers them: consent for interactive assistance as configured, a
session ID for unattended, `service_removed` for stop orders; after an optional delay,
with an optional failure rate, and restarting (new instance id) every `restart_every`
seconds if asked. `--report FILE` writes the fleet's counters as JSON when it stops.
"""
