#!/usr/bin/env python3
"""Check that the SAM template and the CDK app describe the same Cadence stack.

Usage: parity.py [SAM_TEMPLATE] [CDK_TEMPLATE_JSON]
       (defaults: infra/template.yaml and infra/cdk/cdk.out/cadence.template.json, next to this file)

Compared, after a light expansion of the SAM resources into the CloudFormation resources the SAM transform
generates for them:
  * resource types with their counts, and which resources carry a Condition (HTTP API routes are compared as a
    set of route keys instead, because SAM embeds routes and integrations in the API's OpenAPI body while CDK
    emits Route/Integration resources);
  * parameters (type, default, pattern, allowed values, bounds), conditions and rules (their expressions),
    outputs (value and condition);
  * per function (matched by logical id / construct id): environment variables, names and values;
  * per IAM role (the functions' roles and any other explicit role): the allowed and denied actions, and every
    grant as effect + action + resource (+ statement condition), through Fn::If branches, from inline policies
    and attached AWS::IAM::Policy resources (labelled with the policy's own Condition);
  * CloudWatch dashboards (matched by name): the parsed JSON bodies, widget by widget.
Values are compared in a canonical text form: Ref / GetAtt / Sub / Join become strings with {{Name}} or
{{Name.Attribute}} placeholders, where Name is the SAM logical id or the CDK construct id (the hash dropped), so
`!Sub arn:${AWS::Partition}:...${Param}` and CDK's Fn::Join of the same pieces compare equal.
Prints every difference and exits 1 when there is one, 2 on a usage or input error.

Only the SAM features this repository uses are expanded; anything else that would make the transform emit
resources (policy templates, aliases, function URLs, other event types...) stops the check with an error
instead of being silently ignored. Needs PyYAML (installed in the infra venv by infra/lint.sh).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover - exercised only outside the infra venv
    sys.exit("parity.py needs PyYAML: run it with the infra venv's python (see infra/lint.sh)")

HERE = Path(__file__).resolve().parent


class InputError(Exception):
    """The templates use something this light expansion does not model."""


# ------------------------------------------------------------------------------------------------------------
# YAML with CloudFormation short-form intrinsics (!Ref, !GetAtt, !Sub, ...) turned into their long form.
# ------------------------------------------------------------------------------------------------------------
class CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(name: str):
    long_name = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":  # !GetAtt Resource.Attribute
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}

    return construct


for _tag in (
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Not", "Equals", "And", "Or",
    "FindInMap", "GetAZs", "ImportValue", "Base64", "Cidr", "Transform", "Length", "ToJsonString",
):
    CfnLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))


def load_template(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e}") from e
    if path.suffix == ".json":
        return json.loads(text)
    return yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


# ------------------------------------------------------------------------------------------------------------
# Light SAM expansion
# ------------------------------------------------------------------------------------------------------------
# Managed policies SAM attaches to the roles it generates, as the actions they allow.
BASIC_EXECUTION = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
SQS_POLLER = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
XRAY_WRITE = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules",
              "xray:GetSamplingTargets", "xray:GetSamplingStatisticSummaries"]

# Function properties that make the SAM transform emit resources this expansion does not model.
UNSUPPORTED_FUNCTION_PROPERTIES = (
    "AutoPublishAlias", "DeploymentPreference", "FunctionUrlConfig", "EventInvokeConfig",
    "ProvisionedConcurrencyConfig", "Connectors", "SnapStart",
)


def merge_globals(function: dict, globals_: dict) -> dict:
    """Apply Globals.Function the way SAM does: maps merge (function wins), everything else is overridden."""
    merged = dict(globals_)
    for key, value in function.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            inner = dict(merged[key])
            for k, v in value.items():
                if isinstance(v, dict) and isinstance(inner.get(k), dict):
                    inner[k] = {**inner[k], **v}
                else:
                    inner[k] = v
            merged[key] = inner
        else:
            merged[key] = value
    return merged


def route_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def expand_sam(template: dict) -> dict:
    """Return a plain CloudFormation view: {"Resources": ..., "Routes": set, "Integrations": int, ...}."""
    globals_fn = (template.get("Globals") or {}).get("Function", {})
    resources: dict[str, dict] = {}
    routes: set[str] = set()
    integration_targets: set[str] = set()
    implicit_http_api = False

    for name, res in (template.get("Resources") or {}).items():
        rtype = res.get("Type", "")
        props = res.get("Properties") or {}
        if not rtype.startswith("AWS::Serverless::"):
            resources[name] = res
            continue

        if rtype == "AWS::Serverless::Function":
            props = merge_globals(props, globals_fn)
            for key in UNSUPPORTED_FUNCTION_PROPERTIES:
                if key in props:
                    raise InputError(f"{name}: SAM property {key} is not modelled by parity.py")
            function = {"Type": "AWS::Lambda::Function", "Properties": dict(props)}
            resources[name] = function

            role_actions: list[str] = []
            if "Role" not in props:
                # SAM generates <Name>Role with the basic execution policy plus the listed statements.
                role_actions += [f"Allow|{a}" for a in BASIC_EXECUTION]
                if props.get("Tracing") == "Active":
                    role_actions += [f"Allow|{a}" for a in XRAY_WRITE]
                for policy in props.get("Policies") or []:
                    if isinstance(policy, dict) and "Statement" in policy:
                        for st in as_list(policy["Statement"]):
                            role_actions += [f"{st.get('Effect', 'Allow')}|{a}" for a in as_list(st.get("Action"))]
                    else:
                        raise InputError(f"{name}: SAM policy templates / managed policies are not modelled: {policy!r}")
                function["Properties"]["Role"] = {"Fn::GetAtt": [f"{name}Role", "Arn"]}
                resources[f"{name}Role"] = {"Type": "AWS::IAM::Role", "Properties": {}, "SamActions": role_actions}

            for event_name, event in (props.get("Events") or {}).items():
                etype = event.get("Type")
                eprops = event.get("Properties") or {}
                if etype == "HttpApi":
                    resources[f"{name}{event_name}Permission"] = {"Type": "AWS::Lambda::Permission"}
                    if "ApiId" not in eprops:
                        implicit_http_api = True
                    routes.add(route_key(eprops.get("Method", "ANY"), eprops.get("Path", "$default")))
                    integration_targets.add(name)
                elif etype in ("SQS", "Kinesis", "DynamoDB", "MSK", "MQ", "SelfManagedKafka", "DocumentDB"):
                    resources[f"{name}{event_name}"] = {"Type": "AWS::Lambda::EventSourceMapping"}
                    if "Role" not in props and etype == "SQS":
                        resources[f"{name}Role"]["SamActions"] += [f"Allow|{a}" for a in SQS_POLLER]
                elif etype == "ScheduleV2":
                    resources[f"{name}{event_name}"] = {"Type": "AWS::Scheduler::Schedule"}
                    if "RoleArn" not in eprops:
                        resources[f"{name}{event_name}Role"] = {
                            "Type": "AWS::IAM::Role", "Properties": {}, "SamActions": ["Allow|lambda:InvokeFunction"],
                        }
                elif etype == "Schedule":
                    resources[f"{name}{event_name}"] = {"Type": "AWS::Events::Rule"}
                    resources[f"{name}{event_name}Permission"] = {"Type": "AWS::Lambda::Permission"}
                else:
                    raise InputError(f"{name}.{event_name}: SAM event type {etype} is not modelled by parity.py")

        elif rtype == "AWS::Serverless::HttpApi":
            resources[name] = {"Type": "AWS::ApiGatewayV2::Api", "Properties": props}
            resources[f"{name}ApiGatewayDefaultStage"] = {"Type": "AWS::ApiGatewayV2::Stage"}
            for key in ("Domain", "Auth"):
                if key in props:
                    raise InputError(f"{name}: HttpApi property {key} is not modelled by parity.py")
        elif rtype == "AWS::Serverless::SimpleTable":
            resources[name] = {"Type": "AWS::DynamoDB::Table", "Properties": props}
        else:
            raise InputError(f"{name}: {rtype} is not modelled by parity.py")

    if implicit_http_api:
        resources["ServerlessHttpApi"] = {"Type": "AWS::ApiGatewayV2::Api"}
        resources["ServerlessHttpApiApiGatewayDefaultStage"] = {"Type": "AWS::ApiGatewayV2::Stage"}

    return {
        "Resources": resources,
        "Routes": routes,
        "Integrations": len(integration_targets),
        "Parameters": dict(template.get("Parameters") or {}),
        "Outputs": dict(template.get("Outputs") or {}),
        "Conditions": dict(template.get("Conditions") or {}),
        "Rules": dict(template.get("Rules") or {}),
    }


def view_cdk(template: dict) -> dict:
    resources: dict[str, dict] = {}
    routes: set[str] = set()
    integrations = 0
    for name, res in (template.get("Resources") or {}).items():
        rtype = res.get("Type")
        if rtype == "AWS::CDK::Metadata":
            continue
        if rtype == "AWS::ApiGatewayV2::Route":
            routes.add((res.get("Properties") or {}).get("RouteKey", "?"))
            continue
        if rtype == "AWS::ApiGatewayV2::Integration":
            integrations += 1
            continue
        resources[name] = res
    # The bootstrap version check is CDK's own (parameter BootstrapVersion + rule CheckBootstrapVersion).
    parameters = {k: v for k, v in (template.get("Parameters") or {}).items() if k != "BootstrapVersion"}
    rules = {k: v for k, v in (template.get("Rules") or {}).items() if k != "CheckBootstrapVersion"}
    return {
        "Resources": resources,
        "Routes": routes,
        "Integrations": integrations,
        "Parameters": parameters,
        "Outputs": dict(template.get("Outputs") or {}),
        "Conditions": dict(template.get("Conditions") or {}),
        "Rules": rules,
    }


# ------------------------------------------------------------------------------------------------------------
# Helpers for comparing
# ------------------------------------------------------------------------------------------------------------
CDK_HASH = re.compile(r"^(.*?)([0-9A-F]{8})$")


def stem(logical_id: str, resource: dict) -> str:
    """A name comparable across both templates: the CDK construct id, or the SAM logical id."""
    path = (resource.get("Metadata") or {}).get("aws:cdk:path")
    if path:
        parts = path.split("/")
        # <stack>/<Construct>/Resource -> <Construct>;  <stack>/<Construct> (L1) -> <Construct>
        return parts[1] if len(parts) > 1 else logical_id
    match = CDK_HASH.match(logical_id)
    return match.group(1) if match and match.group(1) else logical_id


def as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ref_target(value) -> str | None:
    """Logical id behind {"Ref": X} or {"Fn::GetAtt": [X, ...]}."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return att[0] if isinstance(att, list) else str(att).split(".", 1)[0]
    return None


