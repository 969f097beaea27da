"""Real-world JSON Schemas for the structured-output tests: the shapes that
extraction, classification and tool-argument schemas take (nested objects,
enums, arrays with bounds, formats, patterns, $defs and recursion, unions,
bounded numbers). Written for these tests, not taken from agentd's output."""

SCHEMAS = {
    "person": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "age": {"type": "integer", "minimum": 0, "maximum": 130},
            "email": {"type": "string", "format": "email"},
            "phone": {"type": "string", "pattern": "^\\+?[0-9]{7,12}$"},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    },
    "invoice": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "invoice_id": {"type": "string", "pattern": "^INV-[0-9]{4}$"},
            "issued": {"type": "string", "format": "date"},
            "currency": {"enum": ["USD", "EUR", "GBP"]},
            "lines": {
                "type": "array", "minItems": 1, "maxItems": 3,
                "items": {"$ref": "#/$defs/line"},
            },
            "total": {"type": "number", "minimum": 0, "exclusiveMaximum": 100000},
            "paid": {"type": "boolean"},
        },
        "required": ["invoice_id", "issued", "currency", "lines", "total"],
        "additionalProperties": False,
        "$defs": {
            "line": {
                "type": "object",
                "properties": {
                    "sku": {"type": "string", "format": "uuid"},
                    "qty": {"type": "integer", "exclusiveMinimum": 0, "maximum": 99},
                    "unit_price": {"type": "number", "minimum": 0.01, "maximum": 999.99},
                },
                "required": ["sku", "qty", "unit_price"],
                "additionalProperties": False,
            }
        },
    },
    "classification": {
        "type": "object",
        "properties": {
            "label": {"type": "string", "enum": ["positive", "negative", "neutral"]},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "keywords": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
        },
        "required": ["label", "confidence"],
    },
    "tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer", "minimum": -50, "maximum": 50},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2},
                },
                "required": ["value"],
                "additionalProperties": False,
            }
        },
        "$ref": "#/$defs/node",
    },
    "event_union": {
        "type": "object",
        "properties": {
            "event": {
                "anyOf": [
                    {"type": "object", "properties": {"kind": {"const": "click"}, "x": {"type": "integer"},
                                                      "y": {"type": "integer"}},
                     "required": ["kind", "x", "y"], "additionalProperties": False},
                    {"type": "object", "properties": {"kind": {"const": "key"},
                                                      "key": {"type": "string", "minLength": 1, "maxLength": 1}},
                     "required": ["kind", "key"], "additionalProperties": False},
                ]
            },
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["event", "at"],
        "additionalProperties": False,
    },
    "tags_unique": {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue", "black"]},
                     "uniqueItems": True, "minItems": 1},
            "note": {"type": ["string", "null"], "maxLength": 30},
        },
        "required": ["tags", "note"],
        "additionalProperties": False,
    },
    "tuple_2020": {
        "type": "array",
        "prefixItems": [{"type": "string", "format": "ipv4"}, {"type": "integer", "minimum": 1, "maximum": 65535},
                        {"type": "string", "format": "hostname"}],
        "items": False,
    },
    "draft07_tuple": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"coord": {"type": "number", "minimum": -180, "maximum": 180}},
        "type": "array",
        "items": [{"$ref": "#/definitions/coord"}, {"$ref": "#/definitions/coord"}],
        "additionalItems": {"type": "string", "maxLength": 8},
        "maxItems": 4,
    },
    "open_map": {
        "type": "object",
        "properties": {"id": {"type": "integer", "minimum": 1}},
        "required": ["id"],
        "additionalProperties": {"type": "number", "maximum": 0},
    },
    "all_of": {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string", "format": "time"}}, "required": ["a"]},
            {"properties": {"b": {"type": "integer", "minimum": 10, "maximum": 20}}, "required": ["b"]},
        ],
        "properties": {"c": {"type": "boolean"}},
    },
    "ref_with_siblings": {
        "$defs": {"base": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}},
                           "required": ["id"]}},
        "$ref": "#/$defs/base",
        "properties": {"name": {"type": "string", "maxLength": 10}},
        "required": ["name"],
        "description": "siblings of $ref apply too (2020-12)",
    },
    "one_of_numbers": {
        "type": "object",
        "properties": {"v": {"oneOf": [{"type": "integer"}, {"type": "number"}, {"type": "string", "maxLength": 3}]}},
        "required": ["v"],
        "additionalProperties": False,
    },
    "anything": {},
}
