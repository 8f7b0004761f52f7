"""A validator for the JSON Schema (2020-12) subset that zod 4's z.toJSONSchema emits.

Debian's python3 has no `jsonschema`, and the VM image should not need one: the helper
validates against contract.json (generated from protocol/src) with this module instead.

Supported: type (incl. integer and type lists), enum, const, properties, required,
additionalProperties (bool or schema), propertyNames, items, minItems/maxItems,
minLength/maxLength, minimum/maximum, exclusiveMinimum/exclusiveMaximum, pattern,
anyOf, oneOf, allOf, default (applied to missing properties), and $ref into the
root's $defs. A schema with any other keyword is refused when it is compiled, so a
change on the zod side that emits something new fails loudly instead of validating less.

validate() returns a normalized copy: defaults applied, and integers that arrived as
floats (JSON `1.0`, which zod accepts as an integer) turned into ints.
"""
import copy
import math
import re
from typing import Any, Dict, List, Optional

_ANNOTATIONS = frozenset(('$schema', '$id', '$comment', 'title', 'description', 'examples', 'deprecated',
                          'readOnly', 'writeOnly', 'default'))
_KEYWORDS = frozenset(('type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'propertyNames',
                       'items', 'minItems', 'maxItems', 'minLength', 'maxLength', 'minimum', 'maximum',
                       'exclusiveMinimum', 'exclusiveMaximum', 'pattern', 'anyOf', 'oneOf', 'allOf', '$ref',
                       '$defs'))
_TYPES = frozenset(('null', 'boolean', 'integer', 'number', 'string', 'array', 'object'))


class SchemaDocumentError(Exception):
    """A schema document that cannot be used: missing, unreadable, or beyond this validator."""


class UnsupportedSchema(SchemaDocumentError):
    """The schema uses something this validator does not implement."""


class SchemaError(ValueError):
    """A value does not match; `path` names where (e.g. `iceServers[0].urls`)."""

    def __init__(self, path: str, message: str):
        super().__init__('%s: %s' % (path, message) if path else message)
        self.path = path
        self.message = message


class _TypeMismatch(SchemaError):
    def __init__(self, path: str, wanted: List[str], actual: str):
        super().__init__(path, 'must be %s, got %s' % (' or '.join(wanted), actual))
        self.wanted = wanted
        self.actual = actual


def _json_type(value: Any) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'integer'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, str):
        return 'string'
    if isinstance(value, list):
        return 'array'
    if isinstance(value, dict):
        return 'object'
    return type(value).__name__


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1, 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _join(path: str, key: str) -> str:
    return '%s.%s' % (path, key) if path else key


