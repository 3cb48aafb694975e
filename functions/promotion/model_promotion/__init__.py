"""Model promotion: registration -> dev -> test -> uat -> prod, with a human sign-off at every stage.

Layers: `domain` (pure rules), `services` (use cases over the ports), `ports` (what the services
need from AWS), `adapters` (boto3 implementations of the ports) and `handlers` (thin Lambda entry points).
"""
