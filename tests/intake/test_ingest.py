from __future__ import annotations

import json
from typing import Any

import pytest

from receiver.errors import InvalidPayload, NotJSONError
from receiver.intake.ingest import error_details, parameters_of, parse_webhook
from receiver.intake.pipeline import process_webhook
from receiver.model import Failure, FailureKind, Ignored, Operation, Source
from tests.payloads import (
    became_failed_update,
    failed_insert,
    generation,
    jsonb_text,
    supabase_body,
)


def failure_of(body: bytes) -> Failure:
    result = process_webhook(body)
    assert isinstance(result, Failure), result
    return result


# --- the envelope -------------------------------------------------------------------


def test_a_real_insert_is_parsed_whole() -> None:
    event = parse_webhook(failed_insert())
    assert (event.operation, event.schema, event.table) == (
        Operation.INSERT,
        "public",
        "generations",
    )
    assert event.old_record is None
    assert event.record == generation()


def test_a_real_update_keeps_both_rows() -> None:
    event = parse_webhook(became_failed_update())
    assert event.operation is Operation.UPDATE
    assert event.record is not None
    assert event.old_record is not None
    assert (event.record["status"], event.old_record["status"]) == ("failed", "processing")


def test_a_real_delete_has_no_new_row() -> None:
    event = parse_webhook(supabase_body("DELETE", None, generation()))
    assert event.operation is Operation.DELETE
    assert event.record is None
    assert event.old_record == generation()


def test_the_operation_is_read_in_any_case() -> None:
    body = json.dumps({"type": "insert", "table": "t", "schema": "s", "record": {}}).encode()
    assert parse_webhook(body).operation is Operation.INSERT


@pytest.mark.parametrize(
    "body",
    [
        # Plain text.
        pytest.param(b"status=failed", id="text"),
        # Nothing at all.
        pytest.param(b"", id="empty"),
        # Cut off mid-object (a proxy that gave up).
        pytest.param(failed_insert()[:100], id="truncated"),
        # Not UTF-8.
        pytest.param(b'{"type": "\xff\xfe"}', id="bad-utf8"),
        # JSON nested deeper than any parser should follow.
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep"),
        # An integer longer than Python converts (a ValueError, not a JSONDecodeError).
        pytest.param(b'{"type": ' + b"9" * 5000 + b"}", id="huge-int"),
    ],
)
def test_bodies_that_are_not_json(body: bytes) -> None:
    with pytest.raises(NotJSONError):
        parse_webhook(body)


def envelope(**changes: Any) -> bytes:
    payload: dict[str, Any] = {
        "type": "INSERT",
        "table": "generations",
        "schema": "public",
        "record": {"id": "g1", "status": "failed"},
        "old_record": None,
    }
    for key, value in changes.items():
        if value is ...:
            del payload[key]
        else:
            payload[key] = value
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # A JSON array, not an object.
        pytest.param(b"[1, 2]", "$", id="array"),
        # A bare string.
        pytest.param(b'"INSERT"', "$", id="string"),
        # No operation.
        pytest.param(envelope(type=...), "type", id="no-type"),
        # An operation Supabase never sends.
        pytest.param(envelope(type="TRUNCATE"), "type", id="truncate"),
        # An operation of the wrong JSON type.
        pytest.param(envelope(type=1), "type", id="type-number"),
        # No table.
        pytest.param(envelope(table=...), "table", id="no-table"),
        # An empty table name.
        pytest.param(envelope(table=""), "table", id="empty-table"),
        # No schema.
        pytest.param(envelope(schema=...), "schema", id="no-schema"),
        # A schema of the wrong JSON type.
        pytest.param(envelope(schema=["public"]), "schema", id="schema-list"),
        # An INSERT without its row.
        pytest.param(envelope(record=None), "record", id="insert-null-record"),
        # An UPDATE without its row.
        pytest.param(envelope(type="UPDATE", record=...), "record", id="update-no-record"),
        # A row that is a list.
        pytest.param(envelope(record=[{"id": "g1"}]), "record", id="record-list"),
        # An old row that is a string.
        pytest.param(envelope(old_record="{}"), "old_record", id="old-record-string"),
    ],
)
def test_json_that_is_not_a_webhook_names_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidPayload) as caught:
        parse_webhook(body)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


