"""OData query helpers shared by collections: paging with $top and @odata.nextLink, $select,
$filter (eq and startswith joined by and), $count with Graph's ConsistencyLevel rule."""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn
from urllib.parse import urlencode

from fastapi import Request

from passbridge.directory.service import Condition
from passbridge.domain.text import unstorable_reason
from passbridge.graph.errors import GraphError
from passbridge.security.secrets import SecretKeeper

DEFAULT_PAGE = 100
MAX_PAGE = 999
INVALID_TOKEN = "The $skiptoken is invalid."


@dataclass(frozen=True)
class Page:
    """`$top`, and from the `$skiptoken` the sort key of the previous page's last item (keyset paging:
    every page costs the same wherever it starts, and rows added or removed between pages neither repeat
    nor skip the others). `kind` names the order the key belongs to."""

    top: int
    kind: str
    after: tuple[str, str] | None = None


def _top(request: Request, default: int) -> int:
    top_text = request.query_params.get("$top")
    if top_text is None:
        return default
    # ASCII digits only, and few of them: str.isdigit takes "²", which int() refuses, and int()
    # refuses more than 4,300 digits; either was a 500.
    if not (top_text.isascii() and top_text.isdigit() and len(top_text) <= 4) or not (
        1 <= int(top_text) <= MAX_PAGE
    ):
        raise GraphError(
            400,
            "badRequest",
            f"Invalid page size specified: '{top_text}'. Must be between 1 and {MAX_PAGE} inclusive.",
        )
    return int(top_text)


def _token_tag(request: Request, body: str) -> str:
    # Keyed, so that a token is one this server made for this order: anything else is refused as Graph
    # refuses a token it did not issue, instead of starting a page at a key the caller chose.
    keeper: SecretKeeper = request.app.state.env.keeper
    return keeper.keyed_hash(f"$skiptoken v1\n{body}")[:32]


def skiptoken(request: Request, kind: str, after: tuple[str, str]) -> str:
    body = base64.urlsafe_b64encode(json.dumps([kind, *after], ensure_ascii=False).encode()).decode()
    return f"{body.rstrip('=')}.{_token_tag(request, body.rstrip('='))}"


def _read_token(request: Request, token: str, kind: str) -> tuple[str, str]:
    body, _, tag = token.partition(".")
    if not hmac.compare_digest(tag.encode(), _token_tag(request, body).encode()):
        # An offset token from before keyset paging lands here too: Graph's answer to a stale token.
        raise GraphError(400, "badRequest", INVALID_TOKEN)
    values = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if not (isinstance(values, list) and len(values) == 3 and values[0] == kind):
        raise GraphError(400, "badRequest", INVALID_TOKEN)  # made for another collection
    return (str(values[1]), str(values[2]))


def page_of(request: Request, *, kind: str, default: int = DEFAULT_PAGE) -> Page:
    """The page `$top` and `$skiptoken` ask for, in the order `kind` names."""
    top = _top(request, default)
    token = request.query_params.get("$skiptoken")
    return Page(top, kind, None if token is None else _read_token(request, token, kind))


def context_url(request: Request, fragment: str) -> str:
    version = request.scope["path"].split("/")[1]
    base = request.app.state.env.settings.base_url
    return f"{base}/{version}/$metadata#{fragment}"


def collection(
    request: Request,
    fragment: str,
    items: list[dict[str, Any]],
    *,
    page: Page,
    next_after: tuple[str, str] | None,
    count: int | None = None,
) -> dict[str, Any]:
    """A page of a collection; `next_after` is the sort key of its last item when another page follows."""
    body: dict[str, Any] = {"@odata.context": context_url(request, fragment)}
    if count is not None:
        body["@odata.count"] = count
    if next_after is not None:
        params = {k: v for k, v in request.query_params.items() if k != "$skiptoken"}
        params["$skiptoken"] = skiptoken(request, page.kind, next_after)
        base = request.app.state.env.settings.base_url
        body["@odata.nextLink"] = f"{base}{request.url.path}?{urlencode(params)}"
    body["value"] = items
    return body


