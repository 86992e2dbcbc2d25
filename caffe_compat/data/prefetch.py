"""A background thread that keeps a queue of ready batches (Caffe's BasePrefetchingDataLayer).

``Prefetcher(produce, depth)`` calls ``produce()`` on a daemon thread and keeps up to
``depth`` results waiting; ``get()`` hands them out in order. An exception raised by
``produce`` is re-raised by the ``get()`` that would have returned that batch. ``close()``
stops the thread; it is also safe to just drop the object (the thread is a daemon and does
not reference the layer that owns it). ``depth == 0`` produces synchronously in ``get()``.
"""
import queue
import threading


class _Failure:
    def __init__(self, exc):
        self.exc = exc


class Prefetcher:
    def __init__(self, produce, depth=4, name="prefetch"):
        self._produce = produce
        self._depth = int(depth)
        self._stop = threading.Event()
        self._thread = None
        if self._depth > 0:
            self._queue = queue.Queue(maxsize=self._depth)
            self._thread = threading.Thread(
                target=_run, args=(produce, self._queue, self._stop), name=name, daemon=True)
            self._thread.start()

    def get(self):
        if self._thread is None:
            return self._produce()
        while True:
            try:
                item = self._queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("data prefetch thread has stopped") from None
        if isinstance(item, _Failure):
            raise item.exc
        return item

    def close(self):
        self._stop.set()
        if self._thread is None:
            return
        # Free a producer blocked on a full queue, then wait for it briefly.
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5.0)

    @property
    def alive(self):
        return self._thread is not None and self._thread.is_alive()


def _run(produce, q, stop):
    while not stop.is_set():
        try:
            item = produce()
        except BaseException as e:  # handed to the consumer, which re-raises it
            item = _Failure(e)
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                break
            except queue.Full:
                continue
        if isinstance(item, _Failure):
            return
