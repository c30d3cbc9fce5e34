"""A small Grafana HTTP API built from Grafana's own API description, for testing clients of it.

No Grafana server can run here. :class:`GrafanaApi` serves ``../shared/grafana/api-merged.json``
(Swagger 2.0, Grafana 11.4) on 127.0.0.1 and holds just enough state to answer like Grafana:
organizations, the signed-in admin and the organization it works in, and per organization its
data sources, teams, folders with their permissions and dashboards.

Every request is checked against the description before it is answered: its path and method must
be an operation of the description; path and query parameters must be declared there, with the
declared types; a body must be sent exactly when the operation takes one, and must validate
against its schema, read strictly (an object with declared properties accepts no others, so a
misspelt field is caught where Grafana would silently drop it). Every answer is checked against
the response schema the description gives for its status. Anything that does not match is
recorded in :attr:`GrafanaApi.violations` and answered with 400 (or 501 for an operation the
description has that this double does not model), so a test fails loudly.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

DESCRIPTION = Path(__file__).resolve().parents[3] / "shared" / "grafana" / "api-merged.json"
MAIN_ORG_ID = 1
ADMIN_ID = 1
VIEW, EDIT, ADMIN = 1, 2, 4


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern
    parameters: tuple[dict, ...]
    responses: dict

    def body_parameter(self) -> dict | None:
        return next((p for p in self.parameters if p["in"] == "body"), None)


@dataclass
class Call:
    method: str
    path: str
    operation_id: str
    query: dict
    body: object
    status: int
    org_id: int  # the organization the admin was working in

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Org:
    id: int
    name: str
    members: dict[int, str] = field(default_factory=dict)  # user id -> role
    datasources: dict[str, dict] = field(default_factory=dict)  # uid -> stored data source
    teams: dict[int, dict] = field(default_factory=dict)
    folders: dict[str, dict] = field(default_factory=dict)  # uid -> folder
    folder_permissions: dict[str, list[dict]] = field(default_factory=dict)
    dashboards: dict[str, dict] = field(default_factory=dict)  # uid -> {dashboard, folderUid}
    preferences: dict = field(default_factory=dict)


def closed(schema):
    """The description's schema with every object that lists its properties closed to others."""
    if isinstance(schema, dict):
        result = {key: closed(value) for key, value in schema.items()
                  if key not in ("example", "x-go-name", "x-go-package")}
        if "properties" in result and "additionalProperties" not in result:
            result["additionalProperties"] = False
        return result
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    return schema


def load_operations(description: dict) -> list[Operation]:
    operations = []
    for template, methods in description["paths"].items():
        shared = methods.get("parameters", [])
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        for method, spec in methods.items():
            if method == "parameters":
                continue
            operations.append(Operation(
                spec["operationId"], method.upper(), template, re.compile(f"^{regex}$"),
                tuple(shared) + tuple(spec.get("parameters", [])), spec.get("responses", {})))
    # literal paths win over templated ones (/datasources/uid/x before /datasources/{id}/...)
    operations.sort(key=lambda op: (op.template.count("{"), -len(op.template)))
    return operations


