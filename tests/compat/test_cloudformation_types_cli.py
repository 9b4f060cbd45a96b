"""The AWS CLI, unmodified, deploying the IAM groups, instance profiles and rotation schedules of
a template: `AWS::IAM::Group`, `AWS::IAM::UserToGroupAddition`, a user's `Groups`,
`AWS::IAM::InstanceProfile`; a generated secret under a key with a resource policy rotated by a
function of the template (`AWS::SecretsManager::RotationSchedule`), updated in place; a
`HostedRotationLambda` run by kinko's built-in rotator against a real MariaDB, and the rotation
types and targets kinko refuses."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse

import pytest

from kinko_compat import ACCOUNT, REGION, short_id
from test_cloudformation_cli import SECRET_TEMPLATE, deploy, physical_id
from test_rotation_cli import mariadb

SUFFIX = "[A-Z0-9]{13}"


def stack_outputs(aws, stack: str) -> dict:
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def delete_stack(aws, stack: str) -> None:
    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)


def failed_deploy(aws, tmp_path, stack: str, *extra: str) -> dict:
    """Deploys a template that must fail: the one CREATE_FAILED event, once rolled back."""
    args = ["cloudformation", "deploy", "--stack-name", stack, "--template-file", "template.yaml"]
    result = aws(*args, *extra, cwd=tmp_path, check=False)
    assert result.returncode != 0
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE", described
    events = aws("cloudformation", "describe-stack-events", "--stack-name", stack).json()["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert len(failed) == 1, events
    return failed[0]


IAM_TEMPLATE = """Resources:
  ReadPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Action: secretsmanager:ListSecrets
            Resource: '*'
  Group:
    Type: AWS::IAM::Group
    Properties:
      Path: /teams/
      ManagedPolicyArns: [!Ref ReadPolicy]
      Policies:
        - PolicyName: describe
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action: secretsmanager:DescribeSecret
                Resource: '*'
  Member:
    Type: AWS::IAM::User
    Properties:
      Groups: [!Ref Group]
  Other:
    Type: AWS::IAM::User
  Addition:
    Type: AWS::IAM::UserToGroupAddition
    Properties:
      GroupName: !Ref Group
      Users: [!Ref Other]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: ec2.amazonaws.com}
            Action: sts:AssumeRole
  Profile:
    Type: AWS::IAM::InstanceProfile
    Properties:
      Path: /apps/
      Roles: [!Ref Role]
Outputs:
  GroupName:
    Value: !Ref Group
  GroupArn:
    Value: !GetAtt Group.Arn
  ProfileName:
    Value: !Ref Profile
  ProfileArn:
    Value: !GetAtt Profile.Arn
  Addition:
    Value: !Ref Addition
