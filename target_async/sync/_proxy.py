"""Proxies: sync objects generated from async ones, so that no method signature is written twice.

A proxy subclasses :class:`SyncProxy`: it holds the async object (``_target``, which lives on the loop thread)
and the :class:`~target_async.sync._strategy.ExecutionStrategy` of its client. Its methods are descriptors
built from the async class's own methods, keeping their signatures and types:

* ``name = blocking(AsyncThing.name)``: a coroutine method becomes a blocking call (``wrap=`` turns the result
  into another proxy, ``offload=`` runs sync callables given for the named parameters on a worker
  thread instead of the event loop);
* ``name = iterating(AsyncThing.name)``: a method returning an async iterator (or iterable) returns a
  :class:`SyncIterator` that pulls one item at a time through the loop;
* ``name = wrapping(AsyncThing.name, Proxy)``: a plain method returning an async object (a paginator, an
  awaitable operation) returns its proxy;
* ``name = plain(AsyncThing.name)``: a plain, non-blocking method, called directly.

The async method always runs on the loop thread (``ExecutionStrategy.run`` with ``on_loop_thread=True``), so
validation errors, typed errors and results are exactly those of the async API.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

import anyio.to_thread

from ._strategy import ExecutionStrategy

__all__ = ["SyncIterator", "SyncProxy", "blocking", "iterating", "offload_sync_callable", "plain", "wrapping"]

A = TypeVar("A")
T = TypeVar("T")
U = TypeVar("U")
W = TypeVar("W", bound="SyncProxy[Any]")
P = ParamSpec("P")


class SyncProxy(Generic[A]):
    """Base of the proxies: the async object it drives and the strategy of the client it came from."""

    def __init__(self, target: A, strategy: ExecutionStrategy[Any]) -> None:
        self._target = target
        self._strategy = strategy


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def offload_sync_callable(fn: Any) -> Any:
    """A sync callable as a coroutine function that runs it on a worker thread (never on the event loop).

    Coroutine functions and non-callables are returned unchanged.
    """
    if not callable(fn) or inspect.iscoroutinefunction(fn):
        return fn

    async def offloaded(*args: Any) -> Any:
        value = await anyio.to_thread.run_sync(functools.partial(fn, *args))
        if inspect.isawaitable(value):
            value = await value
        return value

    return offloaded


class _Descriptor:
    _what = "call"

    def __set_name__(self, owner: type, name: str) -> None:
        self._what = f"{owner.__name__}.{name}()"


class blocking(_Descriptor, Generic[A, P, T]):
    """A coroutine method of the async class, as a blocking method of the proxy.

    Args:
        method: the async class's coroutine method (``AsyncThing.name``).
        wrap: a proxy class for the result.
        offload: parameter names whose sync callables must run on a worker thread.
    """

    @overload
    def __init__(
        self: blocking[A, P, T],
        method: Callable[Concatenate[A, P], Awaitable[T]],
        *,
        offload: Sequence[str] = (),
    ) -> None: ...
    @overload
    def __init__(
        self: blocking[A, P, T],
        method: Callable[Concatenate[A, P], Awaitable[Any]],
        *,
        wrap: Callable[[Any, ExecutionStrategy[Any]], T],
        offload: Sequence[str] = (),
    ) -> None: ...
    def __init__(
        self,
        method: Callable[Concatenate[A, P], Awaitable[Any]],
        *,
        wrap: Callable[[Any, ExecutionStrategy[Any]], T] | None = None,
        offload: Sequence[str] = (),
    ) -> None:
        self._method = method
        self._wrap = wrap
        self._offload = tuple(offload)
        self._signature = inspect.signature(method) if offload else None
        self.__doc__ = method.__doc__

    def _offloaded(
        self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        assert self._signature is not None
        bound = self._signature.bind(target, *args, **kwargs)
        for name in self._offload:
            if name in bound.arguments:
                bound.arguments[name] = offload_sync_callable(bound.arguments[name])
        return bound.args[1:], bound.kwargs

    @overload
    def __get__(self, obj: None, owner: type) -> blocking[A, P, T]: ...
    @overload
    def __get__(self, obj: SyncProxy[Any], owner: type) -> Callable[P, T]: ...
    def __get__(self, obj: SyncProxy[Any] | None, owner: type) -> blocking[A, P, T] | Callable[P, T]:
        if obj is None:
            return self
        return cast("Callable[P, T]", types.MethodType(self._call, obj))

    def _call(self, proxy: SyncProxy[Any], /, *args: Any, **kwargs: Any) -> Any:
        target, method = proxy._target, self._method
        if self._offload:
            args, kwargs = self._offloaded(target, args, kwargs)
        value = proxy._strategy.run(
            lambda _: _awaited(method(target, *args, **kwargs)), what=self._what, stacklevel=2, on_loop_thread=True
        )
        return value if self._wrap is None else self._wrap(value, proxy._strategy)


class iterating(_Descriptor, Generic[A, P, T]):
    """A method returning an async iterator or iterable, as a method returning a :class:`SyncIterator`."""

    def __init__(self, method: Callable[Concatenate[A, P], AsyncIterator[T] | AsyncIterable[T]]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> iterating[A, P, T]: ...
    @overload
    def __get__(self, obj: SyncProxy[Any], owner: type) -> Callable[P, SyncIterator[T]]: ...
    def __get__(self, obj: SyncProxy[Any] | None, owner: type) -> iterating[A, P, T] | Callable[P, SyncIterator[T]]:
        if obj is None:
            return self
        return cast("Callable[P, SyncIterator[T]]", types.MethodType(self._call, obj))

    def _call(self, proxy: SyncProxy[Any], /, *args: Any, **kwargs: Any) -> SyncIterator[T]:
        target, method = proxy._target, self._method
        source = proxy._strategy.call_on_loop(lambda: method(target, *args, **kwargs))
        return SyncIterator(source, proxy._strategy, what=self._what)


class wrapping(_Descriptor, Generic[A, P, W]):
    """A plain method returning an async object, as a method returning that object's proxy."""

    def __init__(
        self, method: Callable[Concatenate[A, P], Any], proxy: Callable[[Any, ExecutionStrategy[Any]], W]
    ) -> None:
        self._method = method
        self._proxy = proxy
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> wrapping[A, P, W]: ...
    @overload
    def __get__(self, obj: SyncProxy[Any], owner: type) -> Callable[P, W]: ...
    def __get__(self, obj: SyncProxy[Any] | None, owner: type) -> wrapping[A, P, W] | Callable[P, W]:
        if obj is None:
            return self
        return cast("Callable[P, W]", types.MethodType(self._call, obj))

    def _call(self, proxy: SyncProxy[Any], /, *args: Any, **kwargs: Any) -> W:
        target, method = proxy._target, self._method
        return self._proxy(proxy._strategy.call_on_loop(lambda: method(target, *args, **kwargs)), proxy._strategy)


