"""`RefusalRoute`: an APIRoute that answers chosen exceptions of its endpoint itself (JSON, a page, ...)."""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute


class RefusalRoute(APIRoute):
    """A route that turns the exceptions in `caught` into the answer `refusal` gives."""

    # Route-level rather than app-level handlers: each router answers the same refusal its own way.
    caught: tuple[type[Exception], ...] = ()

    def refusal(self, request: Request, exc: Exception) -> Response:
        """The answer to a caught exception; subclasses say what it is."""
        raise NotImplementedError

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The default handler, wrapped to answer the caught exceptions with `refusal`."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            """Run the route; answer a caught exception with `refusal`."""
            try:
                return await handler(request)
            except self.caught as exc:
                return self.refusal(request, exc)

        return handle
