"""The one exception family users see.

Every failure that a user can cause (bad input, unknown knowledge base, wrong base model …) raises a
subclass of :class:`DualBrainError` with a one-line message; the CLI prints that line and exits non-zero
without a traceback. Anything else is a bug and keeps its traceback.
"""


class DualBrainError(Exception):
    """A failure explained to the user in one line."""


class UnknownKnowledgeBase(DualBrainError):
    """The named knowledge base does not exist."""


class KnowledgeBaseExists(DualBrainError):
    """A knowledge base with that name already exists."""


class InvalidName(DualBrainError):
    """A knowledge-base name that is not allowed."""


class IngestError(DualBrainError):
    """One input file could not be turned into a document (unsupported, corrupt, empty, too large)."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class OverQuota(IngestError):
    """A file that would take its knowledge base past a quota (``store/quotas.py``); ``retry_after``: the seconds
    until it would fit a rate quota (None: it never fits as it is)."""

    def __init__(self, source: str, reason: str, retry_after: int | None = None):
        super().__init__(source, reason)
        self.retry_after = retry_after


class DuplicateDocument(IngestError):
    """The knowledge base already holds a document with the same content."""


class IncompatibleKnowledge(DualBrainError):
    """Knowledge trained for one base model was asked to attach to another."""


class NothingToLearn(DualBrainError):
    """A learn request with no usable documents."""


class UnknownKey(DualBrainError):
    """No API key has that id."""


class JobRunning(DualBrainError):
    """A learn, forget or consolidation holds the knowledge base; the request would race it."""


class DiskFull(DualBrainError):
    """The disk holding the home has no room left for what the learning worker writes."""
