"""Tastevin's exception tree: one root, ``TastevinError``, for every error raised on purpose.

This module is public and light (it imports nothing), so every package uses it: the
judge's and the demo's exceptions hang under the same root, and ``tastevin`` turns any
``TastevinError`` that reaches it into ``error: <message>`` and exit code 2. Third-party
exceptions are mapped to these at the boundary (``raise ... from exc``).

    TastevinError                 root; re-exported as reviewer.TastevinError and judge.TastevinError
    ├── ConfigError               a bad setting; the message says how to fix it
    │   ├── WindowError           reviewer.queries: a time window that cannot be evaluated
    │   ├── RubricError           judge.rubric: a rubric file that cannot be loaded
    │   ├── LinkError             reviewer.links: a review-app link whose window does not parse
    │   └── CaseError             judge.dataset_cases: a dataset file with invalid cases (each named)
    ├── StoreError                the store could not be reached or migrated
    ├── BrokerError               the embedded broker could not start or stop
    ├── ReviewError               reviewer.reviews: a review that cannot be recorded (also a ValueError)
    ├── PoisonRecord              reviewer.ingest.decode: a Kafka message that can never be a sample
    │                             (also a ValueError); it goes to the dead_letter table
    ├── JudgeRejected             judge.llm: the judge API refused the key, model or permissions
    ├── CandidateRejected         judge.evals.candidates: the candidate's API refused key or model
    ├── BudgetExhausted           judge.llm: the next judge call would not fit the run's budget
    ├── BadReply                  judge.prompt: a judge reply that cannot be read; the judgment is
    │                             unscored with its reason
    └── TrafficError              judge.demo.traffic: the demo's simulated app could not run
"""

from __future__ import annotations


class TastevinError(Exception):
    """Root of Tastevin's own errors; messages say what happened and what to do."""


class ConfigError(TastevinError):
    """A setting is missing or invalid."""


class BrokerError(TastevinError):
    """The embedded development broker failed."""


class StoreError(TastevinError):
    """The store could not be reached or migrated; the message says what to check."""


__all__ = ["BrokerError", "ConfigError", "StoreError", "TastevinError"]
