"""Schema fragments of Roe's public OpenAPI document, and a small checker.

Copied (YAML turned into Python, descriptions and examples left out) from
roe-ai/roe-python, file openapi/openapi.yml at commit
028978d6dcd0c83f3f8aab34429211b4fdef224b, section components/schemas.
Where the newest generated SDK models (src/roe/_generated/models/*.py) require
more than that document, the addition is marked with the model file and the
commit read: agent_version.py at 06a3d85906c90a6d1558767d58ddb097a3237007
(supports_memory), base_agent.py at 435bcb5fed47b0b775c75466d3eeefced75c7675
(updated_at). The job-list shapes (ListAgentJob and its parts) are not in that
document; they are transcribed from the generated SDK models that read them:
list_agent_job.py at 03cbf997177d489e65a6f21949b8204554a92ab4,
paginated_list_agent_job_list.py at 88c389bd368753bbe76dd3c9ed44553b41523a11,
agent_job_status_event.py at 51530da75b24ca3e08776e482c35bea7b1abbd94,
job_input.py at 88c389bd368753bbe76dd3c9ed44553b41523a11 (a field the model
pops without a default is required).

These are Roe's expectations, written down before agentd answered them: the
tests check agentd against them, never the other way round.
"""

import datetime
import re

UUID = {"type": "string", "format": "uuid"}
DATE_TIME = {"type": "string", "format": "date-time"}


def ref(name):
    return {"$ref": name}