# --- the row's error fields ---------------------------------------------------------


ERROR = {"error": "boom", "errorContext": {"type": "ModelGenerationError", "message": "boom!"}}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        # A jsonb column: a nested object.
        pytest.param(ERROR, ERROR, id="object"),
        # A text column holding JSON: a string.
        pytest.param(json.dumps(ERROR), ERROR, id="json-string"),
        # A null column.
        pytest.param(None, {}, id="null"),
        # A text column holding something that is not JSON.
        pytest.param("{error: boom", {}, id="corrupt-string"),
        # A text column holding JSON that is not an object.
        pytest.param("[1, 2]", {}, id="string-array"),
        # A text column with a number too long for Python to convert.
        pytest.param('{"n": ' + "1" * 5000 + "}", {}, id="string-huge-int"),
        # A jsonb column holding an array.
        pytest.param([ERROR], {}, id="array"),
    ],
)
def test_parameters_in_every_shape(parameters: object, expected: dict[str, Any]) -> None:
    assert parameters_of({"parameters": parameters}) == expected


def test_missing_parameters_column() -> None:
    assert parameters_of({"id": "g1"}) == {}


def test_error_details_follow_the_guide() -> None:
    found = error_details(generation())
    assert found.message == "Request 8f3a9c2e timed out after 30012ms"
    assert found.error_type == "ModelTimeoutError"
    assert found.timestamp == "2024-05-01T12:00:31.012Z"
    assert found.context_user_id == "d9a3c1e2-7f4b-4c8a-b5e6-1a2b3c4d5e6f"


def test_the_context_message_stands_in_for_a_missing_error() -> None:
    row = generation(parameters={"errorContext": {"message": "CUDA OOM", "type": "X"}})
    assert error_details(row).message == "CUDA OOM"


def test_missing_error_context_leaves_only_the_message() -> None:
    found = error_details(generation(parameters={"error": "boom"}))
    assert (found.message, found.error_type, found.timestamp, found.context_user_id) == (
        "boom",
        None,
        None,
        None,
    )


def test_an_error_context_that_is_not_an_object_is_skipped() -> None:
    found = error_details(generation(parameters={"error": "boom", "errorContext": "oops"}))
    assert (found.message, found.error_type) == ("boom", None)


@pytest.mark.parametrize(
    ("context", "code", "status"),
    [
        # The guide's errorContext has neither.
        pytest.param({"type": "X"}, None, None, id="none"),
        # A code, as SDKs name it (OpenAI's `code`, Node's syscall code).
        pytest.param({"code": "insufficient_quota"}, "insufficient_quota", None, id="code"),
        # `status` as a number (an HTTP status).
        pytest.param({"status": 429}, None, 429, id="status"),
        # `statusCode` (axios, AWS) and `httpStatus`, numbers or digit strings.
        pytest.param({"statusCode": "503"}, None, 503, id="status-code-text"),
        pytest.param({"httpStatus": 401}, None, 401, id="http-status"),
        # The first of them that holds a status counts.
        pytest.param({"status": "failed", "statusCode": 502}, None, 502, id="first-valid"),
        # gRPC's words in `status` are no HTTP status.
        pytest.param({"status": "RESOURCE_EXHAUSTED"}, None, None, id="grpc-words"),
        # Out of range, too long, a float, a boolean: not a status.
        pytest.param({"status": 42}, None, None, id="too-small"),
        # HTTP's range is 100 to 599, both ends included.
        pytest.param({"status": 100}, None, 100, id="lowest"),
        pytest.param({"status": 599}, None, 599, id="highest"),
        pytest.param({"status": "099"}, None, None, id="below-range"),
        pytest.param({"status": 600}, None, None, id="above-range"),
        pytest.param({"status": 4290}, None, None, id="too-long"),
        pytest.param({"status": 429.0}, None, None, id="float"),
        pytest.param({"status": True}, None, None, id="bool"),
        # A code that is an HTTP status (Azure OpenAI's "429") is the status too.
        pytest.param({"code": "429"}, "429", 429, id="code-is-status"),
        # ... unless a status field says otherwise.
        pytest.param({"code": "429", "status": 503}, "429", 503, id="status-field-wins"),
        # An empty code is no code.
        pytest.param({"code": ""}, None, None, id="empty-code"),
    ],
)
def test_the_error_code_and_the_http_status(
    context: dict[str, object], code: str | None, status: int | None
) -> None:
    found = error_details(generation(parameters={"error": "boom", "errorContext": context}))
    assert (found.code, found.status) == (code, status)