# ------------------------------------------------------------------------------------------------------------
# Canonical values: intrinsics that build strings become strings with {{placeholders}}
# ------------------------------------------------------------------------------------------------------------
SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


def canon_name(view: dict, logical_id: str) -> str:
    """A logical id as the other template would spell it: SAM logical id / CDK construct id; others as is."""
    resource = view["Resources"].get(logical_id)
    return stem(logical_id, resource) if resource is not None else logical_id


def canon_ref(view: dict, target: str) -> str:
    """`X`, `X.Attribute` or `AWS::Pseudo` as a {{placeholder}}."""
    if "::" in target:
        return "{{" + target + "}}"
    name, _, attribute = target.partition(".")
    return "{{" + canon_name(view, name) + ("." + attribute if attribute else "") + "}}"


def as_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def canon(view: dict, value):
    """`value` with Ref / GetAtt / Sub / Join rendered as canonical strings; other intrinsics kept as structure."""
    if isinstance(value, list):
        return [canon(view, v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return canon_ref(view, arg)
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return canon_ref(view, ".".join(str(p) for p in parts))
        if key == "Fn::Sub":
            text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})
            local = {k: as_text(canon(view, v)) for k, v in (variables or {}).items()}
            text = SUB_VARIABLE.sub(lambda m: local.get(m.group(1)) or canon_ref(view, m.group(1)), text)
            return text.replace("${!", "${")
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(as_text(canon(view, p)) for p in as_list(parts))
    return {k: canon(view, v) for k, v in value.items()}


