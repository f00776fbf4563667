"""The deploy files of every MCP x experiment x user-auth choice, judged by Databricks' own schemas.

For each render: `databricks.yml` loads with the `databricks-bundles` typed models (strict: unknown
fields, missing fields and bad permission levels are errors) and, where the Databricks CLI's bundle
JSON schema is at hand, validates against it; every resource the answers imply is granted with its
permission; every variable and resource reference resolves; `app.yaml` says what the bundle's
inline app config says; the dev and prod targets are there. The GitHub workflows validate against
the SchemaStore schema shipped by `check-jsonschema`.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import copier
import jsonschema
import pytest
import regress
import yaml
from databricks.bundles.apps import App
from databricks.bundles.experiments import MlflowExperiment

from combinations import ROOT, choices

MCP_SERVERS = choices("mcp_servers")
MCP_ANSWERS = {
    "mcp_genie_space_id": "01ef0123abcd",
    "mcp_genie_warehouse_id": "a1b2c3d4e5",
    "mcp_function_names": "python_exec,lookup_order",
    "mcp_vector_search_indexes": "docs_index",
    "mcp_vector_search_schema": "main.rag",
}
EXPERIMENT = "/Shared/agent-traces"
VARIABLE = re.compile(r"\$\{var\.([A-Za-z0-9_]+)\}")
RESOURCE_REFERENCE = re.compile(r"\$\{resources\.([a-z_]+)\.([A-Za-z0-9_]+)\.[a-z_]+\}")
STATE_STORES = choices("state_store")
CASES = [
    {"mcp_servers": list(servers), "mlflow_experiment": experiment, "user_auth": user_auth}
    for size in range(len(MCP_SERVERS) + 1)
    for servers in itertools.combinations(MCP_SERVERS, size)
    for experiment in ("", EXPERIMENT)
    for user_auth in (False, True)
]
# The state store's resource is independent of the other answers: each store, in turn, with every other choice.
CASES = [{**case, "state_store": STATE_STORES[index % len(STATE_STORES)]} for index, case in enumerate(CASES)]
STORE_ENV = {"sqlite": set(), "lakebase": {"LAKEBASE_ENDPOINT"}, "lakebase_provisioned": {"LAKEBASE_INSTANCE_NAME"}}


def case_id(case: dict[str, Any]) -> str:
    servers = "+".join(case["mcp_servers"]) or "no-mcp"
    experiment = "experiment" if case["mlflow_experiment"] else "no-experiment"
    return f"{servers}-{experiment}-obo{int(case['user_auth'])}-{case['state_store']}"


@pytest.fixture(scope="session")
def template_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree's files (tracked and new, as `render` takes them) in a plain folder.

    Copier renders a plain folder without cloning it: half the time of a render from git.
    """
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    copy = tmp_path_factory.mktemp("template")
    for name in filter(None, files.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def render_deploy_files(template: Path, destination: Path, **answers: Any) -> Path:
    copier.run_copy(str(template), destination, data=answers, defaults=True, unsafe=True, quiet=True)
    return destination


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_bundle_grants_what_the_answers_imply(case: dict[str, Any], template_copy: Path, tmp_path: Path) -> None:
    app_dir = render_deploy_files(template_copy, tmp_path / "app", **MCP_ANSWERS, **case)
    bundle = yaml.safe_load((app_dir / "databricks.yml").read_text())
    variables = bundle["variables"]
    (key, app_spec), *others = bundle["resources"]["apps"].items()
    assert not others, "one app per bundle"
    app = App.from_dict(app_spec)  # the typed models: strict about fields and permission levels

    granted = {r.name: r for r in app.resources}
    defaults = {name: spec.get("default") for name, spec in variables.items()}

    def resolved(value: object) -> str:
        return VARIABLE.sub(lambda m: str(defaults[m.group(1)]), str(value))

    endpoint = granted["serving-endpoint"].serving_endpoint
    assert endpoint and endpoint.permission.value == "CAN_QUERY"
    assert resolved(endpoint.name) == "databricks-meta-llama-3-3-70b-instruct"

    experiment = granted["experiment"].experiment
    assert experiment and experiment.permission.value == "CAN_MANAGE"
    if case["mlflow_experiment"]:
        assert str(experiment.experiment_id) == "${var.mlflow_experiment_id}"
        assert "default" not in variables["mlflow_experiment_id"], "an id is per workspace: no default"
        assert EXPERIMENT in variables["mlflow_experiment_id"]["description"]
        assert "experiments" not in bundle["resources"]
    else:
        assert str(experiment.experiment_id) == "${resources.experiments.traces.id}"
        traces = MlflowExperiment.from_dict(bundle["resources"]["experiments"]["traces"])
        assert str(traces.name).startswith("/Workspace/Users/${workspace.current_user.userName}/")
        # the app's own grant survives a target's `permissions` (they replace the experiment's ACL)
        assert [(p.level.value, str(p.service_principal_name)) for p in traces.permissions] == [
            ("CAN_MANAGE", f"${{resources.apps.{key}.service_principal_client_id}}")
        ]

    securables = {
        resolved(r.uc_securable.securable_full_name): (
            r.uc_securable.securable_type.value,
            r.uc_securable.permission.value,
        )
        for r in app.resources
        if r.uc_securable
    }
    expected_securables = {}
    if "uc_functions" in case["mcp_servers"]:
        for function in MCP_ANSWERS["mcp_function_names"].split(","):
            expected_securables[f"system.ai.{function}"] = ("FUNCTION", "EXECUTE")
    if "vector_search" in case["mcp_servers"]:
        expected_securables["main.rag.docs_index"] = ("TABLE", "SELECT")
    assert securables == expected_securables

    genie = [r.genie_space for r in app.resources if r.genie_space]
    warehouses = [r.sql_warehouse for r in app.resources if r.sql_warehouse]
    if "genie" in case["mcp_servers"]:
        assert [(resolved(g.space_id), g.permission.value) for g in genie] == [("01ef0123abcd", "CAN_RUN")]
        assert [(resolved(w.id), w.permission.value) for w in warehouses] == [("a1b2c3d4e5", "CAN_USE")]
    else:
        assert not genie and not warehouses

    check_state_store(app, variables, resolved, case)

    scopes = [str(s) for s in app.user_api_scopes]
    if case["user_auth"]:
        expected_scopes = {"serving.serving-endpoints"}
        expected_scopes |= {"sql"} if "uc_functions" in case["mcp_servers"] else set()
        expected_scopes |= {"vectorsearch.vector-search-indexes"} if "vector_search" in case["mcp_servers"] else set()
        expected_scopes |= {"dashboards.genie"} if "genie" in case["mcp_servers"] else set()
        assert sorted(scopes) == sorted(expected_scopes)
    else:
        assert scopes == []

    check_references(bundle)
    check_targets(bundle)
    check_app_yaml(app_dir, app, defaults, case)
    check_cli_schema(bundle)


def check_state_store(app: App, variables: dict[str, Any], resolved: Any, case: dict[str, Any]) -> None:
    """A Lakebase store is the app's database resource; Databricks Apps then sets PGHOST ... for it."""
    granted = {r.name: r for r in app.resources}
    postgres, database = granted.get("postgres"), granted.get("database")
    if case["state_store"] == "lakebase":  # Autoscaling: a branch of a project, and a database of it
        assert postgres is not None and postgres.postgres is not None and database is None
        assert postgres.postgres.permission.value == "CAN_CONNECT_AND_CREATE"
        assert resolved(postgres.postgres.branch) == "projects/my-agent-state/branches/production"
        assert str(postgres.postgres.database) == "${var.lakebase_database}"
        assert "default" not in variables["lakebase_database"], "a database id is per workspace: no default"
    elif case["state_store"] == "lakebase_provisioned":
        assert database is not None and database.database is not None and postgres is None
        assert database.database.permission.value == "CAN_CONNECT_AND_CREATE"
        assert str(database.database.instance_name) == "${var.lakebase_instance}"
        assert resolved(database.database.database_name) == "databricks_postgres"
    else:
        assert postgres is None and database is None
        assert not [name for name in variables if name.startswith("lakebase")]


def check_references(bundle: dict[str, Any]) -> None:
    """Every ${var.X} is declared, every ${resources.T.K.field} names a resource of the bundle."""
    text = json.dumps(bundle)
    assert set(VARIABLE.findall(text)) <= set(bundle["variables"]), "undeclared variable"
    for kind, key in RESOURCE_REFERENCE.findall(text):
        assert key in bundle["resources"].get(kind, {}), f"${{resources.{kind}.{key}...}} names nothing"


def check_targets(bundle: dict[str, Any]) -> None:
    dev, prod = bundle["targets"]["dev"], bundle["targets"]["prod"]
    assert dev["mode"] == "development" and dev["default"] is True
    assert prod["mode"] == "production"
    assert "${workspace.current_user.userName}" in prod["workspace"]["root_path"]
    assert prod["run_as"] == {"service_principal_name": "${var.prod_service_principal}"}
    assert {"level": "CAN_MANAGE", "service_principal_name": "${var.prod_service_principal}"} in prod["permissions"]


def check_app_yaml(app_dir: Path, app: App, defaults: dict[str, Any], case: dict[str, Any]) -> None:
    """app.yaml is the bundle's inline config with the variables' defaults, and names declared resources."""
    app_yaml = yaml.safe_load((app_dir / "app.yaml").read_text())
    assert app.config is not None
    assert app_yaml["command"] == list(app.config.command) == ["uv", "run", "--no-dev", "agent-server"]
    declared = {r.name for r in app.resources}
    from_yaml = [(e["name"], e.get("valueFrom"), e.get("value")) for e in app_yaml["env"]]
    for name, value_from, _ in from_yaml:
        assert value_from is None or value_from in declared, f"{name}: valueFrom {value_from!r} is not a resource"
    from_bundle = [
        (e.name, e.value_from, None if e.value is None else VARIABLE.sub(lambda m: defaults[m.group(1)], e.value))
        for e in app.config.env
    ]
    assert from_yaml == from_bundle
    env = {name: value for name, _, value in from_yaml}
    from_resources = {"LLM_ENDPOINT", "MLFLOW_EXPERIMENT_ID"} | STORE_ENV[case["state_store"]]
    assert {n for n, f, _ in from_yaml if f} == from_resources
    expected_mcp = [
        path
        for server, path in (
            ("uc_functions", "functions/system/ai"),
            ("vector_search", "vector-search/main/rag"),
            ("genie", "genie/01ef0123abcd"),
        )
        if server in case["mcp_servers"]
    ]
    assert env.get("MCP_SERVERS", "").split(",") == (expected_mcp or [""])


# -- the Databricks CLI's bundle JSON schema -------------------------------------------------
def bundle_schema_path() -> Path | None:
    """The CLI's schema (`databricks bundle schema`): $DATABRICKS_BUNDLE_SCHEMA, shared/, or the CLI."""
    configured = os.environ.get("DATABRICKS_BUNDLE_SCHEMA")
    if configured:
        return Path(configured)
    shared = ROOT.parent / "shared" / "databricks-bundle-schema.json"
    if shared.exists():
        return shared
    return None


@cache
def bundle_schema_validator() -> jsonschema.protocols.Validator | None:
    path = bundle_schema_path()
    if path is not None:
        schema = json.loads(path.read_text())
    elif shutil.which("databricks"):
        result = subprocess.run(["databricks", "bundle", "schema"], capture_output=True, text=True, check=True)
        schema = json.loads(result.stdout)
    else:
        return None
    return unicode_patterns(jsonschema.Draft202012Validator)(schema)


def check_cli_schema(bundle: dict[str, Any]) -> None:
    validator = bundle_schema_validator()
    if validator is None:
        return  # reported once by test_cli_bundle_schema_is_at_hand
    error = jsonschema.exceptions.best_match(validator.iter_errors(bundle))
    assert error is None, f"{'.'.join(map(str, error.absolute_path))}: {error.message}"


def test_cli_bundle_schema_is_at_hand() -> None:
    if bundle_schema_validator() is None:
        pytest.skip(
            "The Databricks CLI's bundle schema is not here: set DATABRICKS_BUNDLE_SCHEMA to the output of "
            "`databricks bundle schema` (bundle/schema/jsonschema.json of github.com/databricks/cli)."
        )


def test_cli_bundle_schema_rejects_a_wrong_permission(template_copy: Path, tmp_path: Path) -> None:
    """The schema check can fail: a permission level the CLI does not know is reported."""
    validator = bundle_schema_validator()
    if validator is None:
        pytest.skip("no bundle schema (see test_cli_bundle_schema_is_at_hand)")
    bundle = yaml.safe_load((render_deploy_files(template_copy, tmp_path / "app") / "databricks.yml").read_text())
    app = next(iter(bundle["resources"]["apps"].values()))
    app["resources"][0]["serving_endpoint"]["permission"] = "CAN_USE_EVERYTHING"
    error = jsonschema.exceptions.best_match(validator.iter_errors(bundle))
    assert error is not None and list(error.absolute_path)[-2:] == ["serving_endpoint", "permission"]


def unicode_patterns(base: type[jsonschema.protocols.Validator]) -> type[jsonschema.protocols.Validator]:
    """`base` with ECMA-262 `pattern`s: JSON schemas (the bundle schema too) use \\p{L}, which `re` lacks."""

    def pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
        if validator.is_type(instance, "string") and not _regex(pattern).find(instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")

    return jsonschema.validators.extend(base, {"pattern": pattern})


@cache
def _regex(pattern: str) -> regress.Regex:
    return regress.Regex(pattern, flags="u")


# -- GitHub Actions --------------------------------------------------------------------------
@pytest.mark.parametrize("ui", ["none", "react"])
def test_github_workflows_are_valid(ui: str, template_copy: Path, tmp_path: Path) -> None:
    app = render_deploy_files(
        template_copy, tmp_path / "app", ui=ui, mcp_servers=["genie"], mlflow_experiment=EXPERIMENT, **MCP_ANSWERS
    )
    workflows = sorted((app / ".github/workflows").glob("*.yml"))
    assert [w.name for w in workflows] == ["ci.yml", "deploy.yml"]
    schema = json.loads(
        resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("github-workflows.json").read_text()
    )
    validator = unicode_patterns(jsonschema.Draft7Validator)(schema)
    for workflow in workflows:
        document = load_workflow(workflow)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
        assert not errors, f"{workflow.name}: {errors[:5]}"

    ci = load_workflow(app / ".github/workflows/ci.yml")
    steps = [s.get("run", "") for job in ci["jobs"].values() for s in job.get("steps", [])]
    assert any("uv run pytest" in s for s in steps)
    assert any("npm run build" in s for s in steps) == (ui == "react")

    deploy = load_workflow(app / ".github/workflows/deploy.yml")
    job = deploy["jobs"]["deploy"]
    assert job["permissions"]["id-token"] == "write" and "id-token" not in deploy["permissions"]
    assert deploy["jobs"]["tests"]["uses"] == "./.github/workflows/ci.yml" and job["needs"] == "tests"
    assert job["env"]["DATABRICKS_AUTH_TYPE"] == "github-oidc"
    assert "BUNDLE_VAR_mlflow_experiment_id" in job["env"]
    runs = [s.get("run", "") for s in job["steps"]]
    commands = [c for c in runs if c.startswith("databricks bundle")]
    assert commands == [
        "databricks bundle validate -t prod",
        "databricks bundle deploy -t prod",
        "databricks bundle run -t prod my_agent",
    ]
    uses = [s.get("uses", "") for s in job["steps"]]
    assert any(u.startswith("databricks/setup-cli@") for u in uses)


def load_workflow(path: Path) -> dict[str, Any]:
    """A workflow as GitHub reads it: YAML 1.1 would turn the key `on` into True."""
    document = yaml.safe_load(path.read_text())
    document["on"] = document.pop(True)
    return document


def test_no_workflows_without_github_actions(template_copy: Path, tmp_path: Path) -> None:
    app = render_deploy_files(template_copy, tmp_path / "app", github_actions=False)
    assert not (app / ".github").exists()


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"mcp_servers": ["uc_functions"], "mcp_function_names": "python_exec\nrm"}, "use function names"),
        ({"mcp_servers": ["uc_functions"], "mcp_function_names": "python_exec, other"}, "use function names"),
        ({"mcp_servers": ["vector_search"], "mcp_vector_search_indexes": ""}, "use index names"),
        ({"mcp_servers": ["vector_search"], "mcp_vector_search_indexes": "docs_index\n"}, "use index names"),
        (
            {"mcp_servers": ["genie"], "mcp_genie_space_id": "s1", "mcp_genie_warehouse_id": "ab-1"},
            "use the warehouse",
        ),
    ],
)
def test_deploy_answers_are_checked_whole(
    answers: dict[str, Any], message: str, template_copy: Path, tmp_path: Path
) -> None:
    """A newline, a space or a stray character never reaches databricks.yml: the answer is refused."""
    with pytest.raises(ValueError, match=message):
        render_deploy_files(template_copy, tmp_path / "app", **answers)
    assert not (tmp_path / "app" / "databricks.yml").exists()
