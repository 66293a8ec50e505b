"""docs/openapi.yaml against the real server: `latent serve` (the CLI) on a
model trained by `latent train`, every endpoint called with good and bad
requests, and each answer checked against the description: its status is
one the operation documents, its Content-Type one of that status's media
types, its JSON body valid against that status's schema (every object is
closed: additionalProperties false), its documented headers present. A
wrong method is checked against the path item's methods (405 and Allow).
So the test fails when the server adds an undocumented field, status,
header or endpoint, or changes a shape; and when the description documents
an operation or a status that the test never sees.

ctest runs it (label server) with LATENT_CLI and LATENT_SOURCE_DIR set; by
hand:

    LATENT_CLI=build/bin/latent /usr/bin/python3 -m pytest -q tests/server/test_openapi.py

Needs python3-yaml and python3-jsonschema (Debian packages, from
scripts/install-deps.sh).
"""

import http.client
import json
import os
import pathlib
import re
import socket
import subprocess

import jsonschema
import pytest
import yaml

SOURCE_DIR = pathlib.Path(os.environ.get("LATENT_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
CLI = pathlib.Path(os.environ.get("LATENT_CLI", SOURCE_DIR / "build" / "bin" / "latent"))
SPEC_FILE = SOURCE_DIR / "docs" / "openapi.yaml"
SPEC = yaml.safe_load(SPEC_FILE.read_bytes())
METHODS = ("get", "post", "put", "delete", "patch")
MAX_BODY = 65536  # --max_body_bytes of the servers below

STAR_WARS = "Star Wars: Episode IV - A New Hope (1977)"
JEDI = "Star Wars: Episode VI - Return of the Jedi (1983)"


# --- the description as JSON Schema ------------------------------------------

def resolve(node):
    """`node` with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = SPEC
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolve(target)
        return {key: resolve(value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(value) for value in node]
    return node


def json_schema(schema):
    """An OpenAPI 3.0 schema object as JSON Schema (draft 4): `nullable` becomes
    a "null" type; the annotations (example, format, ...) JSON Schema ignores."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in ("properties",):
            out[key] = {name: json_schema(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "not") or key in ("oneOf", "anyOf", "allOf"):
            out[key] = json_schema(value)
        elif key not in ("nullable", "example", "examples"):
            out[key] = value
    if schema.get("nullable"):
        out["type"] = [out["type"], "null"]
    return out


def validate(instance, schema):
    jsonschema.Draft4Validator(json_schema(resolve(schema))).validate(instance)


def template_regex(template):
    """A path template as a regex; a parameter is a run of characters other than
    '/' and ':', so /v1/models/{model_name} does not also match ...:predict."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/:]+" if p.startswith("{") else re.escape(p)
                                    for p in parts) + "$")


PATHS = [(template, template_regex(template)) for template in SPEC["paths"]]


def path_item(path):
    for template, regex in PATHS:
        if regex.match(path):
            return template
    return None


# --- talking to the server --------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)


class Server:
    """`latent serve ARGS` on a free loopback port, stopped by SIGTERM."""

    def __init__(self, args, log):
        self.log = log
        self.process = subprocess.Popen(
            [str(CLI), "serve", "--rest_api_host", "127.0.0.1", "--rest_api_port", "0",
             "--file_system_poll_wait_seconds", "0", "--max_body_bytes", str(MAX_BODY), *args],
            stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.port = None
        # The port is printed once the models are loaded and the socket listens.
        while self.port is None:
            text = log.read_text(errors="replace")
            match = re.search(r"listening on 127\.0\.0\.1:([0-9]+)", text)
            if match:
                self.port = int(match.group(1))
            elif self.process.poll() is not None:
                raise RuntimeError(f"latent serve exited {self.process.returncode}:\n{text}")
            else:
                try:
                    self.process.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    pass

    def stop(self):
        self.process.terminate()
        assert self.process.wait(timeout=60) == 0, self.log.read_text(errors="replace")

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            all_headers = {"Content-Type": "application/json"} if body is not None else {}
            all_headers.update(headers or {})
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return Answer(response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    def raw(self, data):
        """Sends bytes as they are; the answer read up to its Content-Length."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
            s.sendall(data)
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = s.recv(65536)
                assert chunk, received
                received += chunk
            head, body = received.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]]
            length = int(dict((k.lower(), v) for k, v in headers)["content-length"])
            while len(body) < length:
                chunk = s.recv(65536)
                assert chunk
                body += chunk
            return Answer(int(lines[0].split()[1]), headers, body)


class Checker:
    """Checks answers against the description and records what it has seen."""

    def __init__(self):
        self.seen_statuses = set()
        self.seen_ok = set()  # (template, method) answered 2xx

    def check(self, method, path, answer):
        method = method.lower()
        where = f"{method.upper()} {path} -> {answer.status}: {answer.body[:300]!r}"
        template = path_item(path.split("?")[0])
        if template is None:
            # No such path in the description: the server must say so.
            assert answer.status == 404, where
            return self.check_response(SPEC["components"]["responses"]["NotFound"], answer, where)
        item = SPEC["paths"][template]
        if method not in item:
            assert answer.status == 405, where
            allowed = sorted(m.upper() for m in item if m in METHODS)
            if "GET" in allowed:
                allowed.append("HEAD")  # HEAD goes with GET, undescribed as usual
            assert answer.headers.get("allow") == ", ".join(allowed), where
            operation = next(item[m] for m in item if m in METHODS)
        else:
            operation = item[method]
            if 200 <= answer.status < 300:
                self.seen_ok.add((template, method))
        responses = operation["responses"]
        assert str(answer.status) in responses, f"undocumented status: {where}"
        self.seen_statuses.add(str(answer.status))
        return self.check_response(responses[str(answer.status)], answer, where)

    def check_response(self, response, answer, where):
        response = resolve(response)
        media_type = answer.headers.get("content-type", "").split(";")[0].strip()
        assert media_type in response["content"], f"undocumented Content-Type {media_type}: {where}"
        for name, header in response.get("headers", {}).items():
            value = answer.headers.get(name.lower())
            if header.get("required"):
                assert value is not None, f"missing header {name}: {where}"
            if value is not None:
                validate(value, header["schema"])
        schema = response["content"][media_type]["schema"]
        if media_type == "application/json":
            try:
                validate(answer.json(), schema)
            except jsonschema.ValidationError as e:
                raise AssertionError(f"{where}\n{e}") from None
        else:
            validate(answer.body.decode(), schema)
        return answer


# --- fixtures ----------------------------------------------------------------

def cli(*args):
    subprocess.run([str(CLI), *map(str, args)], check=True)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.latent"
    cli("train", "--data", SOURCE_DIR / "data" / "ml-latest-small", "--rating-above", 3,
        "--item-key", "title", "--model", "als", "--dim", 8, "--out", path, "-q")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_file):
    """movies: version 1 serves, version 2 failed to load (truncated file)."""
    base = tmp_path_factory.mktemp("serve")
    (base / "movies" / "1").mkdir(parents=True)
    (base / "movies" / "1" / "model.latent").write_bytes(model_file.read_bytes())
    (base / "movies" / "2").mkdir()
    (base / "movies" / "2" / "model.latent").write_bytes(model_file.read_bytes()[:1000])
    s = Server(["--model_name", "movies", "--model_base_path", base / "movies"], base / "log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def pending(tmp_path_factory, model_file):
    """movies serves; pending has no version folder (503s)."""
    base = tmp_path_factory.mktemp("pending")
    (base / "movies" / "1").mkdir(parents=True)
    (base / "movies" / "1" / "model.latent").write_bytes(model_file.read_bytes())
    (base / "pending").mkdir()
    config = base / "models.config"
    config.write_text("model_config_list {\n"
                      f"  config {{ name: 'movies' base_path: '{base / 'movies'}' }}\n"
                      f"  config {{ name: 'pending' base_path: '{base / 'pending'}' }}\n"
                      "}\n")
    s = Server(["--model_config_file", config], base / "log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def checker():
    return Checker()


# --- the calls -----------------------------------------------------------------

M = "/v1/models/movies"
V = "/v1/models/movies/versions/1"

GOOD = [
    ("GET", M, None),
    ("GET", V, None),
    ("GET", M + "/versions/2", None),  # the failed version: END, DATA_LOSS
    ("GET", M + "/metadata", None),
    ("GET", V + "/metadata", None),
    ("POST", M + ":predict", {"instances": ["1", 2]}),
    ("POST", M + ":predict", {"signature_name": "serving_default", "instances": [{"input_1": "1"}]}),
    ("POST", V + ":predict", {"inputs": ["1", "2"]}),
    ("POST", V + ":predict", {"inputs": {"input_1": [3]}}),
    ("POST", M + ":predict", {"instances": [{"input_1": "1", "input_2": STAR_WARS}]}),
    ("POST", V + ":predict", {"inputs": {"input_1": ["1", "2"], "input_2": [STAR_WARS, JEDI]}}),
    ("POST", M + ":recommend", {"users": ["1", 2], "k": 3, "exclude_seen": True}),
    ("POST", M + ":recommend", {"users": ["1"], "allow": [STAR_WARS, JEDI], "deny": [JEDI]}),
    ("POST", M + ":recommend", {"items": [STAR_WARS, JEDI], "k": 2}),
    ("POST", V + ":recommend", {"users": ["no such user"], "items": [STAR_WARS]}),
    ("POST", V + ":recommend", {"users": ["1"], "items": [STAR_WARS]}),
    ("POST", M + ":similar", {"item": STAR_WARS, "k": 2}),
    ("POST", V + ":similar", {"item": JEDI}),
    ("POST", M + ":embeddings", {"users": ["1"], "items": [STAR_WARS]}),
    ("POST", V + ":embeddings", {"users": [1]}),
    ("POST", V + ":embeddings", {"items": [JEDI]}),
    ("GET", "/healthz", None),
    ("GET", "/metrics", None),
    ("GET", "/openapi.yaml", None),
]

BAD = [
    # 400: the request's fault
    ("POST", M + ":predict", "{not json", 400),
    ("POST", M + ":predict", "[1, 2]", 400),
    ("POST", M + ":predict", {"instances": ["1"], "inputs": ["1"]}, 400),
    ("POST", M + ":predict", {"instances": []}, 400),
    ("POST", M + ":predict", {"instances": ["1"] * 1001}, 400),
    ("POST", M + ":predict", {"instances": ["no such user"]}, 400),
    ("POST", M + ":predict", {"instances": [{"input_1": "1", "input_2": "no such item"}]}, 400),
    ("POST", M + ":predict", {"instances": ["1"], "signature_name": "other"}, 400),
    ("POST", V + ":recommend", {"users": ["1"], "k": 0}, 400),
    ("POST", V + ":recommend", {"users": ["1"], "k": 1001}, 400),
    ("POST", V + ":recommend", {"users": ["1", "2"], "items": [STAR_WARS]}, 400),
    ("POST", V + ":recommend", {"users": ["1"], "colour": "red"}, 400),
    ("POST", M + ":recommend", {}, 400),
    ("POST", M + ":similar", {"item": "no such item"}, 400),
    ("POST", M + ":similar", {"item": 1.5}, 400),
    ("POST", M + ":embeddings", {}, 400),
    ("POST", M + ":embeddings", {"users": "1"}, 400),
    ("GET", M + "/versions/0", None, 400),
    ("GET", M + "/versions/x/metadata", None, 400),
    ("POST", M + "/versions/-1:predict", {"instances": ["1"]}, 400),
    ("GET", M + "/labels/stable", None, 400),
    # 404: no such model, version, verb or path
    ("GET", "/v1/models/books", None, 404),
    ("GET", "/v1/models/books/metadata", None, 404),
    ("POST", "/v1/models/books:predict", {"instances": ["1"]}, 404),
    ("GET", M + "/versions/9", None, 404),
    ("GET", M + "/versions/9/metadata", None, 404),
    ("POST", M + "/versions/9:recommend", {"users": ["1"]}, 404),
    ("POST", M + "/versions/2:similar", {"item": STAR_WARS}, 404),  # failed to load
    ("POST", M + ":classify", {}, 404),
    ("GET", M + ":regress", None, 404),
    ("GET", "/v1/models", None, 404),
    ("GET", "/", None, 404),
    ("GET", "/openapi.json", None, 404),
    # A ':' in the last segment, %-encoded, is read as a :method (found by schemathesis).
    ("GET", M + "/labels/a%3Ab", None, 404),
    # 413: above --max_body_bytes
    ("POST", M + ":predict", "x" * (MAX_BODY + 1), 413),
    ("POST", M + ":embeddings", "x" * (MAX_BODY + 1), 413),
]


def test_served_description_is_the_file_byte_for_byte(server, checker):
    answer = checker.check("GET", "/openapi.yaml", server.request("GET", "/openapi.yaml"))
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/yaml"
    assert answer.body == SPEC_FILE.read_bytes()


def test_the_description_is_sound():
    assert SPEC["openapi"].startswith("3.0.")
    for template, item in SPEC["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, (template, method)
            assert operation.get("x-latent-endpoint"), (template, method)
            params = re.findall(r"\{([^}]+)\}", template)
            declared = [resolve(p)["name"] for p in operation.get("parameters", [])]
            assert sorted(params) == sorted(declared), (template, method)
    # Every schema is a valid JSON Schema once converted, and every example
    # in the description is valid against its own schema.
    for name, schema in SPEC["components"]["schemas"].items():
        converted = json_schema(resolve(schema))
        jsonschema.Draft4Validator.check_schema(converted)
        if "example" in schema:
            validate(schema["example"], schema)

    def media_types(node):
        if isinstance(node, dict):
            if "schema" in node and ("example" in node or "examples" in node):
                yield node
            for value in node.values():
                yield from media_types(value)
        elif isinstance(node, list):
            for value in node:
                yield from media_types(value)

    checked = 0
    for media in media_types(SPEC):
        examples = [media["example"]] if "example" in media else [
            e["value"] for e in media["examples"].values()]
        for example in examples:
            validate(example, media["schema"])
            checked += 1
    assert checked >= 20


@pytest.mark.parametrize("method,path,body", GOOD)
def test_good_requests_answer_as_described(server, checker, method, path, body):
    answer = checker.check(method, path, server.request(method, path, body))
    assert answer.status == 200, answer.body


@pytest.mark.parametrize("method,path,body,status", BAD)
def test_bad_requests_answer_as_described(server, checker, method, path, body, status):
    answer = checker.check(method, path, server.request(method, path, body))
    assert answer.status == status, answer.body


def test_wrong_methods_are_405_with_allow(server, checker):
    concrete = {"{model_name}": "movies", "{version}": "1"}
    for template, item in SPEC["paths"].items():
        path = template
        for name, value in concrete.items():
            path = path.replace(name, value)
        for method in METHODS:
            if method not in item:
                answer = checker.check(method, path, server.request(method.upper(), path, "{}"))
                assert answer.status == 405


def test_head_is_get_without_content(server):
    for method, path, _ in GOOD:
        if method == "GET":
            get, head = server.request("GET", path), server.request("HEAD", path)
            assert (head.status, head.body) == (get.status, b""), path
            assert head.headers["content-type"] == get.headers["content-type"], path
            if path != "/metrics":  # the counts moved on between the two
                assert head.headers["content-length"] == get.headers["content-length"], path


def test_transport_errors_are_json_as_described(server, checker):
    # 431: a header above 8 KiB.
    answer = server.request("GET", "/healthz", headers={"X-Padding": "x" * 9000})
    assert checker.check("GET", "/healthz", answer).status == 431
    # 400: HTTP the server cannot parse (a bad Content-Length).
    answer = server.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: twelve\r\n\r\n")
    assert checker.check("GET", "/metrics", answer).status == 400


def test_models_without_a_version_are_503(pending, checker):
    assert checker.check("GET", "/healthz", pending.request("GET", "/healthz")).status == 503
    assert pending.request("GET", "/healthz").json()["models"] == {"movies": "1", "pending": None}
    for method, path, body in [
            ("GET", "/v1/models/pending/metadata", None),
            ("POST", "/v1/models/pending:predict", {"instances": ["1"]}),
            ("POST", "/v1/models/pending:recommend", {"users": ["1"]}),
            ("POST", "/v1/models/pending:similar", {"item": STAR_WARS}),
            ("POST", "/v1/models/pending:embeddings", {"users": ["1"]})]:
        assert checker.check(method, path, pending.request(method, path, body)).status == 503
    # A version asked for by number is not there (404), as is the status of a
    # model with no version folder yet (as in TF Serving).
    for method, path, body in [
            ("GET", "/v1/models/pending", None),
            ("GET", "/v1/models/pending/versions/1/metadata", None),
            ("POST", "/v1/models/pending/versions/3:similar", {"item": STAR_WARS})]:
        assert checker.check(method, path, pending.request(method, path, body)).status == 404


def test_every_operation_status_and_endpoint_was_seen(server, checker):
    """Runs last (pytest keeps file order): what the description documents,
    the calls above produced, and the server has no endpoint it does not
    describe (its /metrics lists every endpoint label it has)."""
    operations = {(t, m) for t, item in SPEC["paths"].items() for m, op in item.items()
                  if m in METHODS and any(s.startswith("2") for s in op["responses"])}
    assert operations - checker.seen_ok == set(), "operations never answered 2xx"
    documented = {status for item in SPEC["paths"].values() for m, op in item.items()
                  if m in METHODS for status in op["responses"]}
    # A 500 is an unexpected exception: none can be caused from outside.
    assert documented - checker.seen_statuses == {"500"}
    metrics = server.request("GET", "/metrics").body.decode()
    labels = set(re.findall(r'latent_http_request_duration_seconds_count\{endpoint="([^"]+)"\}',
                            metrics))
    described = {op["x-latent-endpoint"] for item in SPEC["paths"].values()
                 for m, op in item.items() if m in METHODS}
    assert labels - {"other"} == described