SCHEMAS = {
    "AgentDatum": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "description": {"type": "string"},
                       "data_type": {"type": "string"}, "value": {"type": "string"},
                       "cost": {"type": "number"}},
        "required": ["data_type", "key", "value"],
    },
    "AgentEngineTypeList": {
        "type": "object",
        "properties": {"engine_types": {"type": "array", "items": {"type": "string"}},
                       "total_count": {"type": "integer"},
                       "engines": {"type": "array", "items": {"type": "object"}}},
        "required": ["engine_types", "engines", "total_count"],
    },
    "AgentInputDefinition": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "data_type": {"type": "string"},
                       "description": {"type": "string"}, "example": {"type": "string"},
                       "accepts_multiple_files": {"type": "boolean"}},
        "required": ["data_type", "description", "key"],
    },
    "AgentJobCancelAllResponse": {
        "type": "object",
        "properties": {"task_id": {"type": ["string", "null"]}, "targeted_count": {"type": "integer"},
                       "note": {"type": "string"}},
        "required": ["note", "targeted_count", "task_id"],
    },
    "AgentJobDeleteDataResponse": {
        "type": "object",
        "properties": {"status": {"type": "string"}, "deleted_count": {"type": "integer"},
                       "failed_count": {"type": "integer"}, "blob_sanitized": {"type": "boolean"},
                       "artifacts_deleted_count": {"type": "integer"},
                       "artifacts_failed_count": {"type": "integer"},
                       "errors": {"type": ["array", "null"], "items": {"type": "string"}}},
        "required": ["artifacts_deleted_count", "artifacts_failed_count", "blob_sanitized", "deleted_count",
                     "errors", "failed_count", "status"],
    },
    "AgentJobResultItem": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "status": {"type": ["integer", "null"]},
                       "result": {"type": ["array", "null"], "items": ref("AgentDatum")},
                       "corrected_outputs": {"type": ["array", "null"], "items": ref("AgentDatum")},
                       "agent_id": {"type": ["string", "null"], "format": "uuid"},
                       "agent_version_id": {"type": ["string", "null"], "format": "uuid"},
                       "cost": {"type": ["number", "null"]},
                       "inputs": {"type": ["array", "null"], "items": {}},
                       "input_tokens": {"type": ["integer", "null"]},
                       "output_tokens": {"type": ["integer", "null"]}},
        "required": ["agent_id", "agent_version_id", "cost", "id", "input_tokens", "inputs", "output_tokens",
                     "result", "status"],
    },
    "AgentJobResultResponse": {
        "type": "object",
        "properties": {"agent_id": UUID, "agent_version_id": UUID,
                       "inputs": {"type": "array", "items": {}},
                       "input_tokens": {"type": ["integer", "null"]},
                       "output_tokens": {"type": ["integer", "null"]},
                       "outputs": {"type": "array", "items": ref("AgentDatum")}},
        "required": ["agent_id", "agent_version_id", "input_tokens", "inputs", "output_tokens", "outputs"],
    },
    "AgentJobSingleStatus": {
        "type": "object",
        "properties": {"status": {"type": "integer"}, "timestamp": {"type": "number"},
                       "error_message": {"type": "string"}},
        "required": ["status", "timestamp"],
    },
    "AgentJobStatus": {
        "type": "object",
        "properties": {"id": UUID, "status": {"type": ["integer", "null"]},
                       "created_at": {"type": ["string", "null"], "format": "date-time"},
                       "last_updated_at": {"type": ["string", "null"], "format": "date-time"},
                       "timestamp": {"type": ["number", "null"]},
                       "error_message": {"type": ["string", "null"]}},
        "required": ["created_at", "id", "last_updated_at", "status"],
    },
    "AgentTag": {
        "type": "object",
        "properties": {"id": UUID, "name": {"type": "string"}, "color": {"type": "string"},
                       "created_at": DATE_TIME, "creator": {"type": ["integer", "null"]},
                       "usage_count": {"type": "integer"}},
        "required": ["color", "created_at", "creator", "id", "name", "usage_count"],
    },
    "AgentVersion": {
        "type": "object",
        "properties": {"id": UUID, "name": {"type": "string"}, "version_name": {"type": "string"},
                       "creator": {"oneOf": [ref("UserInfo"), {"type": "null"}]},
                       "created_at": DATE_TIME, "description": {"type": "string"},
                       "engine_class_id": {"type": "string"}, "engine_name": {"type": "string"},
                       "input_definitions": {"type": "array", "items": ref("AgentInputDefinition")},
                       "engine_config": {}, "organization_id": UUID, "readonly": {"type": "boolean"},
                       "base_agent": ref("BaseAgent"),
                       # agent_version.py (06a3d859): required in the newest SDK.
                       "supports_memory": {"type": "boolean"}},
        "required": ["base_agent", "created_at", "engine_class_id", "engine_config", "engine_name", "id",
                     "input_definitions", "name", "organization_id", "readonly", "version_name",
                     "supports_memory"],
    },
    "BaseAgent": {
        "type": "object",
        "properties": {"id": UUID, "creator": {"oneOf": [ref("UserInfo"), {"type": "null"}]},
                       "created_at": DATE_TIME, "name": {"type": "string", "minLength": 1},
                       "disable_cache": {"type": "boolean"}, "cache_failed_jobs": {"type": "boolean"},
                       "organization_id": UUID, "engine_class_id": {"type": "string"},
                       "current_version_id": UUID, "job_count": {"type": ["integer", "null"]},
                       "most_recent_job": {"type": ["string", "null"], "format": "date-time"},
                       "engine_name": {"type": "string"},
                       "tags": {"type": "array", "items": ref("AgentTag")},
                       # base_agent.py (435bcb5f): required in the newest SDK.
                       "updated_at": DATE_TIME},
        "required": ["cache_failed_jobs", "created_at", "current_version_id", "disable_cache", "engine_class_id",
                     "engine_name", "id", "job_count", "most_recent_job", "name", "organization_id", "tags",
                     "updated_at"],
    },
    "ErrorDetailResponse": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
    },
    "ApiErrorResponse": {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "MessageResponse": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
    "PaginatedBaseAgentList": {
        "type": "object",
        "required": ["count", "results"],
        "properties": {"count": {"type": "integer"},
                       "next": {"type": "string", "nullable": True, "format": "uri"},
                       "previous": {"type": "string", "nullable": True, "format": "uri"},
                       "results": {"type": "array", "items": ref("BaseAgent")}},
    },
    "SupportedLLMModel": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "providers": {"type": "array", "items": {"type": "string"}},
                       "capabilities": {"type": "array", "items": {"type": "string"}},
                       "context_window": {"type": "integer"}, "max_output_tokens": {"type": "integer"},
                       "supports_system_message": {"type": "boolean"},
                       "supports_temperature": {"type": "boolean"},
                       "supports_reasoning_effort": {"type": "boolean"},
                       "supports_json_output": {"type": "boolean"},
                       "supports_json_schema": {"type": "boolean"}},
        "required": ["capabilities", "context_window", "id", "max_output_tokens", "providers",
                     "supports_json_output", "supports_json_schema", "supports_reasoning_effort",
                     "supports_system_message", "supports_temperature"],
    },
    "SupportedLLMModelList": {
        "type": "object",
        "properties": {"models": {"type": "array", "items": ref("SupportedLLMModel")},
                       "total_count": {"type": "integer"}, "tenant_scope": {"type": "string"}},
        "required": ["models", "tenant_scope", "total_count"],
    },
    "User": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"},
                       "first_name": {"type": "string"}, "last_name": {"type": "string"},
                       "display_name": {"type": "string"}, "is_staff": {"type": "boolean"},
                       "is_superuser": {"type": "boolean"}, "is_active": {"type": "boolean"},
                       "date_joined": DATE_TIME, "is_first_login": {"type": "boolean"},
                       "is_email_verified": {"type": "boolean"}, "is_mfa_enabled": {"type": "boolean"}},
        "required": ["date_joined", "display_name", "email", "first_name", "id", "last_name"],
    },
    "UserInfo": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"},
                       "first_name": {"type": "string"}, "last_name": {"type": "string"},
                       "display_name": {"type": "string"}},
        "required": ["display_name", "email", "id"],
    },
    # --- From the generated SDK models (see the module docstring). ---
    "JobInput": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "description": {"type": "string"},
                       "data_type": {"type": "string"}, "value": {"type": "string"},
                       "file_name": {"type": "string"}},
        "required": ["key", "description", "data_type", "value"],
    },
    "AgentJobStatusEvent": {
        "type": "object",
        "properties": {"timestamp": DATE_TIME, "status_code": {"type": "integer"},
                       "error_message": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["timestamp", "status_code"],
    },
    "ListAgentJob": {
        "type": "object",
        "properties": {"id": UUID, "agent_version_name": {"type": ["string", "null"]},
                       "status_events": {"type": "array", "items": ref("AgentJobStatusEvent")},
                       "status_code": {"type": "integer"}, "created_at": DATE_TIME,
                       "last_updated_at": DATE_TIME, "duration_ms": {"type": ["integer", "null"]},
                       "ui_fields": {}, "evaluation": {"type": ["object", "null"]},
                       "feedback_review": {"type": ["object", "null"]},
                       "creator": {"oneOf": [ref("UserInfo"), {"type": "null"}]},
                       "job_inputs": {"type": "array", "items": ref("JobInput")},
                       "metadata": {"type": "object"}},
        "required": ["id", "agent_version_name", "status_events", "status_code", "created_at", "last_updated_at",
                     "duration_ms", "ui_fields", "evaluation", "feedback_review", "creator"],
    },
    "PaginatedListAgentJobList": {
        "type": "object",
        "properties": {"count": {"type": "integer"},
                       "results": {"type": "array", "items": ref("ListAgentJob")},
                       "next": {"type": ["string", "null"]}, "previous": {"type": ["string", "null"]}},
        "required": ["count", "results"],
    },
}

