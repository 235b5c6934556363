"""Delivery of the patient's messages: channels (SMTP email, SMS providers) around the outbox.

The outbox itself (which message, when) is computed by the pure core (engine/outbox.py); the
modules here only format and hand a rendered message to a provider.
"""
