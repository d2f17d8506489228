"""The one thread that talks to a runtime, bridged to asyncio.

Inference must never run on the event loop (``describe`` has to answer within
a second while a model generates), and a model handle serves one generation
at a time. Requests beyond the one running wait in a bounded line; past that
they are refused at once with :class:`BusyError`, so a flood of clients gets a
quick answer instead of a growing queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

from .. import defaults
from ..errors import BusyError, PrefillInterrupted
from .base import GenerationRequest, GenerationStats, Runtime

_LOGGER = logging.getLogger(__name__)
_END = object()


class GenerationStream:
    """The text pieces of one generation, as an async iterator; ``stats`` once it ended.

    Leaving the iteration early (``aclose``, or the consuming task being
    cancelled) stops the generation on the worker thread.
    """

    def __init__(self) -> None:
        self.stats: GenerationStats | None = None
        self._iterator: AsyncIterator[str] | None = None

    def feed_from(self, pieces: AsyncIterator[str]) -> GenerationStream:
        self._iterator = pieces
        return self

    def __aiter__(self) -> AsyncIterator[str]:
        assert self._iterator is not None
        return self._iterator

    async def aclose(self) -> None:
        if self._iterator is not None:
            await self._iterator.aclose()  # type: ignore[attr-defined]


class ModelWorker:
    """Owns a runtime: loads it, serialises generations, bounds the waiting line."""

    def __init__(self, runtime: Runtime, max_waiting: int = defaults.QUEUE_SIZE) -> None:
        self.runtime = runtime
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rk-assist-model")
        self._slot = asyncio.Semaphore(1)
        self._waiting = 0
        self._active_lock = threading.Lock()
        self._active_stop: threading.Event | None = None
        #: Statistics of the most recent generation, finished or aborted.
        self.last_stats: GenerationStats | None = None
        #: Generations that ran to their end, for the health report.
        self.generations = 0
        #: When the model last made progress while it held the slot (monotonic seconds).
        self._progress_at: float | None = None
        runtime.on_progress = self.note_progress
        #: The stop of the system block being finished in the background (None: none is).
        self._background_stop: threading.Event | None = None
        self._background: asyncio.Task[None] | None = None
        self._closing = False
        #: Cut system blocks finished in the background.
        self.background_finished = 0

    @property
    def waiting(self) -> int:
        """Requests waiting for the model, not counting the one running."""
        return self._waiting

    @property
    def busy(self) -> bool:
        """A request (or a model change) holds the model; work in the background does not
        count: any request preempts it at once."""
        return self._slot.locked() and self._background_stop is None

    @property
    def finishing_cut_prefix(self) -> bool:
        """A system block cut short by a hang-up is being finished while the model is idle."""
        return self._background is not None

    def note_progress(self) -> None:
        """The model made progress (any thread): a token, a step of a prefill."""
        self._progress_at = time.monotonic()

    @property
    def stalled_for(self) -> float:
        """Seconds the model has held the slot without progress (0 when free)."""
        at = self._progress_at
        return 0.0 if at is None or not self.busy else time.monotonic() - at

    @property
    def full(self) -> bool:
        """A new request would be refused with :class:`BusyError` now."""
        return self.busy and self._waiting >= self.max_waiting

    async def load(self, system_prompt: str, tools_json: str | None = None) -> None:
        """Load the model and its system prompt state; the service is ready after this."""

        def load_on_worker() -> None:
            self.runtime.load()
            self.runtime.prepare_system_prompt(system_prompt, tools_json)

        await asyncio.get_running_loop().run_in_executor(self._executor, load_on_worker)

    async def prepare(self, system_prompt: str, tools_json: str | None) -> None:
        """Prepare (and cache) a new system prompt, taking a turn like a generation."""
        self._preempt_background()
        async with self._slot:
            self.note_progress()
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self.runtime.prepare_system_prompt, system_prompt, tools_json
                )
            finally:
                self._progress_at = None

    async def swap(
        self, new_runtime: Runtime, system_prompt: str, tools_json: str | None = None
    ) -> None:
        """Replace the runtime; on failure the old one is loaded again and the error raised.

        Holds the generation slot throughout: requests that arrive meanwhile
        wait in line instead of failing, and none runs on a half-loaded model.
        """
        self._preempt_background()
        await self._slot.acquire()
        self.note_progress()
        try:
            old = self.runtime
            loop = asyncio.get_running_loop()

            def swap_on_worker() -> None:
                old.close()  # frees the memory the new model needs
                try:
                    new_runtime.load()
                    new_runtime.prepare_system_prompt(system_prompt, tools_json)
                except BaseException:
                    try:
                        new_runtime.close()
                    finally:
                        _LOGGER.warning("Loading the new model failed; reloading the old one")
                        old.load()
                        old.prepare_system_prompt(system_prompt, tools_json)
                    raise

            await loop.run_in_executor(self._executor, swap_on_worker)
            self.runtime = new_runtime
            new_runtime.on_progress = self.note_progress
        finally:
            self._progress_at = None
            self._slot.release()

    def generate(self, request: GenerationRequest) -> GenerationStream:
        stream = GenerationStream()
        return stream.feed_from(self._run(request, stream))

    async def _run(
        self, request: GenerationRequest, stream: GenerationStream
    ) -> AsyncIterator[str]:
        await self._enter_line()
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[object] = asyncio.Queue()
        stop = threading.Event()

        def emit(piece: str) -> None:
            self.note_progress()
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        def run_on_worker() -> GenerationStats:
            try:
                if stop.is_set():  # cancelled while waiting for the thread
                    return GenerationStats(stop_reason="aborted")
                with self._active(stop):
                    try:
                        return self.runtime.generate(request, emit, stop)
                    except Exception:
                        self._recover()
                        raise
            finally:
                loop.call_soon_threadsafe(pieces.put_nowait, _END)

        future = loop.run_in_executor(self._executor, run_on_worker)
        # The slot is given back when the thread lets go of the model, not when this
        # generator ends: a consumer cancelled twice (a hang-up during the abort) must
        # neither skip the release nor let the next request in while the model is busy.
        future.add_done_callback(self._leave_line_after)
        self.note_progress()
        finished = False
        try:
            while True:
                piece = await pieces.get()
                if piece is _END:
                    break
                yield piece  # type: ignore[misc]
            stream.stats = self.last_stats = await future
            self.generations += 1
            finished = True
        finally:
            if not finished:
                self._stop_generation(stop)
                # Wait for the thread to let go of the model, so the caller's cleanup
                # runs after it; a second cancel ends the wait, never the release.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    self.last_stats = await asyncio.shield(future)

    async def close(self) -> None:
        """Interrupt whatever the model computes (a generation, a prompt), then release it."""
        self._closing = True
        self._preempt_background()
        with self._active_lock:
            if self._active_stop is not None:
                self._active_stop.set()
        self.runtime.abort()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.runtime.close)
        self._executor.shutdown(wait=True)

    async def _enter_line(self) -> None:
        if self.full:
            raise BusyError(f"{self._waiting} requests are already waiting for the model")
        self._waiting += 1
        try:
            self._preempt_background()
            await self._slot.acquire()
        finally:
            self._waiting -= 1

    def _leave_line_after(self, future: asyncio.Future[GenerationStats]) -> None:
        """The thread let go of the model: the next request may have it."""
        if not future.cancelled():
            future.exception()  # marked as seen: the consumer raised it, or it was abandoned
        self._progress_at = None
        self._slot.release()
        self._finish_cut_prefix_when_idle()

    # -- a system block cut short, finished while nobody waits ----------------------------

    def _finish_cut_prefix_when_idle(self) -> None:
        if (
            self._closing
            or self._background is not None
            or self._waiting
            or self._slot.locked()
            or self.runtime.cut_prefix is None
        ):
            return
        self._background = asyncio.get_running_loop().create_task(self._finish_cut_prefix())

    async def _finish_cut_prefix(self) -> None:
        """Finish the cut block on the worker thread, holding the slot until any request comes.

        The client that hung up (Home Assistant's integrations retry with the
        same prompt) then finds its system block ready, saved like any other.
        """
        try:
            if self._closing or self._waiting or self._slot.locked():
                return  # a request came first; it finishes the block or cuts it again
            await self._slot.acquire()  # free: at once
        except BaseException:
            self._background = None
            raise
        stop = threading.Event()
        self._background_stop = stop
        runtime = self.runtime
        loop = asyncio.get_running_loop()

        def run_on_worker() -> bool:
            with self._active(stop):
                return runtime.finish_cut_prefix(stop)

        _LOGGER.info("Finishing a system prompt cut short by a hang-up while the model is idle")
        future = loop.run_in_executor(self._executor, run_on_worker)
        future.add_done_callback(self._background_done)
        self.note_progress()
        with contextlib.suppress(Exception):  # reported by _background_done
            await asyncio.shield(future)

    def _background_done(self, future: asyncio.Future[bool]) -> None:
        """The thread let go of the model after background work: give the slot back."""
        error = None if future.cancelled() else future.exception()
        if isinstance(error, PrefillInterrupted):
            _LOGGER.info(
                "Finishing the cut system prompt paused for a request at token %d of %d",
                error.computed,
                error.total,
            )
        elif error is not None:
            _LOGGER.warning("Could not finish the cut system prompt: %s", error)
        elif not future.cancelled() and future.result():
            self.background_finished += 1
            _LOGGER.info("The cut system prompt is computed and saved")
        self._background_stop = None
        self._background = None
        self._progress_at = None
        self._slot.release()

    def _preempt_background(self) -> None:
        """A request wants the model: stop the background work now (it keeps its progress)."""
        stop = self._background_stop
        if stop is not None and not stop.is_set():
            self._stop_generation(stop)

    @contextlib.contextmanager
    def _active(self, stop: threading.Event) -> Iterator[None]:
        """On the worker thread: ``stop`` is the running work's, the one an abort is for."""
        with self._active_lock:
            self._active_stop = stop
        try:
            yield
        finally:
            with self._active_lock:
                self._active_stop = None

    def _recover(self) -> None:
        """After a failed generation, on the worker thread: start the next one clean."""
        try:
            self.runtime.clear_context(keep_system_prompt=True)
        except Exception as err:  # the failure that brought us here is what gets reported
            _LOGGER.warning("Could not clear the model state after a failure: %s", err)

    def _stop_generation(self, stop: threading.Event) -> None:
        stop.set()
        with self._active_lock:
            # Only interrupt the runtime if it is still busy with *this*
            # generation, never the one that may have started after it.
            if self._active_stop is stop:
                _LOGGER.debug("Aborting the generation in progress")
                self.runtime.abort()