"""


def test_groups_memberships_and_instance_profiles_are_created_and_deleted(aws, tmp_path):
    stack = f"iam-{short_id()}"
    (tmp_path / "template.yaml").write_text(IAM_TEMPLATE)
    refused = aws(
        "cloudformation", "deploy", "--stack-name", stack, "--template-file", "template.yaml",
        cwd=tmp_path, check=False,
    )
    assert "Requires capabilities : [CAPABILITY_IAM]" in refused.stderr, refused.stderr
    deploy(aws, tmp_path, stack, "--capabilities", "CAPABILITY_IAM")
    out = stack_outputs(aws, stack)

    group = out["GroupName"]
    assert re.fullmatch(f"{stack}-Group-{SUFFIX}", group), group
    assert out["GroupArn"] == f"arn:aws:iam::{ACCOUNT}:group/teams/{group}"
    described = aws("iam", "get-group", "--group-name", group).json()
    assert described["Group"]["Path"] == "/teams/"
    member, other = physical_id(aws, stack, "Member"), physical_id(aws, stack, "Other")
    assert sorted(u["UserName"] for u in described["Users"]) == sorted([member, other])
    assert aws("iam", "list-group-policies", "--group-name", group).json()["PolicyNames"] == ["describe"]
    attached = aws("iam", "list-attached-group-policies", "--group-name", group).json()
    assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [physical_id(aws, stack, "ReadPolicy")]
    assert re.fullmatch(f"{stack}-Addition-{SUFFIX}", out["Addition"]), out["Addition"]

    profile = out["ProfileName"]
    assert re.fullmatch(f"{stack}-Profile-{SUFFIX}", profile), profile
    assert out["ProfileArn"] == f"arn:aws:iam::{ACCOUNT}:instance-profile/apps/{profile}"
    got = aws("iam", "get-instance-profile", "--instance-profile-name", profile).json()["InstanceProfile"]
    assert got["Path"] == "/apps/"
    assert [r["RoleName"] for r in got["Roles"]] == [physical_id(aws, stack, "Role")]

    delete_stack(aws, stack)
    for args in (
        ("get-group", "--group-name", group),
        ("get-user", "--user-name", member),
        ("get-user", "--user-name", other),
        ("get-instance-profile", "--instance-profile-name", profile),
    ):
        gone = aws("iam", *args, check=False)
        assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr, (args, gone.stderr)


# A rotation function of the template: AWS's four steps for a JSON secret whose `password` it
# changes (testSecret and setSecret have nothing to set: there is no database).
ROTATION_RESOURCES = """  RotationRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: rotate
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action:
                  - secretsmanager:DescribeSecret
                  - secretsmanager:GetSecretValue
                  - secretsmanager:PutSecretValue
                  - secretsmanager:UpdateSecretVersionStage
                Resource: !Ref Secret
              - Effect: Allow
                Action: secretsmanager:GetRandomPassword
                Resource: '*'
              - Effect: Allow
                Action: [kms:Decrypt, kms:GenerateDataKey]
                Resource: !GetAtt Key.Arn
  RotationFunction:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: index.lambda_handler
      Timeout: 30
      Role: !GetAtt RotationRole.Arn
      Code:
        ZipFile: |
          import json
          import boto3

          client = boto3.client('secretsmanager')


          def lambda_handler(event, context):
              arn, token, step = event['SecretId'], event['ClientRequestToken'], event['Step']
              versions = client.describe_secret(SecretId=arn)['VersionIdsToStages']
              if 'AWSCURRENT' in versions.get(token, []):
                  return
              if step == 'createSecret':
                  try:
                      client.get_secret_value(SecretId=arn, VersionId=token, VersionStage='AWSPENDING')
                  except client.exceptions.ResourceNotFoundException:
                      current = client.get_secret_value(SecretId=arn, VersionStage='AWSCURRENT')
                      value = json.loads(current['SecretString'])
                      value['password'] = client.get_random_password(
                          PasswordLength=24, ExcludePunctuation=True)['RandomPassword']
                      client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                              SecretString=json.dumps(value),
                                              VersionStages=['AWSPENDING'])
              elif step == 'finishSecret':
                  current = [v for v, s in versions.items() if 'AWSCURRENT' in s][0]
                  client.update_secret_version_stage(SecretId=arn, VersionStage='AWSCURRENT',
                                                     MoveToVersionId=token,
                                                     RemoveFromVersionId=current)
  RotationPermission:
    Type: AWS::Lambda::Permission
    Properties:
      FunctionName: !Ref RotationFunction
      Action: lambda:InvokeFunction
      Principal: secretsmanager.amazonaws.com
      SourceAccount: !Ref AWS::AccountId
  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    DependsOn: RotationPermission
    Properties:
      SecretId: !Ref Secret
      RotationLambdaARN: !GetAtt RotationFunction.Arn
      RotationRules:
        RULES