# Responses the document gives inline (paths section).
ASYNC_RUN_200 = {"type": "string"}  # /v1/agents/run/{agent_id}/async/ and .../versions/{id}/async/
ASYNC_MANY_200 = {"type": "array", "items": UUID}  # /v1/agents/run/{agent_id}/async/many/
RUN_200 = {"type": "array", "items": ref("AgentDatum")}  # /v1/agents/run/{agent_id}/
VERSIONS_200 = {"type": "array", "items": ref("AgentVersion")}  # GET /v1/agents/{agent_id}/versions/
STATUSES_200 = {"type": "array", "items": ref("AgentJobStatus")}  # POST /v1/agents/jobs/statuses/
RESULTS_200 = {"type": "array", "items": ref("AgentJobResultItem")}  # POST /v1/agents/jobs/results/

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def problems(value, schema, path="$"):
    """Every way `value` breaks `schema` (the subset of JSON Schema the
    fragments above use), as readable strings; [] when it conforms."""
    if isinstance(schema, str):
        schema = SCHEMAS[schema]
    if "$ref" in schema:
        return problems(value, SCHEMAS[schema["$ref"]], path)
    if "oneOf" in schema:
        ok = [s for s in schema["oneOf"] if not problems(value, s, path)]
        return [] if len(ok) == 1 else [f"{path}: matches {len(ok)} of oneOf {schema['oneOf']}"]
    if value is None and schema.get("nullable"):
        return []
    out = []
    types = schema.get("type")
    if types is not None:
        types = types if isinstance(types, list) else [types]
        if not any(_TYPES[t](value) for t in types):
            return [f"{path}: {value!r} is not of type {types}"]
    if isinstance(value, str):
        fmt = schema.get("format")
        if fmt == "uuid" and not _UUID_RE.match(value):
            out.append(f"{path}: {value!r} is not a uuid")
        if fmt == "date-time":
            try:
                datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                out.append(f"{path}: {value!r} is not a date-time")
        if fmt == "email" and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            out.append(f"{path}: {value!r} is not an email address")
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append(f"{path}: {value!r} is shorter than {schema['minLength']}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            if k not in value:
                out.append(f"{path}: required field {k!r} is missing")
        for k, sub in schema.get("properties", {}).items():
            if k in value:
                out += problems(value[k], sub, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            out += problems(item, schema["items"], f"{path}[{i}]")
    return out
