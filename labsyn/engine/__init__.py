"""The run engine: a worker thread per run, checkpoints, pause/resume/abort, safe state, sinks."""

from .context import RunContext, RunControl
from .runner import Runner
from .sinks import LogSink, ProgressBar, RunSink
from .states import AbortRequested, RunResult, RunState

__all__ = ["AbortRequested", "LogSink", "ProgressBar", "RunContext", "RunControl", "RunResult",
           "RunSink", "RunState", "Runner"]
