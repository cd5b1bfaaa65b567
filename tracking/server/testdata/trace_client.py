"""Traces with the real MLflow 2.17.2 client against MLFLOW_TRACKING_URI.

Run by TestMLflowClientTraces; exits non-zero when an assertion fails.
"""
import mlflow
from mlflow.entities import SpanType
from mlflow.exceptions import MlflowException

mlflow.set_experiment("client-traces")
exp = mlflow.get_experiment_by_name("client-traces").experiment_id
client = mlflow.MlflowClient()


@mlflow.trace(name="multiply", span_type=SpanType.TOOL)
def mul(x, y):
    return x * y


@mlflow.trace
def add(a, b):
    return mul(a, 2) + b


@mlflow.trace
def fail():
    raise ValueError("boom")


assert add(2, 3) == 7
try:
    fail()
except ValueError:
    pass

traces = client.search_traces([exp])
assert [t.info.tags["mlflow.traceName"] for t in traces] == ["fail", "add"], traces
assert [t.info.status.value for t in traces] == ["ERROR", "OK"], traces
ok = traces[1]
assert [s.name for s in ok.data.spans] == ["add", "multiply"], ok.data.spans
assert ok.data.spans[1].span_type == SpanType.TOOL
assert ok.info.request_metadata["mlflow.traceInputs"] == '{"a": 2, "b": 3}', ok.info.request_metadata
assert ok.info.execution_time_ms >= 0

found = client.search_traces([exp], filter_string="name = 'add' and status = 'OK'")
assert [t.info.request_id for t in found] == [ok.info.request_id], found

client.set_trace_tag(ok.info.request_id, "reviewed", "yes")
assert client.get_trace(ok.info.request_id).info.tags["reviewed"] == "yes"
client.delete_trace_tag(ok.info.request_id, "reviewed")
assert "reviewed" not in client.get_trace(ok.info.request_id).info.tags

assert client.delete_traces(exp, request_ids=[traces[0].info.request_id]) == 1
assert [t.info.request_id for t in client.search_traces([exp])] == [ok.info.request_id]
try:
    client.get_trace(traces[0].info.request_id)
    raise AssertionError("a deleted trace was found")
except MlflowException as e:
    assert e.error_code == "RESOURCE_DOES_NOT_EXIST", e.error_code
print("ok")
