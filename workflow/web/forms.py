"""What the reference data's forms share (issue 15, item 6): a posted form read as text (CSRF
checked first), dates and numbers parsed by workflow.validation with the field's French name,
and a refusal placed next to its field. The checks themselves are the services' (workflow.
directory, workflow.accounts): a form re-renders with their French message and nothing written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from fastapi import Request
from starlette.datastructures import FormData

from workflow import validation
from workflow.errors import FidelisError, InvalidInput, NotFound
from workflow.schemes import UnknownScheme
from workflow.territory import UnknownCommune
from workflow.web.deps import check_csrf

# The record a NotFound names, and the field that chose it.
_NOT_FOUND_FIELDS = {"Institut": "institute", "Employeur": "employer", "Apprenant": "learner"}


@dataclass
class Form:
    """A posted form's text fields (as typed, for the page to show again) and its refusal."""

    data: FormData
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.data.get(name)
        return value if isinstance(value, str) else ""

    def texts(self, name: str) -> list[str]:
        return [v for v in self.data.getlist(name) if isinstance(v, str)]

    def checked(self, name: str) -> bool:
        return self.text(name) != ""

    def optional(self, name: str) -> str | None:
        return self.text(name).strip() or None

    def day(self, name: str, label: str) -> date:
        """The date typed in `name` (JJ/MM/AAAA or AAAA-MM-JJ), the refusal naming `label`."""
        try:
            return validation.parse_date(self.text(name), label)
        except InvalidInput as exc:
            raise InvalidInput(str(exc), name) from None

    def optional_day(self, name: str, label: str) -> date | None:
        return self.day(name, label) if self.text(name).strip() else None

    def ident(self, name: str, label: str) -> int:
        """The record chosen in `name` (its number), the refusal naming `label`."""
        try:
            return validation.ident(self.text(name), label)
        except InvalidInput as exc:
            raise InvalidInput(str(exc), name) from None

    def number(self, name: str, label: str) -> int:
        """A whole number typed in `name` (places, a year)."""
        typed = self.text(name).strip()
        if not typed.isdigit() or len(typed) > 6:
            raise InvalidInput(
                f"{label} : « {validation.shown(typed)} » n'est pas un nombre entier.", name
            )
        return int(typed)

    def refused(self, exc: FidelisError) -> None:
        """Place the service's refusal next to its field (or above the form)."""
        self.errors[field_of(exc)] = str(exc)

    def shown(self) -> dict[str, str]:
        """The values typed, as the page shows them again: control characters replaced."""
        return {k: validation.control_free(v) for k, v in self.data.items() if isinstance(v, str)}


def field_of(exc: FidelisError) -> str:
    """The form field a refusal is about; `form` for the whole form."""
    if isinstance(exc, InvalidInput) and exc.field:
        return exc.field
    if isinstance(exc, UnknownCommune):
        return "commune"
    if isinstance(exc, UnknownScheme):
        return "schemes"
    if isinstance(exc, NotFound):
        return _NOT_FOUND_FIELDS.get(exc.what, "form")
    return "form"


async def posted(request: Request) -> Form:
    """The request's form, its CSRF token checked before anything is read."""
    data = await request.form()
    check_csrf(request, str(data.get("csrf", "")))
    return Form(data)


__all__ = ["Form", "field_of", "posted"]
