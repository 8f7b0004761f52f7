import unittest

from vmlive_helper import contract
from vmlive_helper.json_schema import SchemaError, UnsupportedSchema, Validator


def check(schema, value):
    return Validator(schema).validate(value)


class TypesTest(unittest.TestCase):
    def test_each_json_type(self):
        cases = [('null', None), ('boolean', False), ('integer', 3), ('number', 2.5), ('number', 2),
                 ('string', 'x'), ('array', []), ('object', {})]
        for name, value in cases:
            self.assertEqual(check({'type': name}, value), value)

    def test_wrong_types_are_refused_with_what_was_got(self):
        cases = [('null', 0), ('boolean', 1), ('integer', True), ('integer', 1.5), ('integer', '1'),
                 ('number', True), ('number', '1'), ('string', None), ('array', {}), ('object', [])]
        for name, value in cases:
            with self.assertRaises(SchemaError, msg='%s %r' % (name, value)):
                check({'type': name}, value)
        with self.assertRaises(SchemaError) as ctx:
            check({'type': 'integer'}, True)
        self.assertEqual(str(ctx.exception), 'must be integer, got boolean')

    def test_integers_sent_as_floats_become_ints(self):
        value = check({'type': 'integer'}, 4.0)
        self.assertEqual((value, type(value)), (4, int))
        self.assertEqual(check({'type': ['integer', 'null']}, None), None)

    def test_non_finite_numbers_are_refused(self):
        for value in (float('nan'), float('inf')):
            with self.assertRaises(SchemaError):
                check({'type': 'number'}, value)


class KeywordsTest(unittest.TestCase):
    def test_const_and_enum_do_not_confuse_booleans_with_numbers(self):
        self.assertEqual(check({'const': 1}, 1.0), 1.0)
        with self.assertRaises(SchemaError):
            check({'const': 1}, True)
        with self.assertRaises(SchemaError):
            check({'enum': [0, 'a']}, False)
        self.assertEqual(check({'enum': ['a', 'b']}, 'b'), 'b')

    def test_string_lengths_count_code_points_like_zod(self):
        schema = {'type': 'string', 'minLength': 2, 'maxLength': 2}
        self.assertEqual(check(schema, '\U0001F600\U0001F600'), '\U0001F600\U0001F600')  # 4 UTF-16 units
        for bad in ('\U0001F600', 'abc'):
            with self.assertRaises(SchemaError):
                check(schema, bad)
        with self.assertRaises(SchemaError) as ctx:
            check({'type': 'string', 'minLength': 1}, '')
        self.assertEqual(str(ctx.exception), 'must not be empty')

    def test_pattern_is_searched_not_anchored(self):
        self.assertEqual(check({'pattern': 'b'}, 'abc'), 'abc')
        with self.assertRaises(SchemaError):
            check({'pattern': '^b'}, 'abc')
        self.assertEqual(check({'pattern': '^b'}, 5), 5)  # applies to strings only

    def test_numeric_bounds(self):
        schema = {'minimum': 0, 'maximum': 1, 'exclusiveMinimum': -1, 'exclusiveMaximum': 2}
        for ok in (0, 0.5, 1):
            self.assertEqual(check(schema, ok), ok)
        for bad in (-0.1, 1.1):
            with self.assertRaises(SchemaError):
                check(schema, bad)
        with self.assertRaises(SchemaError):
            check({'exclusiveMaximum': 2}, 2)

    def test_arrays(self):
        schema = {'type': 'array', 'items': {'type': 'integer'}, 'minItems': 1, 'maxItems': 2}
        self.assertEqual(check(schema, [1.0, 2]), [1, 2])
        for bad in ([], [1, 2, 3]):
            with self.assertRaises(SchemaError):
                check(schema, bad)
        with self.assertRaises(SchemaError) as ctx:
            check(schema, [1, 'x'])
        self.assertEqual(ctx.exception.path, '[1]')

    def test_objects_required_defaults_and_unknown_properties(self):
        schema = {'type': 'object', 'properties': {'a': {'type': 'string'}, 'n': {'default': [1], 'type': 'array'}},
                  'required': ['a'], 'additionalProperties': False}
        first = check(schema, {'a': 'x'})
        self.assertEqual(first, {'a': 'x', 'n': [1]})
        first['n'].append(2)
        self.assertEqual(check(schema, {'a': 'x'})['n'], [1], 'defaults are copied, not shared')
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {})
        self.assertEqual(str(ctx.exception), 'a: is required')
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {'a': 'x', 'b': 1})
        self.assertEqual(str(ctx.exception), 'b: is not allowed (unknown property)')
        self.assertEqual(check({'type': 'object'}, {'b': 1}), {'b': 1}, 'unknown properties pass by default')

    def test_records_check_names_and_values(self):
        schema = {'type': 'object', 'propertyNames': {'type': 'string', 'minLength': 2},
                  'additionalProperties': {'type': 'number'}}
        self.assertEqual(check(schema, {'ab': 1}), {'ab': 1})
        for bad in ({'a': 1}, {'ab': 'x'}):
            with self.assertRaises(SchemaError):
                check(schema, bad)

    def test_nested_paths_name_the_failing_field(self):
        schema = {'type': 'object', 'properties': {'servers': {'type': 'array', 'items': {
            'type': 'object', 'properties': {'urls': {'type': 'string'}}}}}}
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {'servers': [{'urls': 'a'}, {'urls': 5}]})
        self.assertEqual(str(ctx.exception), 'servers[1].urls: must be string, got integer')


