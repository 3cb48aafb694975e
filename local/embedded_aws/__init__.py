"""The embedded AWS: the project's own template.yaml, ASL and handlers, running on moto in server mode.

Nothing here is deployed. It reads template.yaml for the wiring, provisions the resources in moto,
runs the real handlers in execution environments of their own (a process per environment) when a Lambda
is invoked, delivers the registry's EventBridge events, serves the HTTP API, keeps an outbox of the emails
SES was asked to send, and refuses what AWS refuses (strict/, docs/embedded-aws.md).
"""