class GrafanaApi:
    """The double; use as a context manager, or :meth:`start` and :meth:`stop`."""

    def __init__(self, user: str = "admin", password: str = "admin-password",
                 description: Path = DESCRIPTION):
        self.description = json.loads(description.read_text(encoding="utf-8"))
        self.base_path = self.description["basePath"]
        self.operations = load_operations(self.description)
        self.definitions = closed(self.description["definitions"])
        self.responses = closed(self.description["responses"])
        self.credentials = (user, password)
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.ids = itertools.count(2)
        self.orgs: dict[int, Org] = {MAIN_ORG_ID: Org(MAIN_ORG_ID, "Main Org.",
                                                       {ADMIN_ID: "Admin"})}
        self.current_org = MAIN_ORG_ID
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    # --- serving --------------------------------------------------------------------------

    def start(self) -> GrafanaApi:
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.thread.join(timeout=10)

    def __enter__(self) -> GrafanaApi:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def wsgi(self, environ, start_response):
        request = Request(environ)
        with self.lock:
            response = self.handle(request)
        return response(environ, start_response)

    # --- checking a request against the description -----------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        org_before = self.current_org
        if not path.startswith(self.base_path + "/"):
            return self._violation(request, None, 404, f"{path} is outside {self.base_path}")
        relative = path[len(self.base_path):]
        candidates = [(op, op.pattern.match(relative)) for op in self.operations]
        matching = [(op, match) for op, match in candidates if match]
        if not matching:
            return self._violation(request, None, 404, f"no operation has the path {relative}")
        chosen = next(((op, match) for op, match in matching if op.method == request.method),
                      None)
        if chosen is None:
            return self._violation(request, None, 405,
                                   f"{request.method} {relative}: the path has no such method")
        operation, match = chosen
        try:
            body = self._check_request(operation, match, request)
        except ApiError as problem:
            return self._violation(request, operation, problem.status, problem.message)
        if not self._authenticated(request):
            status, payload = 401, {"message": "Unauthorized"}
        else:
            try:
                status, payload = self.answer(operation, match.groupdict(), request.args, body)
            except ApiError as error:
                status, payload = error.status, {"message": error.message}
        self._check_response(operation, status, payload)
        self.calls.append(Call(request.method, relative, operation.operation_id,
                               request.args.to_dict(flat=False), body, status, org_before))
        return Response(json.dumps(payload), status=status, content_type="application/json")

    def _violation(self, request: Request, operation: Operation | None, status: int,
                   message: str) -> Response:
        where = operation.operation_id if operation else "?"
        self.violations.append(f"{request.method} {request.full_path.rstrip('?')} ({where}): "
                               f"{message}")
        return Response(json.dumps({"message": message}), status=status,
                        content_type="application/json")

    def _authenticated(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == self.credentials

    def _check_request(self, operation: Operation, match: re.Match, request: Request):
        declared = {(p["in"], p["name"]): p for p in operation.parameters}
        for name, value in match.groupdict().items():
            self._check_value(declared.get(("path", name)), value, f"path parameter {name}")
        for name in request.args:
            parameter = declared.get(("query", name))
            if parameter is None:
                raise ApiError(400, f"query parameter {name!r} is not in the description")
            values = request.args.getlist(name)
            if parameter.get("type") != "array" and len(values) > 1:
                raise ApiError(400, f"query parameter {name!r} given {len(values)} times")
            for value in values:
                item = parameter.get("items", parameter) if parameter.get("type") == "array" \
                    else parameter
                self._check_value(item, value, f"query parameter {name}")
        parameter = operation.body_parameter()
        raw = request.get_data()
        if parameter is None:
            if raw:
                raise ApiError(400, "this operation takes no body")
            return None
        if not raw:
            if parameter.get("required"):
                raise ApiError(400, "the body is required")
            return None
        if request.mimetype != "application/json":
            raise ApiError(400, f"the body must be application/json, not {request.mimetype!r}")
        try:
            body = json.loads(raw)
        except ValueError:
            raise ApiError(400, "the body is not JSON") from None
        problems = self._schema_problems(parameter["schema"], body)
        if problems:
            raise ApiError(400, "the body does not match the description: " + "; ".join(problems))
        return body

    @staticmethod
    def _check_value(parameter: dict | None, value: str, what: str) -> None:
        if parameter is None:
            raise ApiError(400, f"{what} is not in the description")
        kind = parameter.get("type")
        if kind == "integer" and not re.fullmatch(r"-?\d+", value):
            raise ApiError(400, f"{what} must be an integer, not {value!r}")
        if kind == "boolean" and value not in ("true", "false"):
            raise ApiError(400, f"{what} must be true or false, not {value!r}")
        if "enum" in parameter and value not in parameter["enum"]:
            raise ApiError(400, f"{what} must be one of {parameter['enum']}, not {value!r}")

    def _schema_problems(self, schema: dict, instance) -> list[str]:
        validator = jsonschema.Draft4Validator({**closed(schema), "definitions": self.definitions})
        return [f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message[:200]}"
                for error in validator.iter_errors(instance)]

    def _check_response(self, operation: Operation, status: int, payload) -> None:
        response = operation.responses.get(str(status))
        if response is None:
            self.violations.append(f"{operation.operation_id}: the double answered {status}, "
                                   "which the description does not list")
            return
        if "$ref" in response:
            response = self.responses[response["$ref"].rsplit("/", 1)[1]]
        if "schema" in response:
            for problem in self._schema_problems(response["schema"], payload):
                self.violations.append(f"{operation.operation_id}: the double's {status} answer "
                                       f"does not match the description: {problem}")

    # --- answering as Grafana -------------------------------------------------------------

    def answer(self, operation: Operation, path: dict, query, body) -> tuple[int, object]:
        handler = getattr(self, f"op_{operation.operation_id}", None)
        if handler is None:
            raise ApiError(501, f"{operation.operation_id} is in the description but this "
                                "double does not model it")
        return handler(path=path, query=query, body=body)

    @property
    def org(self) -> Org:
        return self.orgs[self.current_org]

    def _org(self, org_id: str) -> Org:
        org = self.orgs.get(int(org_id))
        if org is None:
            raise ApiError(404, "Organization not found")
        return org

    # users and organizations

    def op_getSignedInUser(self, **_):
        return 200, {"id": ADMIN_ID, "login": self.credentials[0], "orgId": self.current_org,
                     "isGrafanaAdmin": True, "email": "admin@localhost", "name": ""}

    def op_searchOrgs(self, query, **_):
        orgs = [{"id": org.id, "name": org.name} for org in self.orgs.values()]
        if "name" in query:
            orgs = [org for org in orgs if org["name"] == query["name"]]
        return 200, orgs

    def op_getOrgByID(self, path, **_):
        org = self._org(path["org_id"])
        return 200, {"id": org.id, "name": org.name}

    def op_createOrg(self, body, **_):
        name = (body or {}).get("name") or ""
        if not name:  # the description lists no 400 for this operation
            raise ApiError(409, "Organization name is required")
        if any(org.name == name for org in self.orgs.values()):
            raise ApiError(409, "Organization name taken")
        org = Org(next(self.ids), name, {ADMIN_ID: "Admin"})  # the creator becomes its admin
        self.orgs[org.id] = org
        return 200, {"orgId": org.id, "message": "Organization created"}

    def op_updateOrg(self, path, body, **_):
        org = self._org(path["org_id"])
        if any(other.name == body.get("name") and other.id != org.id
               for other in self.orgs.values()):
            raise ApiError(400, "Organization name taken")
        org.name = body["name"]
        return 200, {"message": "Organization updated"}

    def op_deleteOrgByID(self, path, **_):
        org = self._org(path["org_id"])
        if org.id == self.current_org:
            raise ApiError(400, "Can not delete org for current user")
        del self.orgs[org.id]
        return 200, {"message": "Organization deleted"}

    def op_userSetUsingOrg(self, path, **_):
        org = self.orgs.get(int(path["org_id"]))
        if org is None or ADMIN_ID not in org.members:
            raise ApiError(401, "Not a valid organization")
        self.current_org = org.id
        return 200, {"message": "Active organization changed"}

    # data sources

    def _datasource_view(self, stored: dict) -> dict:
        view = {key: value for key, value in stored.items() if key != "secureJsonData"}
        view["secureJsonFields"] = {key: True for key in stored.get("secureJsonData", {})}
        return view

    def op_getDataSources(self, **_):
        return 200, [{key: value for key, value in self._datasource_view(stored).items()
                      if key not in ("secureJsonFields", "version", "withCredentials",
                                     "basicAuthUser")}
                     for stored in self.org.datasources.values()]

    def _datasource(self, uid: str) -> dict:
        stored = self.org.datasources.get(uid)
        if stored is None:
            raise ApiError(404, "Data source not found")
        return stored

    def op_getDataSourceByUID(self, path, **_):
        return 200, self._datasource_view(self._datasource(path["uid"]))

    def op_addDataSource(self, body, **_):
        uid = body.get("uid") or f"generated-{next(self.ids)}"
        if uid in self.org.datasources or any(
                stored["name"] == body.get("name") for stored in self.org.datasources.values()):
            raise ApiError(409, "data source with the same name or uid already exists")
        stored = {"access": "proxy", "basicAuth": False, "isDefault": False, "jsonData": {},
                  "readOnly": False, "url": "", "user": "", "database": "",
                  "withCredentials": False, "basicAuthUser": "", **copy.deepcopy(body),
                  "uid": uid, "id": next(self.ids), "orgId": self.current_org, "version": 1}
        self.org.datasources[uid] = stored
        view = self._datasource_view(stored)
        return 200, {"datasource": view, "id": stored["id"], "name": stored["name"],
                     "message": "Datasource added"}

    def op_updateDataSourceByUID(self, path, body, **_):
        stored = self._datasource(path["uid"])
        secure = {**stored.get("secureJsonData", {}), **body.get("secureJsonData", {})}
        stored.update({key: copy.deepcopy(value) for key, value in body.items()
                       if key not in ("secureJsonData", "version")})
        stored["secureJsonData"] = secure
        stored["version"] += 1
        view = self._datasource_view(stored)
        return 200, {"datasource": view, "id": stored["id"], "name": stored["name"],
                     "message": "Datasource updated"}

    def op_deleteDataSourceByUID(self, path, **_):
        self._datasource(path["uid"])
        del self.org.datasources[path["uid"]]
        return 200, {"message": "Data source deleted"}

    # teams

    def op_searchTeams(self, query, **_):
        teams = list(self.org.teams.values())
        if "name" in query:
            teams = [team for team in teams if team["name"] == query["name"]]
        if "query" in query:
            teams = [team for team in teams if query["query"] in team["name"]]
        return 200, {"teams": teams, "totalCount": len(teams), "page": 1, "perPage": 1000}

    def op_createTeam(self, body, **_):
        if any(team["name"] == body.get("name") for team in self.org.teams.values()):
            raise ApiError(409, "Team name taken")
        team_id = next(self.ids)
        self.org.teams[team_id] = {"id": team_id, "uid": f"team-{team_id}",
                                   "orgId": self.current_org, "name": body["name"],
                                   "email": body.get("email", ""), "memberCount": 0}
        return 200, {"teamId": team_id, "uid": f"team-{team_id}", "message": "Team created"}

    def op_deleteTeamByID(self, path, **_):
        if int(path["team_id"]) not in self.org.teams:
            raise ApiError(404, "Team not found")
        del self.org.teams[int(path["team_id"])]
        return 200, {"message": "Team deleted"}

    # folders and their permissions

    def _folder(self, uid: str) -> dict:
        folder = self.org.folders.get(uid)
        if folder is None:
            raise ApiError(404, "folder not found")
        return folder

    def op_getFolderByUID(self, path, **_):
        return 200, self._folder(path["folder_uid"])

    def op_getFolders(self, **_):
        return 200, [{"id": folder["id"], "uid": folder["uid"], "title": folder["title"]}
                     for folder in self.org.folders.values()]

    def op_createFolder(self, body, **_):
        uid = body.get("uid") or f"folder-{next(self.ids)}"
        if uid in self.org.folders:
            raise ApiError(409, "a folder with the same uid already exists")
        folder = {"id": next(self.ids), "uid": uid, "title": body["title"],
                  "orgId": self.current_org, "version": 1, "url": f"/dashboards/f/{uid}/"}
        self.org.folders[uid] = folder
        # Grafana's defaults for a new folder: its creator administers it, editors edit,
        # viewers view
        self.org.folder_permissions[uid] = [{"userId": ADMIN_ID, "permission": ADMIN},
                                            {"role": "Editor", "permission": EDIT},
                                            {"role": "Viewer", "permission": VIEW}]
        return 200, folder

    def op_getFolderPermissionList(self, path, **_):
        folder = self._folder(path["folder_uid"])
        items = []
        for item in self.org.folder_permissions[folder["uid"]]:
            shown = {"folderUid": folder["uid"], "isFolder": True, "inherited": False,
                     "permission": item["permission"], **item}
            if "teamId" in item:
                shown["team"] = self.org.teams.get(item["teamId"], {}).get("name", "")
            items.append(shown)
        return 200, items

    def op_updateFolderPermissions(self, path, body, **_):
        folder = self._folder(path["folder_uid"])
        items = []
        for item in body.get("items", []):
            kept = {key: item[key] for key in ("teamId", "userId", "role") if key in item}
            if len(kept) != 1:
                raise ApiError(400, "each item names one of teamId, userId or role")
            if "teamId" in kept and kept["teamId"] not in self.org.teams:
                raise ApiError(400, f"team {kept['teamId']} is not in this organization")
            items.append({**kept, "permission": item.get("permission", VIEW)})
        self.org.folder_permissions[folder["uid"]] = items
        return 200, {"message": "Folder permissions updated"}

    # dashboards

    def op_getDashboardByUID(self, path, **_):
        stored = self.org.dashboards.get(path["uid"])
        if stored is None:
            raise ApiError(404, "Dashboard not found")
        return 200, {"dashboard": stored["dashboard"],
                     "meta": {"folderUid": stored["folderUid"], "slug": stored["slug"],
                              "canSave": True, "provisioned": False}}

    def op_postDashboard(self, body, **_):
        dashboard = copy.deepcopy(body["dashboard"])
        uid = dashboard.get("uid") or f"dashboard-{next(self.ids)}"
        folder_uid = body.get("folderUid", "")
        if folder_uid and folder_uid not in self.org.folders:
            raise ApiError(400, "folder not found")
        existing = self.org.dashboards.get(uid)
        if existing and not body.get("overwrite"):
            raise ApiError(412, "A dashboard with the same uid already exists")
        version = existing["dashboard"]["version"] + 1 if existing else 1
        dashboard_id = existing["dashboard"]["id"] if existing else next(self.ids)
        dashboard.update({"uid": uid, "id": dashboard_id, "version": version})
        slug = re.sub(r"[^a-z0-9]+", "-", dashboard.get("title", "").lower()).strip("-")
        self.org.dashboards[uid] = {"dashboard": dashboard, "folderUid": folder_uid,
                                    "slug": slug, "saved": dt.datetime.now(dt.timezone.utc)}
        return 200, {"id": dashboard_id, "uid": uid, "status": "success", "title": slug,
                     "version": version, "url": f"/d/{uid}/{slug}", "folderUid": folder_uid}

    def op_deleteDashboardByUID(self, path, **_):
        stored = self.org.dashboards.pop(path["uid"], None)
        if stored is None:
            raise ApiError(404, "Dashboard not found")
        title = stored["dashboard"].get("title", "")
        return 200, {"uid": path["uid"], "title": title, "message": f"Dashboard {title} deleted"}

    def op_search(self, query, **_):
        if query.get("type") == "dash-folder":
            return 200, [{"uid": folder["uid"], "title": folder["title"], "type": "dash-folder",
                          "id": folder["id"]} for folder in self.org.folders.values()]
        folders = query.getlist("folderUIDs") if hasattr(query, "getlist") else []
        hits = []
        for uid, stored in self.org.dashboards.items():
            if folders and stored["folderUid"] not in folders:
                continue
            hits.append({"uid": uid, "id": stored["dashboard"]["id"], "type": "dash-db",
                         "title": stored["dashboard"].get("title", ""),
                         "folderUid": stored["folderUid"], "tags": stored["dashboard"].get(
                             "tags", [])})
        return 200, hits

    # organization preferences

    def op_getOrgPreferences(self, **_):
        return 200, dict(self.org.preferences)

    def op_patchOrgPreferences(self, body, **_):
        self.org.preferences.update(body)
        return 200, {"message": "Preferences updated"}

    # --- what a test looks at ---------------------------------------------------------------

    def snapshot(self) -> dict:
        """Everything the double holds, comparable between two moments."""
        return copy.deepcopy({org.id: {
            "name": org.name, "members": org.members, "datasources": org.datasources,
            "teams": org.teams, "folders": org.folders, "permissions": org.folder_permissions,
            "preferences": org.preferences,
            "dashboards": {uid: stored["dashboard"] for uid, stored in org.dashboards.items()}}
            for org in self.orgs.values()}) | {"current_org": self.current_org}

    def org_named(self, name: str) -> Org | None:
        return next((org for org in self.orgs.values() if org.name == name), None)
