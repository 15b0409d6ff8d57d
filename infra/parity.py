#!/usr/bin/env python3
"""Check that the SAM template and the CDK app describe the same Cadence stack.

Usage: parity.py [SAM_TEMPLATE] [CDK_TEMPLATE_JSON]
       (defaults: infra/template.yaml and infra/cdk/cdk.out/cadence.template.json, next to this file)

Compared, after a light expansion of the SAM resources into the CloudFormation resources the SAM transform
generates for them:
  * resource types with their counts (HTTP API routes are compared as a set of route keys instead, because
    SAM embeds routes and integrations in the API's OpenAPI body while CDK emits Route/Integration resources);
  * parameter and output names;
  * per function (matched by logical id / construct id): environment variable names;
  * per IAM role (the functions' roles and any other explicit role): the allowed and denied actions.
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
        "Parameters": set(template.get("Parameters") or {}),
        "Outputs": set(template.get("Outputs") or {}),
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
    parameters = set(template.get("Parameters") or {}) - {"BootstrapVersion"}
    return {
        "Resources": resources,
        "Routes": routes,
        "Integrations": integrations,
        "Parameters": parameters,
        "Outputs": set(template.get("Outputs") or {}),
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


def role_actions(view: dict, role_id: str) -> set[str]:
    """Effect|action pairs granted to a role: inline policies, attached AWS::IAM::Policy, managed policy ARNs."""
    resources = view["Resources"]
    role = resources.get(role_id)
    if role is None:
        return {f"<missing role {role_id}>"}
    actions: list[str] = list(role.get("SamActions", []))
    props = role.get("Properties") or {}
    documents = [p.get("PolicyDocument") or {} for p in props.get("Policies") or []]
    for name, res in resources.items():
        if res.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            rprops = res.get("Properties") or {}
            if role_id in {ref_target(r) for r in as_list(rprops.get("Roles"))}:
                documents.append(rprops.get("PolicyDocument") or {})
    for document in documents:
        for statement in as_list(document.get("Statement")):
            for action in as_list(statement.get("Action")):
                actions.append(f"{statement.get('Effect', 'Allow')}|{action}")
    for arn in as_list(props.get("ManagedPolicyArns")):
        actions.append(f"managed|{json.dumps(arn, sort_keys=True)}")
    return {a.lower() if not a.startswith("managed|") else a for a in actions}


def env_names(function: dict) -> set[str]:
    return set((((function.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}))


def by_stem(view: dict, rtype: str) -> dict[str, tuple[str, dict]]:
    out = {}
    for name, res in view["Resources"].items():
        if res.get("Type") == rtype:
            out[stem(name, res)] = (name, res)
    return out


def compare(sam: dict, cdk: dict) -> list[str]:
    problems: list[str] = []

    def diff_sets(what: str, left: set, right: set) -> None:
        for item in sorted(left - right):
            problems.append(f"{what}: {item} only in SAM")
        for item in sorted(right - left):
            problems.append(f"{what}: {item} only in CDK")

    # 1. Resource types and counts.
    sam_types = Counter(r["Type"] for r in sam["Resources"].values())
    cdk_types = Counter(r["Type"] for r in cdk["Resources"].values())
    for rtype in sorted(set(sam_types) | set(cdk_types)):
        if sam_types[rtype] != cdk_types[rtype]:
            problems.append(f"resource type {rtype}: SAM {sam_types[rtype]}, CDK {cdk_types[rtype]}")
    diff_sets("HTTP route", sam["Routes"], cdk["Routes"])
    if sam["Integrations"] != cdk["Integrations"]:
        problems.append(f"HTTP integrations: SAM {sam['Integrations']}, CDK {cdk['Integrations']}")

    # 2. Parameters and outputs.
    diff_sets("parameter", sam["Parameters"], cdk["Parameters"])
    diff_sets("output", sam["Outputs"], cdk["Outputs"])

    # 3. Functions: environment variable names and their role's actions.
    sam_fns = by_stem(sam, "AWS::Lambda::Function")
    cdk_fns = by_stem(cdk, "AWS::Lambda::Function")
    diff_sets("function", set(sam_fns), set(cdk_fns))
    compared_roles: set[tuple[str, str]] = set()
    for fn in sorted(set(sam_fns) & set(cdk_fns)):
        (sam_id, sam_fn), (cdk_id, cdk_fn) = sam_fns[fn], cdk_fns[fn]
        diff_sets(f"{fn} environment variable", env_names(sam_fn), env_names(cdk_fn))
        sam_role = ref_target((sam_fn.get("Properties") or {}).get("Role"))
        cdk_role = ref_target((cdk_fn.get("Properties") or {}).get("Role"))
        if not sam_role or not cdk_role:
            problems.append(f"{fn}: role is not a reference to a role in the template (SAM {sam_role}, CDK {cdk_role})")
            continue
        compared_roles.add((sam_role, cdk_role))
        diff_sets(f"{fn} role action", role_actions(sam, sam_role), role_actions(cdk, cdk_role))

    # 4. Every other role, matched by name.
    sam_roles = by_stem(sam, "AWS::IAM::Role")
    cdk_roles = by_stem(cdk, "AWS::IAM::Role")
    seen_sam = {s for s, _ in compared_roles}
    seen_cdk = {c for _, c in compared_roles}
    for role in sorted(set(sam_roles) | set(cdk_roles)):
        sam_entry, cdk_entry = sam_roles.get(role), cdk_roles.get(role)
        if sam_entry and sam_entry[0] in seen_sam or cdk_entry and cdk_entry[0] in seen_cdk:
            continue
        if not sam_entry or not cdk_entry:
            problems.append(f"role {role}: only in {'SAM' if sam_entry else 'CDK'}")
            continue
        diff_sets(f"role {role} action", role_actions(sam, sam_entry[0]), role_actions(cdk, cdk_entry[0]))

    return problems


def main(argv: list[str]) -> int:
    sam_path = Path(argv[1]) if len(argv) > 1 else HERE / "template.yaml"
    cdk_path = Path(argv[2]) if len(argv) > 2 else HERE / "cdk" / "cdk.out" / "cadence.template.json"
    try:
        sam = expand_sam(load_template(sam_path))
        cdk = view_cdk(load_template(cdk_path))
    except (InputError, yaml.YAMLError, json.JSONDecodeError) as e:
        print(f"parity: {e}", file=sys.stderr)
        return 2
    problems = compare(sam, cdk)
    if problems:
        print(f"parity: {sam_path.name} and {cdk_path.name} differ:")
        for p in problems:
            print(f"  - {p}")
        return 1
    counts = Counter(r["Type"] for r in sam["Resources"].values())
    print(
        f"parity: SAM and CDK agree: {sum(counts.values())} resources of {len(counts)} types, "
        f"{len(sam['Routes'])} routes, {len(by_stem(sam, 'AWS::Lambda::Function'))} functions "
        f"(environment names and role actions), {len(by_stem(sam, 'AWS::IAM::Role'))} roles"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
