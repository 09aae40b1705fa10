"""Data governance: contracts (pandera), privacy (PII detection and anonymization), role
policies and their sandbox, model approval, the audit log and drift monitoring.

One module per concern; each takes plain values (no config loading, no printing) so ``api/``
composes them. pandera is imported only inside this package, and lazily.
"""
