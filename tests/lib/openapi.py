"""Checks real answers against docs/openapi.yaml, so that the description
cannot drift from the service: the status must be one the operation lists,
the Content-Type one it describes, the required headers present and the body
valid against the schema (JSON Schema 2020-12, python3-jsonschema).

    spec = OpenApi()
    svc = Service(check_answers=spec.check)   # every answer svc gets is checked
"""
import json
import os

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SPEC = os.path.join(ROOT, "docs", "openapi.yaml")


class AnswerMismatch(AssertionError):
    pass


class OpenApi:
    def __init__(self, path=SPEC):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.resolver = jsonschema.RefResolver("", self.doc)
        self.checked = []  # (method, path, status) of every answer checked

    def resolve(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def response_for(self, method, path, status):
        """The response object the document gives for this answer."""
        item = self.doc["paths"].get(path)
        if item is None:  # any other path: 404, or nginx's own answers before routing
            generic = {"404": "NotFound", "413": "TooLarge", "400": "BadRequest",
                       "502": "ExecutorUnavailable", "504": "ExecutorUnavailable"}
            if str(status) not in generic:
                raise AnswerMismatch(f"{method} {path}: {status} for a path the document does not list")
            return self.resolve({"$ref": f"#/components/responses/{generic[str(status)]}"})
        op = item.get(method.lower())
        if op is None:
            if status != 405 and not (status == 413 and method != "GET"):
                raise AnswerMismatch(f"{method} {path}: {status}, but the document gives only 405 for this method")
            name = "MethodNotAllowed" if status == 405 else "TooLarge"
            return self.resolve({"$ref": f"#/components/responses/{name}"})
        response = op["responses"].get(str(status))
        if response is None:
            raise AnswerMismatch(f"{method} {path}: status {status} is not described "
                                 f"(described: {sorted(op['responses'])})")
        return self.resolve(response)

    def check(self, method, path, status, headers, body):
        path = path.split("?")[0]
        response = self.response_for(method, path, status)
        where = f"{method} {path} {status}"
        for name, header in (response.get("headers") or {}).items():
            header = self.resolve(header)
            if header.get("required") and name not in headers:
                raise AnswerMismatch(f"{where}: header {name} missing (got {sorted(headers)})")
        content = response.get("content")
        if method == "HEAD" or not content:
            if method == "HEAD" and body:
                raise AnswerMismatch(f"{where}: a HEAD answer with a body")
            self.checked.append((method, path, status))
            return
        ctype = headers.get("Content-Type", "").split(";")[0].strip()
        media = content.get(ctype)
        if media is None:
            raise AnswerMismatch(f"{where}: Content-Type {ctype!r}, described: {sorted(content)}")
        if ctype == "application/json":
            try:
                value = json.loads(body)
            except ValueError as e:
                raise AnswerMismatch(f"{where}: not JSON ({e}): {body[:200]!r}")
            validator = jsonschema.Draft202012Validator(media["schema"], resolver=self.resolver)
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                raise AnswerMismatch(f"{where}: {e.message} at {'/'.join(map(str, e.path)) or 'the top'} "
                                     f"(schema {'/'.join(map(str, e.schema_path))}); body {body[:300]!r}")
        self.checked.append((method, path, status))
