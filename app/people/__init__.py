"""People and access: organizations and their built-in roles, users and memberships,
permissions and roles (with the rules against escalation), sign-in and its server-side
sessions, what a session may do (`access`), MFA, single sign-on, invitations, personal API
tokens and offboarding."""