def refuse_unstorable_url(request: Request) -> None:
    """A 400 for a URL whose decoded path segments or query options hold a NUL (%00) or a lone
    surrogate: no id, filter literal or option of ours contains one, and PostgreSQL refuses a NUL even
    in a lookup, so each would otherwise be a 500 wherever it reached a query. Checked once for every
    Graph request (graph/auth.py), so no route has to remember it."""
    texts = [str(v) for v in request.path_params.values()]
    texts += [t for item in request.query_params.multi_items() for t in item]
    for text in texts:
        reason = unstorable_reason(text)
        if reason is not None:
            raise GraphError(
                400, "badRequest", f"The request URL contains {reason}, which is not valid text."
            )


# --- $select ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """The properties `$select` names (canonical spelling), or None for the default set: `default`, or
    every property when that is None too (Graph returns some properties only on `$select`)."""

    names: tuple[str, ...] | None = None
    default: tuple[str, ...] | None = None

    def fragment(self, entity_set: str) -> str:
        return entity_set if self.names is None else f"{entity_set}({','.join(self.names)})"

    def project(self, item: dict[str, Any]) -> dict[str, Any]:
        names = self.default if self.names is None else self.names
        if names is None:
            return item
        # Annotations such as @odata.type stay: typed clients deserialize by them.
        return {k: v for k, v in item.items() if k.startswith("@odata.") or k in names}


def select_of(
    request: Request,
    *,
    type_name: str,
    properties: Sequence[str],
    default: tuple[str, ...] | None = None,
) -> Selection:
    text = request.query_params.get("$select")
    if text is None:
        return Selection(default=default)
    canonical = {p.casefold(): p for p in properties}
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        found = canonical.get(name.casefold())
        if found is None:
            raise GraphError(
                400,
                "BadRequest",
                "Parsing OData Select and Expand failed: "
                f"Could not find a property named '{name}' on type '{type_name}'.",
            )
        if found not in names:
            names.append(found)
    return Selection(tuple(names), default)


# --- $count ----------------------------------------------------------------------------------


def require_eventual(request: Request) -> None:
    """Graph counts directory objects only when the caller accepts eventual consistency."""
    if request.headers.get("consistencylevel", "").strip().lower() != "eventual":
        raise GraphError(
            400,
            "Request_BadRequest",
            "$count is not currently supported. Send the header 'ConsistencyLevel: eventual' to count.",
        )


def count_of(request: Request) -> bool:
    text = request.query_params.get("$count")
    if text is None or text.strip().lower() == "false":
        return False
    if text.strip().lower() != "true":
        raise GraphError(400, "BadRequest", f"Invalid value '{text}' for $count; use true or false.")
    require_eventual(request)
    return True


# --- $filter ---------------------------------------------------------------------------------

FilterKind = Literal["text", "id", "bool", "datetime"]
MAX_FILTER_LENGTH = 2048
MAX_NESTING = 8
_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),])|(?P<word>[^\s(),']+))")
_UNSUPPORTED_OPERATORS = frozenset({"ne", "gt", "ge", "lt", "le", "in", "has", "or", "not", "any", "all"})
SUPPORTED = (
    "Passbridge supports eq and startswith(property,'text') (and ge and le on dates), joined with and."
)
# Comparisons beyond eq, by the kinds of property that take them.
_ORDERED_OPERATORS = {"ge", "le"}


def _invalid_clause(detail: str) -> GraphError:
    return GraphError(400, "BadRequest", f"Invalid filter clause: {detail}")


def _unsupported(message: str) -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", f"{message} {SUPPORTED}")


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            at = len(text) - len(text[position:].lstrip())
            raise _invalid_clause(f"syntax error at position {at} in '{text}'.")
        out.append((match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return out


class _FilterParser:
    def __init__(self, text: str, resource: str, fields: Mapping[str, FilterKind]) -> None:
        self.text, self.resource = text, resource
        self.fields = {name.casefold(): (name, kind) for name, kind in fields.items()}
        self.tokens = _tokens(text)
        self.at = 0

    def parse(self) -> list[Condition]:
        if not self.tokens:
            raise _invalid_clause("the filter is empty.")
        conditions = self._expression(0)
        if self.at < len(self.tokens):
            self._unexpected()
        return conditions

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _invalid_clause(f"unexpected end of '{self.text}'.")
        self.at += 1
        return token

    def _expect(self, punct: str) -> None:
        if self._take() != ("punct", punct):
            self.at -= 1
            self._unexpected()

    def _unexpected(self) -> NoReturn:
        kind, value = self.tokens[self.at]
        if kind == "word" and value.lower() in _UNSUPPORTED_OPERATORS:
            raise _unsupported(f"Filter operator '{value}' is not supported.")
        raise _invalid_clause(f"unexpected '{value}' in '{self.text}'.")

    def _expression(self, depth: int) -> list[Condition]:
        if depth > MAX_NESTING:
            raise _invalid_clause("parentheses are nested too deeply.")
        conditions = self._term(depth)
        while (token := self._peek()) is not None and token[0] == "word" and token[1].lower() == "and":
            self.at += 1
            conditions += self._term(depth)
        return conditions

    def _term(self, depth: int) -> list[Condition]:
        kind, value = self._take()
        if (kind, value) == ("punct", "("):
            inner = self._expression(depth + 1)
            self._expect(")")
            return inner
        if kind != "word":
            self.at -= 1
            self._unexpected()
        if value.lower() in _UNSUPPORTED_OPERATORS:
            raise _unsupported(f"Filter operator '{value}' is not supported.")
        if self._peek() == ("punct", "("):
            return [self._function(value)]
        name, field_kind = self._field(value)
        operator = self._take()
        op = operator[1].lower() if operator[0] == "word" else ""
        if op in _ORDERED_OPERATORS and field_kind == "datetime":
            return [Condition(name, "ge" if op == "ge" else "le", self._datetime(name, allow_null=False))]
        if op != "eq":
            self.at -= 1
            self._unexpected()
        if field_kind == "datetime":
            return [Condition(name, "eq", self._datetime(name, allow_null=True))]
        literal = self._literal()
        self._check_type(name, field_kind, literal)
        return [Condition(name, "eq", literal)]

    def _datetime(self, name: str, *, allow_null: bool) -> datetime | None:
        """An OData DateTimeOffset literal: unquoted, with its offset (2027-01-04T00:00:00Z)."""
        kind, value = self._take()
        if kind == "word" and value.lower() == "null" and allow_null:
            return None
        parsed = parse_datetime_offset(value) if kind == "word" else None
        if parsed is None:
            raise _invalid_clause(
                f"'{name}' compares with an unquoted date and time with its offset, "
                "such as 2027-01-04T00:00:00Z."
            )
        return parsed

    def _function(self, function: str) -> Condition:
        if function.lower() != "startswith":
            raise _unsupported(f"Filter function '{function}' is not supported.")
        self._expect("(")
        kind, prop = self._take()
        if kind != "word":
            self.at -= 1
            self._unexpected()
        name, field_kind = self._field(prop)
        if field_kind != "text":
            raise self._unsupported_property(name)
        self._expect(",")
        literal = self._literal()
        self._expect(")")
        if not isinstance(literal, str):
            raise _invalid_clause(f"startswith on '{name}' needs a quoted string.")
        return Condition(name, "startswith", literal)

    def _field(self, text: str) -> tuple[str, FilterKind]:
        found = self.fields.get(text.casefold())
        if found is None:
            raise self._unsupported_property(text)
        return found

    def _unsupported_property(self, name: str) -> GraphError:
        return _unsupported(
            "Unsupported or invalid query filter clause specified for property "
            f"'{name}' of resource '{self.resource}'."
        )

    def _literal(self) -> str | bool | None:
        kind, value = self._take()
        if kind == "string":
            return value[1:-1].replace("''", "'")
        words: dict[str, bool | None] = {"true": True, "false": False, "null": None}
        if kind == "word" and value.lower() in words:
            return words[value.lower()]
        self.at -= 1
        self._unexpected()

    @staticmethod
    def _check_type(name: str, kind: FilterKind, literal: str | bool | None) -> None:
        fits = {
            "text": literal is None or isinstance(literal, str),
            "id": isinstance(literal, str),
            "bool": isinstance(literal, bool),
            "datetime": False,  # parsed by _datetime
        }[kind]
        if not fits:
            wanted = {
                "text": "a quoted string",
                "id": "a quoted id",
                "bool": "true or false",
                "datetime": "a date and time",
            }[kind]
            raise _invalid_clause(f"'{name}' compares with {wanted}.")


def parse_datetime_offset(text: str) -> datetime | None:
    """An ISO 8601 date and time with its offset ("Z" or "+01:00"), as Graph's DateTimeOffset; None
    when it is not one (no offset, or not a date)."""
    if not (10 < len(text) <= 40 and text[:4].isdigit() and text.isascii()):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def filter_of(request: Request, *, resource: str, fields: Mapping[str, FilterKind]) -> list[Condition]:
    """Parse `$filter` into ANDed conditions on the given properties; anything else is refused."""
    text = request.query_params.get("$filter")
    if text is None:
        return []
    if len(text) > MAX_FILTER_LENGTH:
        raise _invalid_clause(f"the filter is longer than {MAX_FILTER_LENGTH} characters.")
    return _FilterParser(text, resource, fields).parse()


# --- a whole collection query ----------------------------------------------------------------

_UNSUPPORTED_OPTIONS = frozenset({"$orderby", "$search", "$expand", "$skip", "$apply", "$compute", "$format"})


def _check_options(request: Request, allowed: frozenset[str]) -> None:
    for name in request.query_params:
        if not name.startswith("$") or name in allowed:
            continue
        if name in _UNSUPPORTED_OPTIONS:
            raise GraphError(
                400, "Request_UnsupportedQuery", f"The query option '{name}' is not supported by Passbridge."
            )
        raise GraphError(400, "BadRequest", f"The query parameter '{name}' is not supported.")


@dataclass(frozen=True)
class Ordering:
    """`$orderby`: one property, ascending or not."""

    name: str
    descending: bool = False


def order_of(request: Request, *, resource: str, orderable: Sequence[str]) -> Ordering | None:
    text = request.query_params.get("$orderby")
    if text is None:
        return None
    words = text.split()
    direction_ok = len(words) == 1 or (len(words) == 2 and words[1].lower() in ("asc", "desc"))
    if not direction_ok or "," in text:
        raise GraphError(
            400,
            "BadRequest",
            f"Invalid $orderby '{text[:100]}': give one property, then asc or desc. "
            f"Passbridge orders {resource.lower()}s by {' or '.join(orderable)}.",
        )
    canonical = {p.casefold(): p for p in orderable}
    name = canonical.get(words[0].casefold())
    if name is None:
        raise GraphError(
            400, "Request_UnsupportedQuery", f"Unsupported sort property '{words[0][:100]}' for '{resource}'."
        )
    return Ordering(name, len(words) == 2 and words[1].lower() == "desc")


@dataclass(frozen=True)
class ListQuery:
    page: Page
    selection: Selection
    conditions: list[Condition]
    count: bool
    order: Ordering | None = None


def list_query(
    request: Request,
    *,
    type_name: str,
    resource: str,
    properties: Sequence[str],
    filters: Mapping[str, FilterKind],
    order: str,
    orderable: Sequence[str] = (),
    default: tuple[str, ...] | None = None,
) -> ListQuery:
    """The OData options of a directory collection, validated before any work is done. A `$skiptoken`
    belongs to one order: `order`, or with `$orderby` (over `orderable`) that order's own."""
    allowed = {"$select", "$filter", "$top", "$skiptoken", "$count"} | ({"$orderby"} if orderable else set())
    _check_options(request, frozenset(allowed))
    ordering = order_of(request, resource=resource, orderable=orderable) if orderable else None
    if ordering is not None:
        order = f"{order}:{ordering.name}:{'desc' if ordering.descending else 'asc'}"
    return ListQuery(
        page_of(request, kind=order),
        select_of(request, type_name=type_name, properties=properties, default=default),
        filter_of(request, resource=resource, fields=filters),
        count_of(request),
        ordering,
    )


def count_query(request: Request, *, resource: str, filters: Mapping[str, FilterKind]) -> list[Condition]:
    """`GET .../$count`: needs ConsistencyLevel: eventual; only $filter narrows it."""
    _check_options(request, frozenset({"$filter"}))
    require_eventual(request)
    return filter_of(request, resource=resource, fields=filters)


def entity_query(
    request: Request, *, type_name: str, properties: Sequence[str], default: tuple[str, ...] | None = None
) -> Selection:
    """One object: only $select applies."""
    _check_options(request, frozenset({"$select"}))
    return select_of(request, type_name=type_name, properties=properties, default=default)
