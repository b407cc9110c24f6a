"""Render a Word template (docxtpl) with a context: strict, escaped, reproducible.

How docxtpl 0.20 uses what we give it (read in `docxtpl/template.py`, not guessed):

- `DocxTemplate.render(context, jinja_env, autoescape=True)` sets `jinja_env.autoescape = True`
  on the environment it is given (it only builds its own `Environment(autoescape=True)` when
  none is passed), then renders the body, every header and footer, the core properties
  (title, subject… through `jinja_env.from_string`) and the footnotes with that one
  environment. Our environment already has `autoescape=True` and `undefined=StrictUndefined`,
  so docxtpl's assignment changes nothing and every part is strict and escaped.
- Values are escaped by Jinja (`&` `<` `>` `'` `"` become entities) *inside the XML text*, so a
  learner named `Zoé <O'Brien> & {{ fils }}` reads literally: the template's tags are parsed
  once, before the values are inserted, and a value is never parsed as a template.
- After rendering, docxtpl re-parses the XML with lxml's `recover=True` parser (`fix_tables`),
  which would silently drop what it cannot read: escaping is what keeps user text intact, and we
  also remove the characters XML 1.0 forbids (control characters) from every string value.
- docxtpl turns `\\n` in a value into a line break and `\\t` into a tab (`resolve_listing`); the
  other control characters it interprets (`\\a`, `\\f`) are removed with the forbidden ones.
- A Jinja error is raised as is (`jinja2.TemplateError`); an undefined variable under
  `StrictUndefined` is `jinja2.UndefinedError`, which only names the last attribute. We wrap
  every mapping of the context in a `dict` that knows its path, so the error can name the whole
  variable (`learner.birth_date`, `calendar[3].month`): `MissingVariable`.

Reproducibility: python-docx writes the zip entries with the current time, so two renderings of
the same template and context differ only in those timestamps. `render_docx` rewrites the
archive with a fixed timestamp (1980-01-01), in the same entry order: the same template and the
same context give the same bytes (with the same versions of docxtpl, python-docx, lxml and zlib).
The core properties (author, dates) are those of the template: nothing is stamped at rendering.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from jinja2 import Environment, StrictUndefined, TemplateError, UndefinedError
from markupsafe import Markup

from workflow.errors import FidelisError

__all__ = ["DocumentError", "MissingVariable", "environment", "render_docx", "reproducible_zip"]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# Characters XML 1.0 does not allow (tab and line feed are allowed and meaningful to docxtpl;
# a carriage return is folded into the line feed).
_FORBIDDEN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class DocumentError(FidelisError):
    """A document cannot be produced: bad template, missing data, failed conversion."""


class MissingVariable(DocumentError):
    """The template uses a variable the context does not give: never a blank in a legal text."""

    def __init__(self, template: str, variable: str) -> None:
        super().__init__(f"Variable manquante dans le modèle {template} : {variable}")
        self.template = template
        self.variable = variable


class _Node(dict[str, Any]):
    """A mapping of the context that knows where it is (for the error message)."""

    __slots__ = ("fidelis_path",)

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        super().__init__(data)
        self.fidelis_path = path


class _Undefined(UndefinedError):
    def __init__(self, variable: str) -> None:
        super().__init__(f"undefined variable {variable}")
        self.variable = variable


class _StrictPathUndefined(StrictUndefined):
    """StrictUndefined that raises an error carrying the full path of the missing variable."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = self._undefined_name
        owner = self._undefined_obj
        if isinstance(owner, _Node) and owner.fidelis_path:
            variable = f"{owner.fidelis_path}.{name}"
        elif name is not None:
            variable = str(name)
        else:  # pragma: no cover - Jinja always names what it looks up in templates
            variable = self._undefined_message
        raise _Undefined(variable)

    # StrictUndefined binds these to the base class's method: bind them to ours.
    __str__ = __iter__ = __len__ = __bool__ = _fail_with_undefined_error
    __eq__ = __ne__ = __hash__ = __contains__ = _fail_with_undefined_error


def _clean(text: str) -> str:
    return _FORBIDDEN_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _prepare(value: Any, path: str) -> Any:
    """The context as plain data: mappings know their path, strings are XML-safe."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return _Node(
            {str(k): _prepare(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()},
            path,
        )
    if isinstance(value, list | tuple):
        return [_prepare(v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _finalize(value: Any) -> Any:
    # A None printed in a legal text would read "None": the context functions never print one.
    if value is None:
        raise DocumentError(
            "Valeur absente (None) imprimée dans un modèle : le contexte est incomplet."
        )
    return value


def environment() -> Environment:
    """The Jinja environment of every document: escaped, strict, no None printed."""
    return Environment(autoescape=True, undefined=_StrictPathUndefined, finalize=_finalize)


def reproducible_zip(data: bytes) -> bytes:
    """The same archive with fixed timestamps and attributes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            info.create_system = 3
            dst.writestr(info, src.read(item.filename))
    return out.getvalue()


def _fit_table_grids(root: Any) -> None:
    """Make each table's grid (`w:tblGrid`) follow the widths of its widest row's cells.

    A `{%tc for %}` loop changes the number of cells of a row; docxtpl's `fix_tables` then adds
    or removes grid columns at the *end* of the grid and spreads their width evenly, so the
    grid no longer matches the cells (LibreOffice lays tables out by the grid: a 0.6 cm
    column where a 3 cm one should be). The cells' own widths (`w:tcW`) are right: copy them."""
    from docx.oxml.ns import qn

    for tbl in root.iter(qn("w:tbl")):
        grid = tbl.find(qn("w:tblGrid"))
        if grid is None:
            continue
        columns = grid.findall(qn("w:gridCol"))
        for tr in tbl.findall(qn("w:tr")):
            widths: list[str] = []
            for tc in tr.findall(qn("w:tc")):
                pr = tc.find(qn("w:tcPr"))
                width = pr.find(qn("w:tcW")) if pr is not None else None
                span = pr.find(qn("w:gridSpan")) if pr is not None else None
                if width is None or width.get(qn("w:type")) != "dxa" or span is not None:
                    widths = []
                    break
                widths.append(width.get(qn("w:w")))
            if widths and len(widths) == len(columns):
                for column, value in zip(columns, widths, strict=True):
                    column.set(qn("w:w"), value)
                break


def render_docx(template: Path, context: Mapping[str, Any]) -> bytes:
    """Render `template` (a .docx with docxtpl tags) with `context`; return the .docx bytes.

    Raises MissingVariable when the template uses a variable the context lacks, DocumentError
    when the template is missing or invalid."""
    from docxtpl import DocxTemplate  # docxtpl imports lxml and python-docx: only when needed

    if not template.is_file():
        raise DocumentError(f"Modèle de document introuvable : {template}")
    tpl = DocxTemplate(str(template))
    prepared = _prepare(context, "")
    try:
        tpl.render(prepared, environment(), autoescape=True)
    except _Undefined as exc:
        raise MissingVariable(template.name, exc.variable) from None
    except TemplateError as exc:
        raise DocumentError(f"Modèle {template.name} invalide : {exc}") from exc
    _fit_table_grids(tpl.docx.element)
    buffer = io.BytesIO()
    tpl.save(buffer)
    return reproducible_zip(buffer.getvalue())
