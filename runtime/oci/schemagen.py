"""Generate the fast config validator from the JSON schemas in spec/.

The schemas are read once, at build time, and turned into plain Python
functions (runtime/oci/schema_gen.py): one ``if`` per constraint, no schema
walking at run time, no imports.  Importing it and checking a typical
config.json costs about a millisecond.  The alternatives cost more than the
whole budget before checking anything: jsonschema takes tens of milliseconds
to import, and fastjsonschema's generated code imports fastjsonschema itself
and ``decimal``.  Even ``re`` is avoided: the spec's patterns are simple
anchored character-class sequences, matched here by a ten-line loop
(compile_pattern); any other pattern falls back to ``re``, imported on use.

The generator handles the Draft 4 keywords the spec schemas use (type,
properties, required, additionalProperties, items, minItems, enum, pattern,
minimum, maximum, allOf, $ref) and refuses any other keyword, so a schema
change that needs more cannot pass silently.

Generated entry points, one per top-level schema: ``validate_config(data, err)``,
``validate_state(data, err)``, ``validate_features(data, err)``.  Each calls
``err(path, kind, arg, value)`` for a problem and carries on with the sibling
fields, so the caller decides: raise on the first (validate) or collect all
(check).  ``kind`` is the failing keyword; ``arg`` its value in the schema.

Usage: ``python3 -m pyrunc.oci.schemagen [--spec DIR] [--out FILE]`` (an
installed pyrunc has no spec/ of its own: pass --spec).
This module imports nothing from pyrunc: setup.py loads it by file path.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.realpath(__file__))
DEFAULT_SPEC = os.path.normpath(os.path.join(HERE, os.pardir, os.pardir, "spec"))
DEFAULT_OUT = os.path.join(HERE, "schema_gen.py")

# entry point name -> top-level schema file
ENTRY_POINTS = {
    "config": "config-schema.json",
    "state": "state-schema.json",
    "features": "features-schema.json",
}

_IGNORED = {"description", "$schema", "id", "title", "definitions"}
_CONSTRAINTS = {"properties", "required", "additionalProperties", "items", "minItems", "enum",
                "pattern", "minimum", "maximum"}
_KNOWN = _IGNORED | _CONSTRAINTS | {"type", "allOf", "$ref"}

# Draft 4 types: "integer" excludes floats (1.0 is a number, not an integer)
# and booleans are never numbers.
_TYPE_TESTS = {
    "object": "isinstance({v}, dict)",
    "array": "isinstance({v}, list)",
    "string": "isinstance({v}, str)",
    "boolean": "isinstance({v}, bool)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool))",
    "number": "(isinstance({v}, (int, float)) and not isinstance({v}, bool))",
    "null": "{v} is None",
}


def path_key(key):
    """How a key is written in a JSON path: ``.name``, or ``["odd.name"]``."""
    if key.isidentifier():
        return "." + key
    return '["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'


_HELPERS_SOURCE = '''
def _search(pattern, value):
    import re
    return re.search(pattern, value) is not None


def _match_all(tokens, value):
    i, n = 0, len(value)
    for chars, negated, low, high in tokens:
        j = i
        while j < n and (high is None or j - i < high) and (value[j] in chars) != negated:
            j += 1
        if j - i < low:
            return False
        i = j
    return i == n


def _matches(tokens, value):
    # "$" also matches before a final newline, as in re.
    return _match_all(tokens, value) or (value[-1:] == "\\n" and _match_all(tokens, value[:-1]))


def _key(key):
    if key.isidentifier():
        return "." + key
    return '["' + key.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"') + '"]'
'''


def compile_pattern(pattern):
    """Turn a simple anchored pattern into match tokens, or None when it is not simple.

    Simple: ``^...$`` over literal characters and ``[...]`` classes, each
    optionally followed by ``*`` or ``+``, where every repeated element is last
    or followed by a required element it shares no character with.  Then
    matching greedily, without backtracking, is exact, and the runtime needs
    no ``re`` (whose import costs more than all the rest of validation).
    Tokens are ``(chars, negated, min, max)``; max None is unbounded.
    """
    if not (pattern.startswith("^") and pattern.endswith("$")) or pattern.endswith("\\$"):
        return None
    body, i, tokens = pattern[1:-1], 0, []
    while i < len(body):
        if body[i] == "[":
            chars, negated, i = _parse_class(body, i + 1)
            if chars is None:
                return None
        elif body[i] in ".()|?{}+*\\$^[]":
            return None
        else:
            chars, negated, i = {body[i]}, False, i + 1
        low, high = 1, 1
        if body[i:i + 1] == "*":
            low, high, i = 0, None, i + 1
        elif body[i:i + 1] == "+":
            low, high, i = 1, None, i + 1
        if body[i:i + 1] in ("?", "{", "*", "+"):
            return None
        tokens.append(("".join(sorted(chars)), negated, low, high))
    for this, following in zip(tokens, tokens[1:] + [None]):
        if this[2] == this[3] or following is None:
            continue
        if this[1] or following[1] or following[2] == 0 or set(this[0]) & set(following[0]):
            return None
    return tuple(tokens)


def _parse_class(body, i):
    """Parse a [...] class whose "[" is just before ``i``: (chars, negated, index after "]")."""
    negated = body[i:i + 1] == "^"
    i += negated
    chars = set()
    while i < len(body) and body[i] != "]":
        char, i = _class_char(body, i)
        if char is None:
            return None, False, i
        if body[i:i + 1] == "-" and body[i + 1:i + 2] not in ("", "]"):
            last, i = _class_char(body, i + 1)
            if last is None or last < char:
                return None, False, i
            chars.update(chr(c) for c in range(ord(char), ord(last) + 1))
        else:
            chars.add(char)
    if i >= len(body) or not chars:
        return None, False, i
    return chars, negated, i + 1


def _class_char(body, i):
    if body[i] != "\\":
        return body[i], i + 1
    escaped = body[i + 1:i + 2]
    if escaped in ("n", "t"):
        return {"n": "\n", "t": "\t"}[escaped], i + 2
    if escaped and not escaped.isalnum():
        return escaped, i + 2
    return None, i + 2


class SchemaError(Exception):
    """The schema files use something the generator does not handle."""


def spec_files(spec_dir):
    return sorted(os.path.join(spec_dir, f) for f in os.listdir(spec_dir) if f.endswith(".json"))


def _render(parts):
    """A Python expression building the JSON path from literal and computed parts."""
    merged = []
    for kind, text in parts:
        if kind == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", merged[-1][1] + text)
        else:
            merged.append((kind, text))
    if not merged:
        return '""'
    return " + ".join(repr(text) if kind == "lit" else text for kind, text in merged)


class _Generator:
    def __init__(self, spec_dir):
        self.docs = {}
        for path in spec_files(spec_dir):
            with open(path) as f:
                self.docs[os.path.basename(path)] = json.load(f)
        self.functions = {}     # (file, pointer) -> function name
        self.queue = []         # (name, file, schema) still to write
        self.constants = []     # module-level lines
        self.enums = {}         # tuple of values -> constant name
        self.patterns = {}      # pattern -> constant name of its tokens
        self.body = []

    # -- references -------------------------------------------------------
    def resolve(self, ref, base):
        target, _, pointer = ref.partition("#")
        doc_name = target or base
        if doc_name not in self.docs:
            raise SchemaError(f"{base}: $ref {ref!r}: no such schema file")
        if pointer and not pointer.startswith("/"):
            raise SchemaError(f"{base}: $ref {ref!r}: a JSON pointer must start with '/'")
        node = self.docs[doc_name]
        for token in filter(None, pointer.split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or token not in node:
                raise SchemaError(f"{base}: $ref {ref!r}: nothing at that pointer")
            node = node[token]
        return doc_name, pointer, node

    def function_for(self, doc_name, pointer, schema):
        key = (doc_name, pointer)
        if key not in self.functions:
            stem = doc_name[:-len(".json")] + pointer.replace("/definitions/", "/")
            name = "_" + "".join(c if c.isalnum() else "_" for c in stem).strip("_")
            while name in self.functions.values():
                name += "_"
            self.functions[key] = name
            self.queue.append((name, doc_name, schema))
        return self.functions[key]

    def enum_constant(self, values):
        values = tuple(values)
        if not all(isinstance(v, str) for v in values):
            raise SchemaError(f"enum {values!r}: only string enums are supported")
        if values not in self.enums:
            name = f"_ENUM{len(self.enums)}"
            self.enums[values] = name
            self.constants.append(f"{name} = {values!r}")
            self.constants.append(f"{name}_SET = frozenset({name})")
        return self.enums[values]

    # -- code -------------------------------------------------------------
    def node(self, schema, doc, var, path, ind, depth, out):
        """Append the checks of ``schema`` on variable ``var`` to ``out``."""
        if not isinstance(schema, dict):
            raise SchemaError(f"{doc}: a schema must be an object, got {schema!r}")
        unknown = set(schema) - _KNOWN
        if unknown:
            raise SchemaError(f"{doc}: unsupported schema keywords: {sorted(unknown)}")
        pad = "    " * ind
        if "$ref" in schema:
            # Draft 4 ignores the siblings of $ref; refuse them so none is lost unnoticed.
            if set(schema) - _IGNORED - {"$ref"}:
                raise SchemaError(f"{doc}: $ref {schema['$ref']!r} has sibling keywords")
            target_doc, pointer, target = self.resolve(schema["$ref"], doc)
            if self._is_leaf(target, target_doc):
                self.node(target, target_doc, var, path, ind, depth, out)
            else:
                fn = self.function_for(target_doc, pointer, target)
                out.append(f"{pad}{fn}({var}, {_render(path)}, err)")
            return
        for sub in schema.get("allOf", ()):
            self.node(sub, doc, var, path, ind, depth, out)
        kind = schema.get("type")
        if kind is None:
            if set(schema) & _CONSTRAINTS:
                raise SchemaError(f"{doc}: constraints without a type: {sorted(set(schema) & _CONSTRAINTS)}")
            return
        if not isinstance(kind, str) or kind not in _TYPE_TESTS:
            raise SchemaError(f"{doc}: unsupported type {kind!r}")
        where = _render(path)
        out.append(f"{pad}if not {_TYPE_TESTS[kind].format(v=var)}:")
        out.append(f"{pad}    err({where}, 'type', {kind!r}, {var})")
        inner = []
        getattr(self, "_" + kind, self._plain)(schema, doc, var, path, ind + 1, depth, inner)
        if inner:
            out.append(f"{pad}else:")
            out.extend(inner)

    def _is_leaf(self, schema, doc):
        """Whether a referenced schema is small enough to inline (no nested values)."""
        while "$ref" in schema:
            doc, _, schema = self.resolve(schema["$ref"], doc)
        return schema.get("type") not in ("object", "array") and "allOf" not in schema

    def _plain(self, schema, doc, var, path, ind, depth, out):
        extra = set(schema) & _CONSTRAINTS
        if extra:
            raise SchemaError(f"{doc}: {sorted(extra)} do not apply to type {schema['type']!r}")

    def _integer(self, schema, doc, var, path, ind, depth, out):
        self._only(schema, doc, {"minimum", "maximum"})
        pad, where, word = "    " * ind, _render(path), "if"
        for key, op in (("minimum", "<"), ("maximum", ">")):
            if key in schema:
                out.append(f"{pad}{word} {var} {op} {schema[key]!r}:")
                out.append(f"{pad}    err({where}, {key!r}, {schema[key]!r}, {var})")
                word = "elif"

    _number = _integer

    def _string(self, schema, doc, var, path, ind, depth, out):
        self._only(schema, doc, {"enum", "pattern"})
        pad, where, word = "    " * ind, _render(path), "if"
        if "enum" in schema:
            name = self.enum_constant(schema["enum"])
            out.append(f"{pad}if {var} not in {name}_SET:")
            out.append(f"{pad}    err({where}, 'enum', {name}, {var})")
            word = "elif"
        if "pattern" in schema:
            pattern = schema["pattern"]
            out.append(f"{pad}{word} not {self.pattern_test(pattern, var)}:")
            out.append(f"{pad}    err({where}, 'pattern', {pattern!r}, {var})")

    def pattern_test(self, pattern, var):
        """An expression true when ``var`` matches ``pattern`` as re.search does (Draft 4)."""
        tokens = compile_pattern(pattern)
        if tokens is None:
            return f"_search({pattern!r}, {var})"
        if pattern not in self.patterns:
            name = f"_PATTERN{len(self.patterns)}"
            self.patterns[pattern] = name
            self.constants.append(f"{name} = {tokens!r}  # {pattern}")
        return f"_matches({self.patterns[pattern]}, {var})"

    def _array(self, schema, doc, var, path, ind, depth, out):
        self._only(schema, doc, {"items", "minItems"})
        pad = "    " * ind
        if "minItems" in schema:
            out.append(f"{pad}if len({var}) < {schema['minItems']!r}:")
            out.append(f"{pad}    err({_render(path)}, 'minItems', {schema['minItems']!r}, {var})")
        items = schema.get("items")
        if items is None:
            return
        if not isinstance(items, dict):
            raise SchemaError(f"{doc}: only a single schema is supported as items")
        index, item = f"i{depth}", f"v{depth + 1}"
        body = []
        self.node(items, doc, item, path + [("lit", "["), ("expr", f"str({index})"), ("lit", "]")],
                  ind + 1, depth + 1, body)
        if body:
            out.append(f"{pad}for {index}, {item} in enumerate({var}):")
            out.extend(body)

    def _object(self, schema, doc, var, path, ind, depth, out):
        self._only(schema, doc, {"properties", "required", "additionalProperties"})
        pad = "    " * ind
        for name in schema.get("required", ()):
            out.append(f"{pad}if {name!r} not in {var}:")
            out.append(f"{pad}    err({_render(path + [('lit', path_key(name))])}, 'required', None, None)")
        properties = schema.get("properties", {})
        child = f"v{depth + 1}"
        for name, sub in properties.items():
            body = []
            self.node(sub, doc, child, path + [("lit", path_key(name))], ind + 1, depth + 1, body)
            if body:
                out.append(f"{pad}if {name!r} in {var}:")
                out.append(f"{pad}    {child} = {var}[{name!r}]")
                out.extend(body)
        extra = schema.get("additionalProperties")
        if extra is None or extra is True:
            return
        if not isinstance(extra, dict):
            raise SchemaError(f"{doc}: additionalProperties must be a schema")
        key = f"k{depth}"
        body = []
        self.node(extra, doc, child, path + [("expr", f"_key({key})")], ind + 1, depth + 1, body)
        if not body:
            return
        out.append(f"{pad}for {key}, {child} in {var}.items():")
        if properties:
            names = self.enum_constant(sorted(properties))
            out.append(f"{pad}    if {key} in {names}_SET:")
            out.append(f"{pad}        continue")
        out.extend(body)

    @staticmethod
    def _only(schema, doc, allowed):
        extra = (set(schema) & _CONSTRAINTS) - allowed
        if extra:
            raise SchemaError(f"{doc}: {sorted(extra)} do not apply to type {schema['type']!r}")

    # -- module -----------------------------------------------------------
    def module(self):
        entries = []
        for entry, doc_name in ENTRY_POINTS.items():
            if doc_name not in self.docs:
                raise SchemaError(f"missing schema file {doc_name}")
            fn = self.function_for(doc_name, "", self.docs[doc_name])
            entries.append(f"def validate_{entry}(data, err):\n"
                           f"    \"\"\"Check a {entry} document against {doc_name}.\"\"\"\n"
                           f"    {fn}(data, '', err)\n")
        while self.queue:
            name, doc_name, schema = self.queue.pop(0)
            lines = []
            self.node(schema, doc_name, "v0", [("expr", "p")], 1, 0, lines)
            self.body.append(f"def {name}(v0, p, err):\n" + "\n".join(lines or ["    pass"]) + "\n")
        header = '"""Validators generated by pyrunc.oci.schemagen from spec/*.json; do not edit."""\n'
        return "\n".join([header, "\n".join(self.constants), _HELPERS_SOURCE] + entries + self.body)


def generate(spec_dir=DEFAULT_SPEC):
    """Return the source of the validator module for the schemas in ``spec_dir``."""
    return _Generator(spec_dir).module()


def write(spec_dir=DEFAULT_SPEC, out=DEFAULT_OUT):
    """Generate into ``out`` atomically (readers never see half a file)."""
    source = generate(spec_dir)
    compile(source, out, "exec")
    tmp = f"{out}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(source)
    os.replace(tmp, out)
    return out


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python3 -m pyrunc.oci.schemagen", description=__doc__.split("\n")[0])
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="directory of the JSON schemas")
    parser.add_argument("--out", default=DEFAULT_OUT, help="module to write")
    args = parser.parse_args(argv)
    try:
        print(write(args.spec, args.out))
    except (OSError, ValueError, SchemaError) as e:
        print(f"schemagen: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
