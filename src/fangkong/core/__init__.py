"""Shared mechanisms: database, scoping, auth, audit, i18n, events, jobs."""
