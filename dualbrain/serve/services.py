"""What the server's routes work with, made once per app: the knowledge bases, the answerer, the queue, metrics."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from dualbrain.library import Library
from dualbrain.serve.answering import Answerer
from dualbrain.serve.metrics import ServerMetrics
from dualbrain.store import Quotas
from dualbrain.store.queue import WorkQueue


@dataclass(frozen=True)
class Services:
    library: Library
    answerer: Answerer
    queue: WorkQueue
    metrics: ServerMetrics
    quotas: Quotas  # what each knowledge base may hold and take in


def _services(request: Request) -> Services:
    return request.app.state.services


# A route's parameter of this type receives the app's services.
ServicesParam = Annotated[Services, Depends(_services)]