# --- whole bodies through the pipeline ----------------------------------------------


def test_an_insert_of_a_failed_row_is_a_failure() -> None:
    failure = failure_of(failed_insert())
    assert failure.generation_id == "5b0f4f8e-2a7c-4d3e-9a61-0c8f3e2d1b7a"
    assert failure.kind is FailureKind.FAILED
    assert failure.source is Source.WEBHOOK
    assert failure.category == "timeout"
    assert failure.error_type == "ModelTimeoutError"
    assert failure.model_id == "flux-pro"
    assert failure.session_id == "sess_01HZX3K9"
    assert failure.occurred_at == "2024-05-01T12:00:31.012Z"
    assert failure.labels["status"] == "failed"
    assert failure.labels["category"] == "timeout"
    assert "prompt" not in failure.labels  # the end user's words stay out of labels


def test_an_update_into_failed_is_the_same_failure_as_its_insert() -> None:
    assert failure_of(became_failed_update()) == failure_of(failed_insert())


def test_a_delete_is_ignored() -> None:
    body = supabase_body("DELETE", None, generation())
    assert process_webhook(body) == Ignored("delete")


def test_an_update_of_an_already_failed_row_is_ignored() -> None:
    body = supabase_body("UPDATE", generation(), generation())
    assert process_webhook(body) == Ignored("already_failed")


@pytest.mark.parametrize(
    "parameters",
    [
        # jsonb.
        pytest.param(generation()["parameters"], id="object"),
        # text holding the same JSON.
        pytest.param(json.dumps(generation()["parameters"]), id="json-string"),
    ],
)
def test_parameters_as_object_or_string_give_the_same_failure(parameters: object) -> None:
    assert failure_of(failed_insert(parameters=parameters)) == failure_of(failed_insert())


@pytest.mark.parametrize(
    "parameters",
    [
        # The column is null.
        pytest.param(None, id="null"),
        # The text column is not JSON.
        pytest.param("{not json", id="corrupt-string"),
        # No errorContext, no error.
        pytest.param({"width": 512}, id="no-error-fields"),
    ],
)
def test_a_failure_without_error_details_is_still_recorded(parameters: object) -> None:
    failure = failure_of(failed_insert(parameters=parameters))
    assert (failure.category, failure.message, failure.error_type) == ("unknown", "", None)
    assert failure.occurred_at is None


def test_missing_error_context_classifies_by_the_message() -> None:
    failure = failure_of(failed_insert(parameters={"error": "Rate limit exceeded"}))
    assert failure.category == "rate_limit"


def test_extra_columns_are_kept_as_labels() -> None:
    failure = failure_of(failed_insert(priority=5, is_pro=True, region="eu-west-1", tags=["a"]))
    assert failure.labels["priority"] == "5"
    assert failure.labels["is_pro"] == "true"
    assert failure.labels["region"] == "eu-west-1"
    assert "tags" not in failure.labels  # structured values are not labels


def test_an_envelope_user_id_is_ignored_for_the_rows() -> None:
    payload = json.loads(failed_insert(user_id="row-user"))
    payload["user_id"] = "envelope-user"
    assert failure_of(jsonb_text(payload).encode()).user_id == "row-user"


