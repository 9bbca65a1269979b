"""Business rules as plain functions over models, shared by views, API, CLI and jobs."""
