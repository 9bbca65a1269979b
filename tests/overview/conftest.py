from tests.assistance.conftest import as_worker, world  # noqa: F401  (the same fleet)
