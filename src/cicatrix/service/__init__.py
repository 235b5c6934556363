"""Use cases over storage, shared by the API and the web pages.

Every function takes a `Context` (database session, the acting user, the knowledge base,
the request's address and the clinic's "today"), checks the role, does its work, writes
an audit event in the same transaction and commits. Callers never commit.
"""