class plain(_Descriptor, Generic[A, P, T]):
    """A plain method that does no I/O (``done()``, ``continuation_token()``), called directly."""

    def __init__(self, method: Callable[Concatenate[A, P], T]) -> None:
        self._method = method
        self.__doc__ = method.__doc__

    @overload
    def __get__(self, obj: None, owner: type) -> plain[A, P, T]: ...
    @overload
    def __get__(self, obj: SyncProxy[Any], owner: type) -> Callable[P, T]: ...
    def __get__(self, obj: SyncProxy[Any] | None, owner: type) -> plain[A, P, T] | Callable[P, T]:
        if obj is None:
            return self
        return functools.partial(self._method, obj._target)


class SyncIterator(Iterator[T]):
    """Iterate an async iterator from synchronous code: each ``next()`` runs one ``__anext__`` on the loop.

    Close it (``close()`` or ``with``) when stopping early, so that the async generator behind it runs its
    cleanup at once; one that is garbage-collected unfinished is finalised on the loop by asyncio.
    """

    def __init__(
        self, source: AsyncIterator[T] | AsyncIterable[T], strategy: ExecutionStrategy[Any], *, what: str
    ) -> None:
        self._iterator: AsyncIterator[T] = source if isinstance(source, AsyncIterator) else aiter(source)
        self._strategy = strategy
        self._what = what
        self._done = False

    def __iter__(self) -> SyncIterator[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        try:
            return self._strategy.run(self._anext, what=self._what, stacklevel=2, on_loop_thread=True)
        except StopAsyncIteration:
            self._done = True
            raise StopIteration from None
        except BaseException:
            self._done = True  # an async generator that raised is finished
            raise

    async def _anext(self, _client: object) -> T:
        return await self._iterator.__anext__()

    def close(self) -> None:
        """Stop early: finalise the async generator (runs its ``finally`` blocks). Idempotent."""
        if self._done:
            return
        self._done = True
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None and not self._strategy.closed and not self._strategy.forked:
            self._strategy.run(lambda _: aclose(), what=f"closing {self._what}", stacklevel=2, on_loop_thread=True)

    def __enter__(self) -> SyncIterator[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
