from tests.assistance.conftest import as_worker, world  # noqa: F401  (a fleet to look at)
