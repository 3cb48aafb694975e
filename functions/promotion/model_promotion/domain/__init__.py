"""The promotion domain: pure rules, no AWS SDK. Everything here is testable without AWS."""