def is_no_value(value) -> bool:
    return isinstance(value, dict) and value.get("Ref") == "AWS::NoValue"


def branches(value, label: str = "") -> list[tuple[str, object]]:
    """The values an Fn::If tree can take, each with the conditions that select it; AWS::NoValue dropped."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        condition, when_true, when_false = value["Fn::If"]
        return branches(when_true, f"{label} if {condition}") + branches(when_false, f"{label} if !{condition}")
    return [] if is_no_value(value) else [(label, value)]


def sorted_condition(view: dict, condition) -> str:
    """A statement's Condition block, canonical, with the value lists sorted (their order means nothing)."""
    out = {}
    for operator, keys in (condition or {}).items():
        out[operator] = {
            key: sorted((as_text(canon(view, v)) for v in as_list(values)))
            for key, values in (keys or {}).items()
        }
    return json.dumps(out, sort_keys=True)


def role_documents(view: dict, role_id: str) -> list[tuple[str, dict]]:
    """(label, policy document) for a role: inline policies (through Fn::If) and attached AWS::IAM::Policy."""
    resources = view["Resources"]
    props = (resources.get(role_id) or {}).get("Properties") or {}
    documents = []
    for policies_label, policies in branches(props.get("Policies")):
        for entry in as_list(policies):
            for label, policy in branches(entry, policies_label):
                documents.append((label, (policy or {}).get("PolicyDocument") or {}))
    for res in resources.values():
        if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            rprops = res.get("Properties") or {}
            if role_id in {ref_target(r) for r in as_list(rprops.get("Roles"))}:
                label = f" if {res['Condition']}" if res.get("Condition") else ""
                documents.append((label, rprops.get("PolicyDocument") or {}))
    return documents


