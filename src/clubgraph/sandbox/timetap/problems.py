"""TimeTap error bodies: ``{"errors": [{"errorCode", "errorMessage", "fieldName"}]}``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One error as the sandbox reports it."""

    code: str
    message: str
    field: str | None = None

    def view(self) -> dict[str, str | None]:
        """The error object as TimeTap sends it."""
        return {"errorCode": self.code, "errorMessage": self.message, "fieldName": self.field}


class TimeTapProblem(Exception):
    """Raised by a handler; the app turns it into an error response."""

    def __init__(self, status: int, *problems: Problem) -> None:
        super().__init__(problems[0].message if problems else str(status))
        self.status = status
        self.problems = problems

    def body(self) -> dict[str, list[dict[str, str | None]]]:
        """The error response body."""
        return {"errors": [p.view() for p in self.problems]}


def not_found(what: str, ident: object) -> TimeTapProblem:
    """A 404 for an unknown or foreign id."""
    code = f"{what.upper()}_NOT_FOUND"
    return TimeTapProblem(404, Problem(code, f"No {what} with id {ident}"))


def bad_request(code: str, message: str, field: str | None = None) -> TimeTapProblem:
    """A 400 with one error."""
    return TimeTapProblem(400, Problem(code, message, field))