def _show(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else "'%s'" % value


class Validator:
    def __init__(self, schema: Dict[str, Any]):
        self.root = schema
        self._defs = schema.get('$defs', {})
        self._patterns: Dict[str, Any] = {}
        self._check(schema, '#')

    # ---- compile-time check ----
    def _check(self, schema: Any, where: str) -> None:
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise UnsupportedSchema('%s: a schema must be an object or a boolean' % where)
        for key, value in schema.items():
            if key in _ANNOTATIONS:
                continue
            if key not in _KEYWORDS:
                raise UnsupportedSchema('%s: keyword %r is not supported' % (where, key))
            if key == 'type':
                for name in value if isinstance(value, list) else [value]:
                    if name not in _TYPES:
                        raise UnsupportedSchema('%s: unknown type %r' % (where, name))
            elif key in ('properties', '$defs'):
                for name, sub in value.items():
                    self._check(sub, '%s/%s/%s' % (where, key, name))
            elif key in ('anyOf', 'oneOf', 'allOf'):
                for i, sub in enumerate(value):
                    self._check(sub, '%s/%s/%d' % (where, key, i))
            elif key in ('items', 'additionalProperties', 'propertyNames'):
                self._check(value, '%s/%s' % (where, key))
            elif key == 'pattern':
                self._patterns[value] = re.compile(value)
            elif key == '$ref':
                self._resolve(value)

    def _resolve(self, ref: str) -> Any:
        prefix = '#/$defs/'
        if not ref.startswith(prefix) or ref[len(prefix):] not in self._defs:
            raise UnsupportedSchema('$ref %r: only references into the root $defs are supported' % ref)
        return self._defs[ref[len(prefix):]]

    # ---- validation ----
    def validate(self, value: Any) -> Any:
        """Return the normalized value, or raise SchemaError."""
        return self._validate(self.root, value, '')

    def _validate(self, schema: Any, value: Any, path: str) -> Any:
        if schema is True:
            return value
        if schema is False:
            raise SchemaError(path, 'is not allowed')
        if '$ref' in schema:
            value = self._validate(self._resolve(schema['$ref']), value, path)
        if 'type' in schema:
            value = self._check_type(schema['type'], value, path)
        if 'const' in schema and not _equal(value, schema['const']):
            raise SchemaError(path, 'must be %s' % _show(schema['const']))
        if 'enum' in schema and not any(_equal(value, option) for option in schema['enum']):
            raise SchemaError(path, 'must be one of %s' % ', '.join(str(o) for o in schema['enum']))
        if isinstance(value, str):
            self._check_string(schema, value, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._check_number(schema, value, path)
        elif isinstance(value, list):
            value = self._check_array(schema, value, path)
        elif isinstance(value, dict):
            value = self._check_object(schema, value, path)
        for sub in schema.get('allOf', ()):
            value = self._validate(sub, value, path)
        if 'anyOf' in schema:
            value = self._any_of(schema['anyOf'], value, path)
        if 'oneOf' in schema:
            value = self._one_of(schema['oneOf'], value, path)
        return value

    def _check_type(self, wanted: Any, value: Any, path: str) -> Any:
        names: List[str] = wanted if isinstance(wanted, list) else [wanted]
        actual = _json_type(value)
        if actual == 'number' and not math.isfinite(value) and ('number' in names or 'integer' in names):
            raise SchemaError(path, 'must be a finite number')  # JSON has no NaN/Infinity
        if actual in names or (actual == 'integer' and 'number' in names):
            return value
        if 'integer' in names and _is_integer(value):
            return int(value)
        raise _TypeMismatch(path, names, actual)

    def _check_string(self, schema: Dict[str, Any], value: str, path: str) -> None:
        if 'minLength' in schema or 'maxLength' in schema:
            length = len(value)  # code points, as JSON Schema and zod 4's .min()/.max() count
            if length < schema.get('minLength', 0):
                raise SchemaError(path, 'must be at least %d characters' % schema['minLength']
                                  if schema['minLength'] > 1 else 'must not be empty')
            if 'maxLength' in schema and length > schema['maxLength']:
                raise SchemaError(path, 'must be at most %d characters' % schema['maxLength'])
        if 'pattern' in schema and not self._patterns[schema['pattern']].search(value):
            raise SchemaError(path, 'must match %s' % schema['pattern'])

    @staticmethod
    def _check_number(schema: Dict[str, Any], value: float, path: str) -> None:
        if 'minimum' in schema and value < schema['minimum']:
            raise SchemaError(path, 'must be >= %s' % schema['minimum'])
        if 'maximum' in schema and value > schema['maximum']:
            raise SchemaError(path, 'must be <= %s' % schema['maximum'])
        if 'exclusiveMinimum' in schema and value <= schema['exclusiveMinimum']:
            raise SchemaError(path, 'must be > %s' % schema['exclusiveMinimum'])
        if 'exclusiveMaximum' in schema and value >= schema['exclusiveMaximum']:
            raise SchemaError(path, 'must be < %s' % schema['exclusiveMaximum'])

    def _check_array(self, schema: Dict[str, Any], value: list, path: str) -> list:
        if len(value) < schema.get('minItems', 0):
            raise SchemaError(path, 'must have at least %d items' % schema['minItems'])
        if 'maxItems' in schema and len(value) > schema['maxItems']:
            raise SchemaError(path, 'must have at most %d items' % schema['maxItems'])
        items = schema.get('items', True)
        return [self._validate(items, item, '%s[%d]' % (path, i)) for i, item in enumerate(value)]

    def _check_object(self, schema: Dict[str, Any], value: dict, path: str) -> dict:
        properties: Dict[str, Any] = schema.get('properties', {})
        out = {}
        for key, item in value.items():
            where = _join(path, key)
            if 'propertyNames' in schema:
                self._validate(schema['propertyNames'], key, where)
            if key in properties:
                out[key] = self._validate(properties[key], item, where)
            else:
                extra = schema.get('additionalProperties', True)
                if extra is False:
                    raise SchemaError(where, 'is not allowed (unknown property)')
                out[key] = self._validate(extra, item, where)
        for key, sub in properties.items():
            # zod's .default(): a missing property takes the default as it is (not re-validated).
            if key not in out and isinstance(sub, dict) and 'default' in sub:
                out[key] = copy.deepcopy(sub['default'])
        for key in schema.get('required', ()):
            if key not in out:
                raise SchemaError(_join(path, key), 'is required')
        return out

    def _any_of(self, options: List[Any], value: Any, path: str) -> Any:
        problems: List[SchemaError] = []
        for option in options:
            try:
                return self._validate(option, value, path)
            except SchemaError as err:
                problems.append(err)
        raise _merge(path, problems)

    def _one_of(self, options: List[Any], value: Any, path: str) -> Any:
        key = _discriminator(options)
        if key is not None and isinstance(value, dict):
            # A zod discriminatedUnion: pick the branch by its tag, so the error is that branch's.
            tags = [option['properties'][key]['const'] for option in options]
            tag = value.get(key)
            for option, option_tag in zip(options, tags):
                if _equal(tag, option_tag):
                    return self._validate(option, value, path)
            raise SchemaError(_join(path, key), 'must be one of %s' % ', '.join(str(t) for t in tags)
                              if key in value else 'is required')
        matches, problems = [], []
        for option in options:
            try:
                matches.append(self._validate(option, value, path))
            except SchemaError as err:
                problems.append(err)
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise _merge(path, problems)
        raise SchemaError(path, 'matches %d alternatives, expected exactly one' % len(matches))


def _merge(path: str, problems: List[SchemaError]) -> SchemaError:
    """One error for failed alternatives: `must be string or null, got integer` when each failed on
    its type at this path, else the alternatives' messages joined."""
    if problems and all(isinstance(p, _TypeMismatch) and p.path == path for p in problems):
        wanted: List[str] = []
        for p in problems:
            wanted.extend(w for w in p.wanted if w not in wanted)
        return _TypeMismatch(path, wanted, problems[0].actual)  # type: ignore[attr-defined]
    messages: List[str] = []
    for p in problems:
        text = str(p) if p.path != path else p.message
        if text not in messages:
            messages.append(text)
    return SchemaError(path, ' | '.join(messages))


def _discriminator(options: List[Any]) -> Optional[str]:
    """The property every branch requires with a distinct `const`, if there is one."""
    if not options or not all(isinstance(o, dict) and isinstance(o.get('properties'), dict) for o in options):
        return None
    candidates = set(options[0]['properties'])
    for option in options:
        candidates &= {k for k, v in option['properties'].items()
                       if isinstance(v, dict) and 'const' in v and k in option.get('required', ())}
    for key in sorted(candidates):
        tags = [option['properties'][key]['const'] for option in options]
        if len({repr(t) for t in tags}) == len(tags):
            return key
    return None
