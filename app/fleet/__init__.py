"""The fleet: enrollment tokens and agent enrollment, check-ins (the hot path), orders to
agents (creation, long-poll delivery, results, expiry), and listing devices and user
sessions for people."""
