"""The AWS CLI, unmodified, against kinko's CloudFormation: exports imported by another stack
(ListExports, ListImports, and the exporter kept from deleting or changing them while they are
in use), and stack updates that change resources in place (a role's inline policy, a function's
code), refuse to replace a custom-named resource, and change back what a failed update changed."""

from __future__ import annotations

import json

from kinko_compat import assert_cli_error, short_id


def deploy(aws, tmp_path, stack: str, template: str, *extra: str, check: bool = True):
    """`aws cloudformation deploy` of `template`; on an unexpected failure, the stack's events
    are in the assertion."""
    (tmp_path / "template.yaml").write_text(template)
    args = ["cloudformation", "deploy", "--stack-name", stack, "--template-file", "template.yaml"]
    result = aws(*args, *extra, cwd=tmp_path, check=False)
    if check and result.returncode != 0:
        events = aws("cloudformation", "describe-stack-events", "--stack-name", stack, check=False)
        raise AssertionError(f"{result}\n{events.stdout}")
    return result


def stack_of(aws, stack: str) -> dict:
    return aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]


def events_of(aws, stack: str) -> list[dict]:
    return aws("cloudformation", "describe-stack-events", "--stack-name", stack).json()["StackEvents"]


def physical_id(aws, stack: str, logical_id: str) -> str:
    return aws(
        "cloudformation",
        "describe-stack-resource",
        "--stack-name",
        stack,
        "--logical-resource-id",
        logical_id,
        "--query",
        "StackResourceDetail.PhysicalResourceId",
    ).json()


def stack_reasons(aws, stack: str, status: str) -> list[str]:
    return [
        e.get("ResourceStatusReason")
        for e in events_of(aws, stack)
        if e["ResourceType"] == "AWS::CloudFormation::Stack" and e["ResourceStatus"] == status
    ]


EXPORTER = """Resources:
  Shared:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: shared-value
Outputs:
  SharedArn:
    Value: !Ref Shared
    Export:
      Name: EXPORT
"""

IMPORTER = """Resources:
  Consumer:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: !ImportValue EXPORT
      SecretString: consumer-value
Outputs:
  Imported:
    Value: !ImportValue EXPORT
"""


def test_an_export_is_imported_listed_and_kept_while_in_use(aws, tmp_path):
    p = short_id()
    export = f"shared-secret-arn-{p}"
    exporter, importer = f"exporter-{p}", f"importer-{p}"

    # An import of an export no stack has fails the stack, as AWS words it.
    failed = deploy(aws, tmp_path, importer, IMPORTER.replace("EXPORT", export), check=False)
    assert failed.returncode != 0
    assert stack_of(aws, importer)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_reasons(aws, importer, "ROLLBACK_IN_PROGRESS") == [
        f"No export named {export} found. Rollback requested by user."
    ]
    aws("cloudformation", "delete-stack", "--stack-name", importer)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", importer)

    deploy(aws, tmp_path, exporter, EXPORTER.replace("EXPORT", export))
    exporter_id = stack_of(aws, exporter)["StackId"]
    shared = physical_id(aws, exporter, "Shared")
    exports = aws("cloudformation", "list-exports").json()["Exports"]
    assert {"ExportingStackId": exporter_id, "Name": export, "Value": shared} in exports

    deploy(aws, tmp_path, importer, IMPORTER.replace("EXPORT", export))
    consumer = physical_id(aws, importer, "Consumer")
    described = aws("secretsmanager", "describe-secret", "--secret-id", consumer).json()
    assert described["Description"] == shared
    outputs = stack_of(aws, importer)["Outputs"]
    assert [(o["OutputKey"], o["OutputValue"]) for o in outputs] == [("Imported", shared)]
    imports = aws("cloudformation", "list-imports", "--export-name", export).json()
    assert imports["Imports"] == [importer]

    # Another stack can't take the name.
    rival = f"rival-{p}"
    failed = deploy(aws, tmp_path, rival, EXPORTER.replace("EXPORT", export), check=False)
    assert failed.returncode != 0
    assert stack_of(aws, rival)["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack_reasons(aws, rival, "ROLLBACK_IN_PROGRESS") == [
        f"Export with name {export} is already exported by stack {exporter}. Rollback requested by user."
    ]
    aws("cloudformation", "delete-stack", "--stack-name", rival)

    # The exporter can't drop the export while it is imported: the update rolls back.
    dropped = EXPORTER.replace("EXPORT", export).split("Outputs:")[0] + (
        "Outputs:\n  SharedArn:\n    Value: !Ref Shared\n"
    )
    failed = deploy(aws, tmp_path, exporter, dropped, check=False)
    assert failed.returncode != 0
    assert stack_of(aws, exporter)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert stack_reasons(aws, exporter, "UPDATE_ROLLBACK_IN_PROGRESS") == [
        f"Cannot delete export {export} as it is in use by {importer}"
    ]
    assert stack_of(aws, exporter)["Outputs"][0]["ExportName"] == export

    # Nor be deleted: the delete is canceled and nothing of it deleted.
    aws("cloudformation", "delete-stack", "--stack-name", exporter)
    waited = aws(
        "cloudformation", "wait", "stack-delete-complete", "--stack-name", exporter, check=False
    )
    assert waited.returncode != 0
    status = stack_of(aws, exporter)
    assert (status["StackStatus"], status["StackStatusReason"]) == (
        "DELETE_FAILED",
        f"Delete canceled. Cannot delete export {export} as it is in use by {importer}",
    )
    aws("secretsmanager", "describe-secret", "--secret-id", shared)

    # Once the importer is gone, so is the import, and the exporter can go.
    aws("cloudformation", "delete-stack", "--stack-name", importer)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", importer)
    none = aws("cloudformation", "list-imports", "--export-name", export, check=False)
    assert_cli_error(
        aws, none, "ValidationError", "ListImports", f"Export '{export}' is not imported by any stack."
    )
    aws("cloudformation", "delete-stack", "--stack-name", exporter)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", exporter)
    exports = aws("cloudformation", "list-exports").json()["Exports"]
    assert all(e["Name"] != export for e in exports)