def role_grants(view: dict, role_id: str) -> set[str]:
    """`Effect action on resource [if conditions] [when {Condition}]`, one per action x resource."""
    grants = set()
    for doc_label, document in role_documents(view, role_id):
        for statements_label, statements in branches(document.get("Statement"), doc_label):
            for st_label, statement in branches_each(statements, statements_label):
                effect = statement.get("Effect", "Allow")
                actions = [a.lower() for a in as_list(statement.get("Action"))]
                actions += [f"not:{a.lower()}" for a in as_list(statement.get("NotAction"))]
                targets = [("", r) for r in as_list(statement.get("Resource"))]
                targets += [("not:", r) for r in as_list(statement.get("NotResource"))]
                when = f" when {sorted_condition(view, statement['Condition'])}" if statement.get("Condition") else ""
                for prefix, target in targets:
                    for res_label, resource in branches(target):
                        for action in actions:
                            label = (st_label + res_label).strip()
                            text = f"{effect} {action} on {prefix}{as_text(canon(view, resource))}"
                            grants.add(text + (f" [{label}]" if label else "") + when)
    return grants


def branches_each(values, label: str) -> list[tuple[str, dict]]:
    """Every element of a list (or a single value), each through its own Fn::If branches."""
    out = []
    for value in as_list(values):
        out += branches(value, label)
    return out


def canon_parameter(parameter: dict) -> dict:
    keys = ("Type", "Default", "AllowedPattern", "AllowedValues", "MinValue", "MaxValue", "MinLength", "MaxLength",
            "NoEcho")
    # CDK writes numbers as strings where SAM has YAML numbers: compare their text.
    return {k: ([str(v) for v in parameter[k]] if isinstance(parameter[k], list) else str(parameter[k]))
            for k in keys if k in parameter}


def dashboard_body(view: dict, dashboard: dict):
    text = canon(view, (dashboard.get("Properties") or {}).get("DashboardBody"))
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as e:
        raise InputError(f"dashboard body is not JSON once its references are replaced: {e}") from e


def role_actions(view: dict, role_id: str) -> set[str]:
    """Effect|action pairs granted to a role: inline policies, attached AWS::IAM::Policy, managed policy ARNs."""
    role = view["Resources"].get(role_id)
    if role is None:
        return {f"<missing role {role_id}>"}
    actions: list[str] = list(role.get("SamActions", []))
    props = role.get("Properties") or {}
    for _, document in role_documents(view, role_id):
        for _, statement in branches_each(document.get("Statement"), ""):
            for action in as_list(statement.get("Action")):
                actions.append(f"{statement.get('Effect', 'Allow')}|{action}")
    for arn in as_list(props.get("ManagedPolicyArns")):
        actions.append(f"managed|{json.dumps(arn, sort_keys=True)}")
    return {a.lower() if not a.startswith("managed|") else a for a in actions}


