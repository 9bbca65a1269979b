"""Remote assistance (SPEC §4): the refusal rules (`rules`), starting (`start`), the
agent's answers (`agent_answers`), the operator's actions (`operator`), the end of an
assistance with relay connections and the sweeper (`lifecycle`), activation files
(`files`, `signing`, `keys`, `verify`)."""
