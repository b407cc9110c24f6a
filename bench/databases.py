"""Fresh synthetic databases for the benchmarks, on SQLite or on PostgreSQL: each size is
generated once (bench.synthetic) into a template, then every benchmark gets its own copy — a file
copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL — so that runs do not disturb each
other and the generation is paid once."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from bench.synthetic import generate


@dataclass
class Databases:
    """`work`: a folder for the SQLite files; `pg_url`: a PostgreSQL server's admin URL (None:
    SQLite)."""

    work: Path
    pg_url: str | None = None
    _templates: dict[int, str] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return "postgresql" if self.pg_url else "sqlite"

    def _admin(self) -> sa.Engine:
        assert self.pg_url is not None
        return sa.create_engine(self.pg_url, isolation_level="AUTOCOMMIT")

    def _pg_database(self, name: str, template: str | None = None) -> str:
        assert self.pg_url is not None
        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(sa.text(f'CREATE DATABASE "{name}"{clause}'))
        admin.dispose()
        url = sa.make_url(self.pg_url).set(database=name)
        return str(url.render_as_string(hide_password=False))

    def template(self, cases: int) -> str:
        """The URL of the generated template of `cases` cases (generated on first use)."""
        if cases not in self._templates:
            if self.pg_url:
                url = self._pg_database(f"bench_template_{cases}")
            else:
                url = f"sqlite:///{self.work / f'template-{cases}.db'}"
            generate(url, cases)
            self._templates[cases] = url
        return self._templates[cases]

    def fresh(self, cases: int) -> str:
        """A new database holding a copy of the template of `cases` cases; its URL."""
        template = self.template(cases)
        name = f"bench_{cases}_{uuid.uuid4().hex[:8]}"
        if self.pg_url:
            return self._pg_database(name, template=sa.make_url(template).database)
        path = self.work / f"{name}.db"
        shutil.copy(sa.make_url(template).database or "", path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        """Remove a copy made by `fresh` (its engine disposed first)."""
        if self.pg_url:
            admin = self._admin()
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(url).database}"'))
            admin.dispose()
        else:
            Path(sa.make_url(url).database or "").unlink(missing_ok=True)