"""


def rotated_template(rules: str) -> str:
    return SECRET_TEMPLATE.replace(
        "Outputs:\n", ROTATION_RESOURCES.replace("RULES", rules) + "Outputs:\n"
    ) + "  FunctionArn:\n    Value: !GetAtt RotationFunction.Arn\n  RotationId:\n    Value: !Ref Rotation\n"


def settled(aws, arn: str, done=lambda described: True) -> dict:
    """DescribeSecret once no version is AWSPENDING (a rotation or its test has ended) and
    `done` holds of it."""
    described = {}
    for _ in range(600):
        described = aws("secretsmanager", "describe-secret", "--secret-id", arn).json()
        stages = described.get("VersionIdsToStages", {})
        if not any("AWSPENDING" in s for s in stages.values()) and done(described):
            break
        time.sleep(0.1)
    return described


def first_version(aws, arn: str) -> str:
    """The id of the secret's first version (the stack's rotation may already have run)."""
    versions = aws("secretsmanager", "list-secret-version-ids", "--secret-id", arn).json()["Versions"]
    return min(versions, key=lambda v: v["CreatedDate"])["VersionId"]


def wait_for_new_current(aws, arn: str, first: str) -> dict:
    """DescribeSecret once a version other than `first` is AWSCURRENT and nothing is pending."""
    return settled(
        aws, arn, lambda d: "AWSCURRENT" not in d.get("VersionIdsToStages", {}).get(first, [])
    )


def test_a_generated_secret_under_a_key_with_a_policy_is_rotated_by_its_schedule(aws, tmp_path):
    """GenerateSecretString, a KMS key, a resource policy and a RotationSchedule whose function
    is in the template: the stack's rotation runs the function (a new AWSCURRENT version with a
    new password); an update of the rules with RotateImmediatelyOnUpdate false changes the
    schedule in place without rotating; deleting the stack cancels rotation and deletes all."""
    stack = f"rotated-{short_id()}"
    (tmp_path / "template.yaml").write_text(rotated_template("AutomaticallyAfterDays: 30"))
    deploy(aws, tmp_path, stack, "--capabilities", "CAPABILITY_IAM")
    out = stack_outputs(aws, stack)
    arn, function_arn = out["SecretArn"], out["FunctionArn"]
    assert out["RotationId"] == arn
    function = physical_id(aws, stack, "RotationFunction")
    assert function_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"

    first = first_version(aws, arn)
    first_value = json.loads(
        aws("secretsmanager", "get-secret-value", "--secret-id", arn, "--version-id", first).json()[
            "SecretString"
        ]
    )
    described = wait_for_new_current(aws, arn, first)
    current = [v for v, s in described["VersionIdsToStages"].items() if "AWSCURRENT" in s]
    assert len(current) == 1 and current[0] != first, described
    assert described["VersionIdsToStages"][first] == ["AWSPREVIOUS"]
    assert described["RotationEnabled"] is True
    assert described["RotationLambdaARN"] == function_arn
    assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
    assert "LastRotatedDate" in described
    value = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn).json()["SecretString"])
    assert value["username"] == "app"
    assert len(value["password"]) == 24 and value["password"] != first_value["password"]
    # Still under the template's key, still with its policy.
    assert described["KmsKeyId"].endswith(physical_id(aws, stack, "Key"))
    policy = aws("secretsmanager", "get-resource-policy", "--secret-id", arn).json()
    assert "secretsmanager:DeleteSecret" in policy["ResourcePolicy"]

    # New rules, not rotating now: the same schedule (the secret's ARN), the versions as they were.
    (tmp_path / "template.yaml").write_text(
        rotated_template("ScheduleExpression: rate(10 days)\n      RotateImmediatelyOnUpdate: false")
    )
    deploy(aws, tmp_path, stack, "--capabilities", "CAPABILITY_IAM")
    updated = settled(aws, arn)
    assert updated["RotationEnabled"] is True
    assert updated["RotationRules"]["ScheduleExpression"] == "rate(10 days)"
    assert updated["VersionIdsToStages"] == described["VersionIdsToStages"]
    assert physical_id(aws, stack, "Rotation") == arn

    role = physical_id(aws, stack, "RotationRole")
    delete_stack(aws, stack)
    gone = aws("secretsmanager", "describe-secret", "--secret-id", arn, check=False)
    assert "ResourceNotFoundException" in gone.stderr
    gone = aws("lambda", "get-function", "--function-name", function, check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    gone = aws("iam", "get-role", "--role-name", role, check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


HOSTED_TEMPLATE = r"""TRANSFORM
Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: 'VALUE'
  Rotation:
    Type: AWS::SecretsManager::RotationSchedule
    Properties:
      SecretId: !Ref Secret
      HostedRotationLambda:
        RotationType: ROTATION_TYPE
        ExcludeCharacters: "/@\"'\\"
      RotationRules:
        AutomaticallyAfterDays: 30