def env_vars(view: dict, function: dict) -> dict[str, str]:
    variables = ((function.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    return {name: as_text(canon(view, value)) for name, value in variables.items()}


def by_stem(view: dict, rtype: str) -> dict[str, tuple[str, dict]]:
    out = {}
    for name, res in view["Resources"].items():
        if res.get("Type") == rtype:
            out[stem(name, res)] = (name, res)
    return out


def compare(sam: dict, cdk: dict) -> tuple[list[str], dict[str, int]]:
    problems: list[str] = []
    counts: Counter = Counter()

    def diff_sets(what: str, left: set, right: set) -> None:
        for item in sorted(left - right):
            problems.append(f"{what}: {item} only in SAM")
        for item in sorted(right - left):
            problems.append(f"{what}: {item} only in CDK")

    def diff_maps(what: str, left: dict, right: dict) -> None:
        diff_sets(what, set(left), set(right))
        for key in sorted(set(left) & set(right)):
            if left[key] != right[key]:
                problems.append(f"{what} {key}: SAM {as_text(left[key])} != CDK {as_text(right[key])}")

    # 1. Resource types and counts, and which types carry which resource Condition.
    sam_types = Counter(r["Type"] for r in sam["Resources"].values())
    cdk_types = Counter(r["Type"] for r in cdk["Resources"].values())
    for rtype in sorted(set(sam_types) | set(cdk_types)):
        if sam_types[rtype] != cdk_types[rtype]:
            problems.append(f"resource type {rtype}: SAM {sam_types[rtype]}, CDK {cdk_types[rtype]}")
    conditional = lambda view: Counter(  # noqa: E731
        f"{r['Type']} if {r['Condition']}" for r in view["Resources"].values() if r.get("Condition"))
    sam_cond, cdk_cond = conditional(sam), conditional(cdk)
    for key in sorted(set(sam_cond) | set(cdk_cond)):
        if sam_cond[key] != cdk_cond[key]:
            problems.append(f"conditional resources {key}: SAM {sam_cond[key]}, CDK {cdk_cond[key]}")
    diff_sets("HTTP route", sam["Routes"], cdk["Routes"])
    if sam["Integrations"] != cdk["Integrations"]:
        problems.append(f"HTTP integrations: SAM {sam['Integrations']}, CDK {cdk['Integrations']}")

    # 2. Parameters, conditions, rules and outputs.
    diff_maps("parameter", {k: canon_parameter(v) for k, v in sam["Parameters"].items()},
              {k: canon_parameter(v) for k, v in cdk["Parameters"].items()})
    diff_maps("condition", {k: canon(sam, v) for k, v in sam["Conditions"].items()},
              {k: canon(cdk, v) for k, v in cdk["Conditions"].items()})
    rule = lambda view, r: {  # noqa: E731
        "RuleCondition": canon(view, r.get("RuleCondition")),
        "Assertions": [canon(view, a.get("Assert")) for a in r.get("Assertions") or []],
    }
    diff_maps("rule", {k: rule(sam, v) for k, v in sam["Rules"].items()},
              {k: rule(cdk, v) for k, v in cdk["Rules"].items()})
    output = lambda view, o: {"Value": canon(view, o.get("Value")), "Condition": o.get("Condition")}  # noqa: E731
    diff_maps("output", {k: output(sam, v) for k, v in sam["Outputs"].items()},
              {k: output(cdk, v) for k, v in cdk["Outputs"].items()})

    # 3. Functions: environment variables and their role's actions and grants.
    sam_fns = by_stem(sam, "AWS::Lambda::Function")
    cdk_fns = by_stem(cdk, "AWS::Lambda::Function")
    diff_sets("function", set(sam_fns), set(cdk_fns))
    compared_roles: list[tuple[str, str, str]] = []
    for fn in sorted(set(sam_fns) & set(cdk_fns)):
        (sam_id, sam_fn), (cdk_id, cdk_fn) = sam_fns[fn], cdk_fns[fn]
        sam_env, cdk_env = env_vars(sam, sam_fn), env_vars(cdk, cdk_fn)
        diff_maps(f"{fn} environment variable", sam_env, cdk_env)
        counts["environment variables"] += len(sam_env)
        sam_role = ref_target((sam_fn.get("Properties") or {}).get("Role"))
        cdk_role = ref_target((cdk_fn.get("Properties") or {}).get("Role"))
        if not sam_role or not cdk_role:
            problems.append(f"{fn}: role is not a reference to a role in the template (SAM {sam_role}, CDK {cdk_role})")
            continue
        compared_roles.append((f"{fn} role", sam_role, cdk_role))

    # 4. Every other role, matched by name.
    sam_roles = by_stem(sam, "AWS::IAM::Role")
    cdk_roles = by_stem(cdk, "AWS::IAM::Role")
    seen_sam = {s for _, s, _ in compared_roles}
    seen_cdk = {c for _, _, c in compared_roles}
    for role in sorted(set(sam_roles) | set(cdk_roles)):
        sam_entry, cdk_entry = sam_roles.get(role), cdk_roles.get(role)
        if sam_entry and sam_entry[0] in seen_sam or cdk_entry and cdk_entry[0] in seen_cdk:
            continue
        if not sam_entry or not cdk_entry:
            problems.append(f"role {role}: only in {'SAM' if sam_entry else 'CDK'}")
            continue
        compared_roles.append((f"role {role}", sam_entry[0], cdk_entry[0]))

    for what, sam_role, cdk_role in compared_roles:
        diff_sets(f"{what} action", role_actions(sam, sam_role), role_actions(cdk, cdk_role))
        # Roles the SAM transform generates have no statements to compare, only the actions above.
        if "SamActions" not in sam["Resources"].get(sam_role, {}):
            sam_grants, cdk_grants = role_grants(sam, sam_role), role_grants(cdk, cdk_role)
            diff_sets(f"{what} grant", sam_grants, cdk_grants)
            counts["grants"] += len(sam_grants)

    # 5. Dashboards, matched by their (canonical) name, compared as parsed JSON widget by widget.
    dashboards = lambda view: {  # noqa: E731
        as_text(canon(view, (d.get("Properties") or {}).get("DashboardName"))): d
        for d in view["Resources"].values() if d.get("Type") == "AWS::CloudWatch::Dashboard"
    }
    sam_dash, cdk_dash = dashboards(sam), dashboards(cdk)
    diff_sets("dashboard", set(sam_dash), set(cdk_dash))
    for name in sorted(set(sam_dash) & set(cdk_dash)):
        left, right = dashboard_body(sam, sam_dash[name]), dashboard_body(cdk, cdk_dash[name])
        lw, rw = left.pop("widgets", []), right.pop("widgets", [])
        if left != right:
            problems.append(f"dashboard {name} settings: SAM {as_text(left)} != CDK {as_text(right)}")
        if len(lw) != len(rw):
            problems.append(f"dashboard {name}: SAM {len(lw)} widgets, CDK {len(rw)}")
        for i, (a, b) in enumerate(zip(lw, rw)):
            if a != b:
                title = (a.get("properties") or {}).get("title", "?")
                problems.append(f"dashboard {name} widget {i} ({title}): SAM {as_text(a)} != CDK {as_text(b)}")
        counts["dashboard widgets"] += len(lw)

    return problems, counts


def main(argv: list[str]) -> int:
    sam_path = Path(argv[1]) if len(argv) > 1 else HERE / "template.yaml"
    cdk_path = Path(argv[2]) if len(argv) > 2 else HERE / "cdk" / "cdk.out" / "cadence.template.json"
    try:
        sam = expand_sam(load_template(sam_path))
        cdk = view_cdk(load_template(cdk_path))
        problems, counts = compare(sam, cdk)
    except (InputError, yaml.YAMLError, json.JSONDecodeError) as e:
        print(f"parity: {e}", file=sys.stderr)
        return 2
    if problems:
        print(f"parity: {sam_path.name} and {cdk_path.name} differ:")
        for p in problems:
            print(f"  - {p}")
        return 1
    types = Counter(r["Type"] for r in sam["Resources"].values())
    print(
        f"parity: SAM and CDK agree: {sum(types.values())} resources of {len(types)} types, "
        f"{len(sam['Routes'])} routes, {len(sam['Parameters'])} parameters, {len(sam['Conditions'])} conditions, "
        f"{len(sam['Rules'])} rules, {len(sam['Outputs'])} outputs, "
        f"{len(by_stem(sam, 'AWS::Lambda::Function'))} functions ({counts['environment variables']} environment "
        f"variables), {len(by_stem(sam, 'AWS::IAM::Role'))} roles ({counts['grants']} grants), "
        f"{counts['dashboard widgets']} dashboard widgets"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