@pytest.mark.parametrize(
    ("row_user", "context_user", "expected"),
    [
        # The row's column wins.
        pytest.param("row-user", "ctx-user", "row-user", id="row"),
        # The column is null: the error context knows who it was.
        pytest.param(None, "ctx-user", "ctx-user", id="context-fallback"),
        # Neither says: unknown user.
        pytest.param(None, None, None, id="nobody"),
    ],
)
def test_the_user_comes_from_the_row_then_the_error_context(
    row_user: str | None, context_user: str | None, expected: str | None
) -> None:
    context: dict[str, Any] = {"message": "boom", "type": "ModelGenerationError"}
    if context_user is not None:
        context["userId"] = context_user
    body = failed_insert(user_id=row_user, parameters={"error": "boom", "errorContext": context})
    assert failure_of(body).user_id == expected


def test_a_row_without_a_user_column_falls_back_to_the_error_context() -> None:
    row = generation()
    del row["user_id"]
    failure = failure_of(supabase_body("INSERT", row))
    assert failure.user_id == "d9a3c1e2-7f4b-4c8a-b5e6-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    "record_id",
    [
        # A bigint primary key.
        pytest.param(4711, id="number"),
        # A uuid, as a string.
        pytest.param("5b0f4f8e-2a7c-4d3e-9a61-0c8f3e2d1b7a", id="uuid"),
    ],
)
def test_ids_of_either_type(record_id: object) -> None:
    assert failure_of(failed_insert(id=record_id)).generation_id == str(record_id)


@pytest.mark.parametrize(
    "record_id",
    [
        # No id column.
        pytest.param(..., id="missing"),
        # A null id.
        pytest.param(None, id="null"),
        # An empty id.
        pytest.param("", id="empty"),
        # A structured id.
        pytest.param({"id": 1}, id="object"),
    ],
)
def test_a_failure_without_an_id_is_invalid(record_id: object) -> None:
    row = generation()
    if record_id is ...:
        del row["id"]
    else:
        row["id"] = record_id
    with pytest.raises(InvalidPayload) as caught:
        process_webhook(supabase_body("INSERT", row))
    assert caught.value.field == "record.id"


def test_unicode_survives_intact() -> None:
    message = "Modèle indisponible 模型不可用 \u05e9\u05d2\u05d9\u05d0\u05d4 🚫"
    failure = failure_of(failed_insert(model_id="flüx-プロ", parameters={"error": message}))
    assert failure.message == message
    assert failure.model_id == "flüx-プロ"


def test_lone_surrogates_are_replaced_not_kept() -> None:
    # Valid JSON that PostgreSQL would never send, but anyone can: "\ud800" escapes.
    body = (
        b'{"type": "INSERT", "table": "generations", "schema": "public", "record": '
        b'{"id": "g\\ud800", "status": "failed", "model_id": "m\\udfff", "user_id": "u\\ud83d",'
        b' "parameters": {"error": "bad \\ud800 text", "errorContext": {"type": "T\\ud800",'
        b' "timestamp": "2024\\udc00"}}}, "old_record": null}'
    )
    failure = failure_of(body)
    texts = [
        failure.idempotency_key,
        failure.generation_id,
        failure.message,
        failure.model_id,
        failure.user_id,
        failure.error_type,
        failure.occurred_at,
        *failure.labels.keys(),
        *failure.labels.values(),
    ]
    for text in texts:
        assert text is not None
        text.encode("utf-8")  # raises if a surrogate were left in
    assert failure.message == "bad \ufffd text"


def test_a_200_kib_row_is_a_failure_with_a_bounded_message() -> None:
    huge_prompt = "a misty forest, " * 12_800  # 200 KiB
    huge_error = "Model crashed: " + "x" * 100_000
    body = failed_insert(prompt=huge_prompt, parameters={"error": huge_error})
    assert len(body) > 200 * 1024
    failure = failure_of(body)
    assert failure.message == huge_error[: len(failure.message)]
    assert len(failure.message) <= 4096
    assert all(len(value) <= 256 for value in failure.labels.values())
