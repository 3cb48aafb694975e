"""The embedded AWS: the project's own template.yaml, ASL and handlers, running on moto in server mode.

Nothing here is deployed. It reads template.yaml for the wiring, provisions the resources in moto,
runs the real handlers in-process when the state machine invokes a Lambda, delivers the registry's
EventBridge events, serves the HTTP API, and keeps an outbox of the emails SES was asked to send.
"""
