"""Lambda entry points. Each parses its input, calls one service, and maps the result; no rules live here."""