"""


def hosted_template(rotation_type: str, value: str = "{}", transform: bool = True) -> str:
    declared = "Transform: AWS::SecretsManager-2024-09-16" if transform else ""
    return (
        HOSTED_TEMPLATE.replace("TRANSFORM", declared)
        .replace("ROTATION_TYPE", rotation_type)
        .replace("VALUE", value)
    )


def test_hosted_rotation_runs_the_builtin_rotator_against_mariadb(aws, tmp_path):
    """HostedRotationLambda MariaDBSingleUser under the AWS::SecretsManager transform: a function
    running kinko's built-in rotator, its role and its permission, made by the stack; the
    rotation changes the real MariaDB user's password; deleting the stack deletes them."""
    url_text = os.environ.get("KINKO_TEST_MYSQL_URL")
    if not url_text:
        pytest.skip("KINKO_TEST_MYSQL_URL is not set: no MariaDB to rotate a password in")
    url = urllib.parse.urlparse(url_text)
    user, first = f"kinko_{short_id()}", f"Pw{short_id()}{short_id()}"
    created = mariadb(url, "-e", f"CREATE USER '{user}'@'%' IDENTIFIED BY '{first}'")
    assert created.returncode == 0, created.stderr
    stack = f"hosted-{short_id()}"
    try:
        value = json.dumps({"engine": "mariadb", "host": url.hostname, "port": url.port or 3306,
                            "username": user, "password": first})
        (tmp_path / "template.yaml").write_text(hosted_template("MariaDBSingleUser", value))
        # The function's role is an IAM resource: the stack must be allowed to create one.
        event = failed_deploy(aws, tmp_path, f"{stack}-nocap")
        assert event["LogicalResourceId"] == "Rotation"
        assert event["ResourceStatusReason"] == "Requires capabilities : [CAPABILITY_IAM]"

        deploy(aws, tmp_path, stack, "--capabilities", "CAPABILITY_IAM")
        arn = physical_id(aws, stack, "Secret")
        first_id = first_version(aws, arn)
        described = wait_for_new_current(aws, arn, first_id)
        function_arn = described["RotationLambdaARN"]
        function = function_arn.rsplit(":", 1)[1]
        assert re.fullmatch(f"{stack}-Rotation-{SUFFIX}", function), function
        config = aws("lambda", "get-function-configuration", "--function-name", function).json()
        assert config["Runtime"] == "provided.al2023"
        assert config["Handler"] == "kinko:MariaDBSingleUser"
        assert config["Environment"]["Variables"] == {"EXCLUDE_CHARACTERS": "/@\"'\\"}
        role = config["Role"].rsplit("/", 1)[1]
        assert described["RotationRules"] == {"AutomaticallyAfterDays": 30}
        assert described["VersionIdsToStages"][first_id] == ["AWSPREVIOUS"], described

        rotated = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn,
                                 "--query", "SecretString", "--output", "text").stdout)
        assert rotated["username"] == user
        assert rotated["password"] != first and len(rotated["password"]) == 32
        assert mariadb(url, "-e", "SELECT 1", user=user, password=rotated["password"]).returncode == 0
        assert mariadb(url, "-e", "SELECT 1", user=user, password=first).returncode != 0

        delete_stack(aws, stack)
        gone = aws("lambda", "get-function", "--function-name", function, check=False)
        assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
        gone = aws("iam", "get-role", "--role-name", role, check=False)
        assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr
    finally:
        mariadb(url, "-e", f"DROP USER IF EXISTS '{user}'@'%'")


def test_hosted_rotation_types_without_a_rotator_are_refused(aws, tmp_path):
    (tmp_path / "template.yaml").write_text(hosted_template("OracleSingleUser"))
    event = failed_deploy(aws, tmp_path, f"oracle-{short_id()}", "--capabilities", "CAPABILITY_IAM")
    assert event["LogicalResourceId"] == "Rotation"
    assert event["ResourceStatusReason"].startswith(
        "HostedRotationLambda RotationType OracleSingleUser is not supported: kinko has built-in "
        "rotators for PostgreSQLSingleUser, PostgreSQLMultiUser, MySQLSingleUser, MySQLMultiUser, "
        "MariaDBSingleUser, MariaDBMultiUser only"
    ), event


def test_hosted_rotation_needs_the_transform(aws, tmp_path):
    (tmp_path / "template.yaml").write_text(hosted_template("PostgreSQLSingleUser", transform=False))
    event = failed_deploy(aws, tmp_path, f"notransform-{short_id()}", "--capabilities", "CAPABILITY_IAM")
    assert event["LogicalResourceId"] == "Rotation"
    assert "Transform: AWS::SecretsManager-2024-09-16" in event["ResourceStatusReason"], event


ATTACHMENT_TEMPLATE = """Resources:
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "admin"}'
        GenerateStringKey: password
  Attachment:
    Type: AWS::SecretsManager::SecretTargetAttachment
    Properties:
      SecretId: !Ref Secret
      TargetId: orders-db
      TargetType: AWS::RDS::DBInstance
"""


def test_a_secret_target_attachment_fails_for_want_of_a_database(aws, tmp_path):
    """kinko has no RDS: the attachment's target is not found, and the stack rolls back."""
    (tmp_path / "template.yaml").write_text(ATTACHMENT_TEMPLATE)
    stack = f"attachment-{short_id()}"
    event = failed_deploy(aws, tmp_path, stack)
    assert event["LogicalResourceId"] == "Attachment"
    assert event["ResourceStatusReason"].startswith(
        'Resource handler returned message: "DBInstance orders-db not found.'
    ), event
    events = aws("cloudformation", "describe-stack-events", "--stack-name", stack).json()["StackEvents"]
    secret = [e for e in events if e["LogicalResourceId"] == "Secret" and e["ResourceStatus"] == "DELETE_COMPLETE"]
    assert secret, events
    gone = aws("secretsmanager", "describe-secret", "--secret-id", secret[0]["PhysicalResourceId"], check=False)
    assert "ResourceNotFoundException" in gone.stderr
