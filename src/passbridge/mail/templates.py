"""Mail bodies from Jinja2 templates (web/templates/mail/NAME.txt and NAME.html): the plain-text part
unescaped, the HTML part escaped, both strict about missing values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from passbridge.clock import iso_z

HERE = Path(__file__).resolve().parent.parent / "web" / "templates"


def _when(value: Any) -> str:
    # As the pages write times (web/pages.py): in UTC, since a mail cannot know the reader's zone.
    return f"{value.day} {value:%b %Y, %H:%M} UTC"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        # The HTML part is escaped; the plain-text part is not HTML, so escaping would only garble it.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["when"] = _when
    environment.filters["iso"] = iso_z
    return environment


_TEMPLATES = _environment()


def render(template: str, /, **context: Any) -> tuple[str, str]:
    """The plain-text and HTML bodies of mail/TEMPLATE."""
    text = _TEMPLATES.get_template(f"mail/{template}.txt").render(**context)
    html = _TEMPLATES.get_template(f"mail/{template}.html").render(**context)
    return text, html
