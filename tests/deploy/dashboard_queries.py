"""Reading a Grafana dashboard JSON: its panels, their PromQL queries, the
variables they use, Grafana-style variable substitution, and the metric names a
PromQL expression refers to. Python standard library only."""
import json
import re

# Variables Grafana defines itself.
BUILTIN_VARIABLES = {
    "__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
    "__range_ms", "__from", "__to", "__dashboard", "__org", "__user",
    "__name", "timeFilter", "__timeFilter",
}

# ${var}, ${var:format}, [[var]], [[var:format]], $var
VARIABLE_RE = re.compile(
    r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")

PROMQL_KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "inf", "nan", "start", "end",
}


class DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def loads(text):
    """Parses dashboard JSON; a key given twice in one object is an error
    (Grafana would silently keep the last one)."""
    return json.loads(text, object_pairs_hook=_no_duplicates)


def load(path):
    with open(path) as f:
        return loads(f.read())


def all_panels(dashboard):
    """Every panel, rows included, with the panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        for child in panel.get("panels", []) or []:
            yield child


def queries(dashboard):
    """(panel, target) for every target that has a PromQL expression."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []) or []:
            yield panel, target


def variable_names(text):
    for m in VARIABLE_RE.finditer(text):
        yield m.group(1) or m.group(2) or m.group(3)


def substitute(text, values):
    """Replaces every Grafana variable reference by values[name]; raises
    KeyError for a variable that has no value."""
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values[name]
    return VARIABLE_RE.sub(repl, text)


def promql_regex_literal(value):
    """`value` as an exact-match regex inside a double-quoted PromQL string,
    the way Grafana formats a variable used with =~."""
    escaped = re.sub(r"([\\.^$*+?()\[\]{}|])", r"\\\1", value)
    return escaped.replace("\\", "\\\\")


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_TOKEN_RE = re.compile(
    r"(?P<num>0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<id>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<other>\S)")


def metric_names(expr):
    """Metric names a PromQL expression selects (Grafana variables allowed)."""
    text = VARIABLE_RE.sub("1", expr)
    text = _STRING_RE.sub('""', text)
    # Label matchers ({...}) may hold label names; ranges and subqueries
    # ([5m], [1h:1m]) and `offset 5m` hold durations.
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-zA-Z]+", " ", text)
    # by (...), on (...), group_left (...) hold label names.
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                  " ", text)
    names = []
    tokens = list(_TOKEN_RE.finditer(text))
    for i, tok in enumerate(tokens):
        ident = tok.group("id")
        if not ident or ident.lower() in PROMQL_KEYWORDS:
            continue
        following = tokens[i + 1].group(0) if i + 1 < len(tokens) else ""
        if following == "(":
            continue  # a function
        names.append(ident)
    # A selector written as {__name__="x"}.
    names += re.findall(r'__name__\s*=\s*"([^"]+)"', expr)
    return names


LABEL_VALUES_RE = re.compile(r"^\s*label_values\((?:(.*),)?\s*(\w+)\s*\)\s*$")


def variable_query(variable):
    q = variable.get("query")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q or ""