FUNCTION_TEMPLATE = """Parameters:
  SecretArn:
    Type: String
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: secret-access
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ACTION
                Resource: !Ref SecretArn
  Reader:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: 30
      Role: !GetAtt Role.Arn
      Environment:
        Variables:
          SECRET: !Ref SecretArn
      Code:
        ZipFile: |
          import os
          import boto3


          def handler(event, context):
              client = boto3.client('secretsmanager')
              try:
                  value = client.get_secret_value(SecretId=os.environ['SECRET'])['SecretString']
                  return {'version': 'VERSION', 'value': value}
              except Exception as e:
                  code = getattr(e, 'response', {}).get('Error', {}).get('Code', type(e).__name__)
                  return {'version': 'VERSION', 'error': code}
"""


def invoke(aws, tmp_path, function: str) -> dict:
    aws("lambda", "invoke", "--function-name", function, "out.json", cwd=tmp_path)
    return json.loads((tmp_path / "out.json").read_text())


def test_a_roles_policy_and_a_functions_code_change_in_place(aws, tmp_path):
    p = short_id()
    stack = f"in-place-{p}"
    secret = aws(
        "secretsmanager", "create-secret", "--name", f"in-place-{p}", "--secret-string", "in-place-s3cr3t-1"
    ).json()["ARN"]
    caps = ("--capabilities", "CAPABILITY_IAM", "--parameter-overrides", f"SecretArn={secret}")

    def template(action: str, version: str) -> str:
        return FUNCTION_TEMPLATE.replace("ACTION", action).replace("VERSION", version)

    deploy(aws, tmp_path, stack, template("secretsmanager:DescribeSecret", "v1"), *caps)
    role, function = physical_id(aws, stack, "Role"), physical_id(aws, stack, "Reader")
    role_id = aws("iam", "get-role", "--role-name", role).json()["Role"]["RoleId"]
    assert invoke(aws, tmp_path, function) == {"version": "v1", "error": "AccessDeniedException"}

    # The inline policy changes in place: the same role (same id) may now read the secret.
    deploy(aws, tmp_path, stack, template("secretsmanager:GetSecretValue", "v1"), *caps)
    assert stack_of(aws, stack)["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_id(aws, stack, "Role") == role
    assert aws("iam", "get-role", "--role-name", role).json()["Role"]["RoleId"] == role_id
    document = aws(
        "iam", "get-role-policy", "--role-name", role, "--policy-name", "secret-access"
    ).json()["PolicyDocument"]
    assert document["Statement"][0]["Action"] == "secretsmanager:GetSecretValue"
    assert invoke(aws, tmp_path, function) == {"version": "v1", "value": "in-place-s3cr3t-1"}
    role_events = [
        e["ResourceStatus"] for e in events_of(aws, stack) if e["LogicalResourceId"] == "Role"
    ]
    assert "DELETE_COMPLETE" not in role_events and "UPDATE_COMPLETE" in role_events

    # The function's code changes in place: the same function answers with the new code.
    deploy(aws, tmp_path, stack, template("secretsmanager:GetSecretValue", "v2"), *caps)
    assert physical_id(aws, stack, "Reader") == function
    assert invoke(aws, tmp_path, function) == {"version": "v2", "value": "in-place-s3cr3t-1"}

    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    aws("secretsmanager", "delete-secret", "--secret-id", secret, "--force-delete-without-recovery")


NAMED_ROLE = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: NAME
      Path: PATH
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
"""


def test_a_custom_named_resource_needing_replacement_is_refused_and_rolled_back(aws, tmp_path):
    p = short_id()
    stack, name = f"named-{p}", f"named-role-{p}"
    caps = ("--capabilities", "CAPABILITY_NAMED_IAM")
    deploy(aws, tmp_path, stack, NAMED_ROLE.replace("NAME", name).replace("PATH", "/app/"), *caps)
    before = aws("iam", "get-role", "--role-name", name).json()["Role"]

    # A new Path needs a new role, which can't have the same name.
    failed = deploy(
        aws, tmp_path, stack, NAMED_ROLE.replace("NAME", name).replace("PATH", "/other/"), *caps,
        check=False,
    )
    assert failed.returncode != 0
    assert stack_of(aws, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    failures = [
        e["ResourceStatusReason"]
        for e in events_of(aws, stack)
        if e["LogicalResourceId"] == "Role" and e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert failures == [
        "CloudFormation cannot update a stack when a custom-named resource requires replacing. "
        f"Rename {name} and update the stack again."
    ]
    after = aws("iam", "get-role", "--role-name", name).json()["Role"]
    assert (after["RoleId"], after["Path"]) == (before["RoleId"], "/app/")
    template = aws("cloudformation", "get-template", "--stack-name", stack).json()["TemplateBody"]
    assert "/app/" in json.dumps(template)

    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)


POLICY_ROLE = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: ACTION
                Resource: '*'
"""

FAILING_ATTACHMENT = """  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    DependsOn: Role
    Properties:
      SecretId: !Sub "arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:nothing-AbCdEf"
      TargetId: orders-db
      TargetType: AWS::RDS::DBInstance
"""


def test_a_failed_update_changes_back_what_it_changed_in_place(aws, tmp_path):
    stack = f"undo-{short_id()}"
    caps = ("--capabilities", "CAPABILITY_IAM")
    deploy(aws, tmp_path, stack, POLICY_ROLE.replace("ACTION", "secretsmanager:DescribeSecret"), *caps)
    role = physical_id(aws, stack, "Role")

    # The role's policy is changed in place, then the attachment fails: the update rolls back
    # and the policy is the first one again.
    changed = POLICY_ROLE.replace("ACTION", "secretsmanager:GetSecretValue") + FAILING_ATTACHMENT
    failed = deploy(aws, tmp_path, stack, changed, *caps, check=False)
    assert failed.returncode != 0
    assert stack_of(aws, stack)["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert physical_id(aws, stack, "Role") == role
    document = aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "app").json()[
        "PolicyDocument"
    ]
    assert document["Statement"][0]["Action"] == "secretsmanager:DescribeSecret"
    role_events = [
        e["ResourceStatus"]
        for e in reversed(events_of(aws, stack))
        if e["LogicalResourceId"] == "Role"
    ]
    # Created, changed, changed back.
    assert role_events == [
        "CREATE_IN_PROGRESS",
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
    ]
    resources = aws("cloudformation", "list-stack-resources", "--stack-name", stack).json()
    assert [r["LogicalResourceId"] for r in resources["StackResourceSummaries"]] == ["Role"]

    # The stack can be updated again from there.
    deploy(aws, tmp_path, stack, POLICY_ROLE.replace("ACTION", "secretsmanager:GetSecretValue"), *caps)
    document = aws("iam", "get-role-policy", "--role-name", role, "--policy-name", "app").json()[
        "PolicyDocument"
    ]
    assert document["Statement"][0]["Action"] == "secretsmanager:GetSecretValue"
    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)