class CombinatorsTest(unittest.TestCase):
    def test_any_of_takes_the_first_match_and_merges_type_errors(self):
        schema = {'anyOf': [{'type': 'string', 'minLength': 1}, {'type': 'null'}]}
        self.assertEqual(check(schema, None), None)
        with self.assertRaises(SchemaError) as ctx:
            check(schema, 3)
        self.assertEqual(str(ctx.exception), 'must be string or null, got integer')
        with self.assertRaises(SchemaError):
            check(schema, '')

    def test_one_of_needs_exactly_one_match(self):
        schema = {'oneOf': [{'type': 'integer'}, {'type': 'number', 'minimum': 10}]}
        self.assertEqual(check(schema, 3), 3)
        self.assertEqual(check(schema, 10.5), 10.5)
        with self.assertRaises(SchemaError) as ctx:
            check(schema, 11)
        self.assertIn('exactly one', str(ctx.exception))

    def test_one_of_with_a_tag_dispatches_on_it(self):
        branch = lambda tag, extra: {  # noqa: E731
            'type': 'object', 'properties': {'t': {'type': 'string', 'const': tag}, **extra}, 'required': ['t']}
        schema = {'oneOf': [branch('a', {'n': {'type': 'integer'}}), branch('b', {'s': {'type': 'string'}})]}
        self.assertEqual(check(schema, {'t': 'b', 's': 'x'}), {'t': 'b', 's': 'x'})
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {'t': 'a', 'n': 'x'})
        self.assertEqual(str(ctx.exception), 'n: must be integer, got string')
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {'t': 'c'})
        self.assertEqual(str(ctx.exception), 't: must be one of a, b')
        with self.assertRaises(SchemaError) as ctx:
            check(schema, {})
        self.assertEqual(str(ctx.exception), 't: is required')

    def test_all_of_applies_each(self):
        schema = {'allOf': [{'type': 'integer'}, {'minimum': 2}]}
        self.assertEqual(check(schema, 2.0), 2)
        with self.assertRaises(SchemaError):
            check(schema, 1)

    def test_refs_resolve_into_the_root_defs(self):
        schema = {'type': 'array', 'items': {'$ref': '#/$defs/Pos'},
                  '$defs': {'Pos': {'type': 'integer', 'minimum': 1}}}
        self.assertEqual(check(schema, [1, 2]), [1, 2])
        with self.assertRaises(SchemaError):
            check(schema, [0])


class CompileTest(unittest.TestCase):
    def test_unknown_keywords_and_refs_are_refused_up_front(self):
        for schema in ({'type': 'string', 'format': 'email'}, {'type': 'tuple'}, {'$ref': '#/definitions/X'},
                       {'$ref': '#/$defs/Missing'}, {'properties': {'a': {'multipleOf': 2}}},
                       {'anyOf': [{'prefixItems': []}]}, {'items': 5}):
            with self.assertRaises(UnsupportedSchema, msg=repr(schema)):
                Validator(schema)

    def test_every_contract_schema_compiles(self):
        self.assertEqual(set(contract.SCHEMA_NAMES),
                         {'HelperSettings', 'HelperCommand', 'HelperEvent', 'InputMessage', 'InputFeedback'})
        self.assertIn('negotiation-failed', contract.ERROR_CODES)
        self.assertEqual(contract.EXIT_BAD_CONFIG, 42)
        self.assertEqual(contract.INPUT_CHANNEL_LABEL, 'input')


if __name__ == '__main__':
    unittest.main()
