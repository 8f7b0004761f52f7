"""The agent <-> helper contract, generated from protocol/src (helper.ts, input.ts) into
contract.json by `npm run gen -w protocol`: JSON Schemas of every message and of the
settings, the helper error codes, the bad-config exit code, the data-channel label and
the settings table. Loaded once at import (SchemaDocumentError if it cannot be used);
everything the helper parses or writes on a protocol channel goes through validate() / encode().
"""
import json
import os
from typing import Any, Dict, FrozenSet, Tuple

from .json_schema import SchemaDocumentError, SchemaError, UnsupportedSchema, Validator

__all__ = ['SchemaError', 'validate', 'encode', 'ERROR_CODES', 'EXIT_BAD_CONFIG',
           'INPUT_CHANNEL_LABEL', 'SETTINGS']

CONTRACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'contract.json')


def _load() -> Dict[str, Any]:
    try:
        with open(CONTRACT_PATH, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise SchemaDocumentError('cannot read %s: %s' % (CONTRACT_PATH, err)) from None


_CONTRACT = _load()
try:
    EXIT_BAD_CONFIG: int = _CONTRACT['helperExitBadConfig']
    INPUT_CHANNEL_LABEL: str = _CONTRACT['inputChannelLabel']
    ERROR_CODES: FrozenSet[str] = frozenset(_CONTRACT['helperErrorCodes'])
    # ({key, env, help, default | required}, ...) in table order, for --help and messages.
    SETTINGS: Tuple[Dict[str, Any], ...] = tuple(_CONTRACT['settings'])
    _VALIDATORS = {name: Validator(schema) for name, schema in _CONTRACT['schemas'].items()}
except (KeyError, TypeError, UnsupportedSchema) as err:
    raise SchemaDocumentError('%s does not fit this helper: %s' % (CONTRACT_PATH, err)) from None

SCHEMA_NAMES = frozenset(_VALIDATORS)


def validate(name: str, value: Any) -> Any:
    """Validate `value` against the contract schema `name`; return it normalized (defaults applied).
    Raises SchemaError."""
    return _VALIDATORS[name].validate(value)


def encode(name: str, value: Any) -> str:
    """The one encoder of protocol messages: validate, then one compact JSON line (no newline)."""
    return json.dumps(validate(name, value), separators=(',', ':'), ensure_ascii=False, allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError('%s is not JSON' % name)


def loads(text: str) -> Any:
    """json.loads without Python's NaN/Infinity extensions (JSON has neither; zod rejects them)."""
    return json.loads(text, parse_constant=_reject_constant)
