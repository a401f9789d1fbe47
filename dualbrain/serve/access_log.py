"""uvicorn's logging, with the access log kept free of document ids: a forgotten document must leave no trace,
and the request that forgot it names it in its path (``DELETE /v1/kbs/<kb>/documents/<id>``)."""

from __future__ import annotations

import copy
import logging
import re

from uvicorn.config import LOGGING_CONFIG

_DOCUMENT_IN_PATH = re.compile(r"(/documents/)[^/?#\s]+")


class WithoutDocumentIds(logging.Filter):
    """Writes an access record's path with ``/documents/…`` in place of a document's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:  # uvicorn's: client, method, path, version, status
            client, method, path, *rest = record.args
            record.args = (client, method, _DOCUMENT_IN_PATH.sub(r"\1…", str(path)), *rest)
        return True


def log_config() -> dict:
    """uvicorn's default logging configuration, its access log filtered by :class:`WithoutDocumentIds`."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"without_document_ids": {"()": WithoutDocumentIds}}
    config["handlers"]["access"]["filters"] = ["without_document_ids"]
    return config
