"""Who a call to the gateway acts for: a staff token whose server-side session is still open (every `/api/*`
call and the `/ws` upgrade), and the clock sign-in and sessions are judged by (replaceable in tests)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from relay_gateway import flows
from relay_gateway.models import SignInSession
from relay_kit.auth import StaffPrincipal, bearer_token
from relay_kit.errors import Unauthorized

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def clock_of(connection: HTTPConnection) -> Clock:
    """The app's clock (`app.state.clock`)."""
    return getattr(connection.app.state, "clock", system_clock)


def token_of(connection: HTTPConnection) -> str | None:
    """The token of a call: `Authorization: Bearer …`, else the session cookie."""
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return connection.cookies.get("relay_session")


@dataclass(frozen=True)
class SignedIn:
    """A staff member on an open session."""

    staff: StaffPrincipal
    session: SignInSession
    token: str


async def signed_in(connection: HTTPConnection, token: str | None = None) -> SignedIn:
    """The staff member and open session a token names; Unauthorized for no token, a bad one or an ended session."""
    token = token if token is not None else token_of(connection)
    if not token:
        raise Unauthorized("Sign in first: this needs a staff session token.")
    settings = connection.app.state.settings
    staff, session = await flows.open_session(database=connection.app.state.runtime.database, token=token,
                                              secret=settings.jwt_secret.get_secret_value(),
                                              now=clock_of(connection)())
    return SignedIn(staff=staff, session=session, token=token)


async def _signed_in(request: Request) -> SignedIn:
    return await signed_in(request, bearer_token(request))


def _now(request: Request) -> datetime:
    return clock_of(request)()


SignedInStaff = Annotated[SignedIn, Depends(_signed_in)]
Now = Annotated[datetime, Depends(_now)]
