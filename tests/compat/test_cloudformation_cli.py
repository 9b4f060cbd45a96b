"""The AWS CLI, unmodified, against kinko's CloudFormation API: `aws cloudformation deploy` of the
Secrets Manager guide's template (two roles trusting Lambda, one allowed to read the secret, and
two Node.js functions with inline code), its functions invoked, the stack deleted; and a template
whose resource fails, rolled back."""

from __future__ import annotations

import json
import re

from kinko_compat import (
    ACCOUNT,
    Creds,
    allow,
    assert_cli_error,
    aws_as,
    no_identity_policy,
    policy,
    short_id,
)

GUIDE_TEMPLATE = """AWSTemplateFormatVersion: '2010-09-09'
Description: Secrets Manager guide - an authorized and an unauthorized Lambda function
Resources:
  AuthorizedLambdaExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service:
                - lambda.amazonaws.com
            Action:
              - sts:AssumeRole
      Policies:
        - PolicyName: SecretsManagerGetSecretValue
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Allow
                Action:
                  - secretsmanager:GetSecretValue
                Resource: SECRET_ARN
  UnauthorizedLambdaExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service:
                - lambda.amazonaws.com
            Action:
              - sts:AssumeRole
  AuthorizedFunction:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Role: !GetAtt AuthorizedLambdaExecutionRole.Arn
      Runtime: nodejs12.x
      Code:
        ZipFile: |
          const AWS = require('aws-sdk')
          exports.handler = async function (event, context) {
            const secretsManager = new AWS.SecretsManager({ region: 'ap-northeast-1' })
            const response = await secretsManager.getSecretValue({ SecretId: 'MySecret' }).promise()
            return JSON.stringify({ response }, null, 2)
          }
  UnauthorizedFunction:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Role: !GetAtt UnauthorizedLambdaExecutionRole.Arn
      Runtime: nodejs12.x
      Code:
        ZipFile: |
          const AWS = require('aws-sdk')
          exports.handler = async function (event, context) {
            const secretsManager = new AWS.SecretsManager({ region: 'ap-northeast-1' })
            const response = await secretsManager.getSecretValue({ SecretId: 'MySecret' }).promise()
            return JSON.stringify({ response }, null, 2)
          }
"""


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


def test_the_guides_template_deploys_runs_and_is_deleted(aws, tmp_path):
    value = '{"username":"guide","password":"cfn-guide-pass"}'
    secret = aws(
        "--region",
        "ap-northeast-1",
        "secretsmanager",
        "create-secret",
        "--name",
        "MySecret",
        "--secret-string",
        value,
    ).json()
    try:
        deploy_the_guide(aws, tmp_path, secret["ARN"], value)
    finally:
        # The guide's secret name is shared with the Lambda tests, on the same server.
        aws(
            "--region",
            "ap-northeast-1",
            "secretsmanager",
            "delete-secret",
            "--secret-id",
            "MySecret",
            "--force-delete-without-recovery",
        )


def deploy_the_guide(aws, tmp_path, secret_arn: str, value: str) -> None:
    (tmp_path / "template.yaml").write_text(GUIDE_TEMPLATE.replace("SECRET_ARN", secret_arn))
    stack = "SecretsManager"

    # Without the capability, deploy is refused.
    refused = aws(
        "cloudformation",
        "deploy",
        "--stack-name",
        stack,
        "--template-file",
        "template.yaml",
        cwd=tmp_path,
        check=False,
    )
    assert refused.returncode != 0
    assert "InsufficientCapabilities" in refused.stderr, refused.stderr

    aws(
        "cloudformation",
        "deploy",
        "--stack-name",
        stack,
        "--template-file",
        "template.yaml",
        "--capabilities",
        "CAPABILITY_IAM",
        cwd=tmp_path,
    )
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"

    authorized = physical_id(aws, stack, "AuthorizedFunction")
    unauthorized = physical_id(aws, stack, "UnauthorizedFunction")
    role = physical_id(aws, stack, "UnauthorizedLambdaExecutionRole")
    assert authorized.startswith(f"{stack}-AuthorizedFunction-")
    assert role.startswith(f"{stack}-UnauthorizedLambdaExecutionRole-")

    aws("lambda", "invoke", "--function-name", authorized, "outfile-authorized", cwd=tmp_path)
    returned = json.loads((tmp_path / "outfile-authorized").read_text())
    assert json.loads(returned)["response"]["SecretString"] == value

    out = aws(
        "lambda", "invoke", "--function-name", unauthorized, "outfile-unauthorized", cwd=tmp_path
    ).json()
    assert out["FunctionError"] == "Unhandled"
    error = json.loads((tmp_path / "outfile-unauthorized").read_text())
    assert error["errorType"] == "AccessDeniedException"
    assert error["errorMessage"].startswith(
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{unauthorized} is not authorized"
    ), error

    resources = aws("cloudformation", "list-stack-resources", "--stack-name", stack).json()
    assert sorted(r["LogicalResourceId"] for r in resources["StackResourceSummaries"]) == [
        "AuthorizedFunction",
        "AuthorizedLambdaExecutionRole",
        "UnauthorizedFunction",
        "UnauthorizedLambdaExecutionRole",
    ]
    template = aws("cloudformation", "get-template", "--stack-name", stack).json()
    assert "AuthorizedLambdaExecutionRole" in json.dumps(template["TemplateBody"])

    # Deploying the same template again changes nothing: the CLI recognizes the empty change
    # set by its status reason.
    again = aws(
        "cloudformation",
        "deploy",
        "--stack-name",
        stack,
        "--template-file",
        "template.yaml",
        "--capabilities",
        "CAPABILITY_IAM",
        "--no-fail-on-empty-changeset",
        cwd=tmp_path,
    )
    assert "No changes to deploy" in again.stdout + again.stderr

    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    gone = aws("lambda", "get-function", "--function-name", authorized, check=False)
    assert gone.returncode != 0 and "ResourceNotFoundException" in gone.stderr
    missing = aws("cloudformation", "describe-stacks", "--stack-name", stack, check=False)
    assert f"Stack with id {stack} does not exist" in missing.stderr


FAILING_TEMPLATE = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
  Secret:
    Type: AWS::SecretsManager::Secret
    DependsOn: Role
    Properties:
      Name: NAME
      KmsKeyId: alias/does-not-exist
      SecretString: never
"""


def test_a_failing_template_rolls_back(aws, tmp_path):
    stack = f"failing-{short_id()}"
    (tmp_path / "template.yaml").write_text(FAILING_TEMPLATE.replace("NAME", stack))
    result = aws(
        "cloudformation",
        "deploy",
        "--stack-name",
        stack,
        "--template-file",
        "template.yaml",
        "--capabilities",
        "CAPABILITY_IAM",
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert described["StackStatus"] == "ROLLBACK_COMPLETE"
    events = aws("cloudformation", "describe-stack-events", "--stack-name", stack).json()
    rollback = [e for e in events["StackEvents"] if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS"]
    assert [e["ResourceStatusReason"] for e in rollback] == [
        "The following resource(s) failed to create: [Secret]. Rollback requested by user."
    ]
    failed = [e for e in events["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert [e["LogicalResourceId"] for e in failed] == ["Secret"]
    assert failed[0]["ResourceStatusReason"].startswith("Resource handler returned message: ")
    role = [
        e
        for e in events["StackEvents"]
        if e["LogicalResourceId"] == "Role" and e["ResourceStatus"] == "DELETE_COMPLETE"
    ]
    assert role, events
    gone = aws("iam", "get-role", "--role-name", role[0]["PhysicalResourceId"], check=False)
    assert gone.returncode != 0 and "NoSuchEntity" in gone.stderr


SECRET_TEMPLATE = """Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      Description: !Sub "${AWS::StackName} secrets"
  KeyAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: !Sub "alias/${AWS::StackName}"
      TargetKeyId: !Ref Key
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Description: !Sub "database password for ${Env}"
      KmsKeyId: !GetAtt Key.Arn
      GenerateSecretString:
        SecretStringTemplate: '{"username": "app"}'
        GenerateStringKey: password
        PasswordLength: 24
        ExcludePunctuation: true
  SecretPolicy:
    Type: AWS::SecretsManager::ResourcePolicy
    Properties:
      SecretId: !Ref Secret
      BlockPublicPolicy: true
      ResourcePolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Deny
            Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
            Action: secretsmanager:DeleteSecret
            Resource: '*'
Outputs:
  SecretArn:
    Value: !Ref Secret
"""


def deploy(aws, tmp_path, stack: str, *extra: str) -> None:
    """`aws cloudformation deploy`; on failure, the stack's events are in the assertion."""
    args = ["cloudformation", "deploy", "--stack-name", stack, "--template-file", "template.yaml"]
    result = aws(*args, *extra, cwd=tmp_path, check=False)
    if result.returncode != 0:
        events = aws("cloudformation", "describe-stack-events", "--stack-name", stack, check=False)
        raise AssertionError(f"{result}\n{events.stdout}")


def test_a_generated_secret_under_a_key_with_a_policy_is_updated(aws, tmp_path):
    stack = f"secrets-{short_id()}"
    (tmp_path / "template.yaml").write_text(SECRET_TEMPLATE)
    deploy(aws, tmp_path, stack)
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    assert described["Parameters"] == [{"ParameterKey": "Env", "ParameterValue": "dev"}]
    arn = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}["SecretArn"]
    assert arn == physical_id(aws, stack, "Secret")

    value = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn).json()["SecretString"])
    assert value["username"] == "app"
    assert len(value["password"]) == 24 and value["password"].isalnum()
    secret = aws("secretsmanager", "describe-secret", "--secret-id", arn).json()
    key_id = physical_id(aws, stack, "Key")
    assert secret["KmsKeyId"].endswith(key_id)
    assert secret["Description"] == "database password for dev"
    alias = aws("kms", "describe-key", "--key-id", f"alias/{stack}").json()
    assert alias["KeyMetadata"]["KeyId"] == key_id
    policy = aws("secretsmanager", "get-resource-policy", "--secret-id", arn).json()
    assert "secretsmanager:DeleteSecret" in policy["ResourcePolicy"]

    # An update changing the parameter changes the secret in place: same ARN, same value.
    deploy(aws, tmp_path, stack, "--parameter-overrides", "Env=prod")
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert described["StackStatus"] == "UPDATE_COMPLETE"
    assert physical_id(aws, stack, "Secret") == arn
    secret = aws("secretsmanager", "describe-secret", "--secret-id", arn).json()
    assert secret["Description"] == "database password for prod"
    again = json.loads(aws("secretsmanager", "get-secret-value", "--secret-id", arn).json()["SecretString"])
    assert again == value

    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    gone = aws("secretsmanager", "describe-secret", "--secret-id", arn, check=False)
    assert "ResourceNotFoundException" in gone.stderr
    key = aws("kms", "describe-key", "--key-id", key_id).json()
    assert key["KeyMetadata"]["KeyState"] == "PendingDeletion"


ROLE_ONLY_TEMPLATE = """Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
"""


def test_resources_are_created_with_the_callers_permissions(aws, tmp_path):
    """A user allowed CloudFormation but not iam:CreateRole: the stack operation is theirs, so
    the role fails with their AccessDenied and the stack rolls back; without
    cloudformation:CreateChangeSet, deploy itself is refused on the stack's ARN."""
    user = f"cfn-only-{short_id()}"
    aws("iam", "create-user", "--user-name", user)
    aws(
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        "cfn",
        "--policy-document",
        policy(allow("cloudformation:*")),
    )
    creds = Creds.from_access_key(aws("iam", "create-access-key", "--user-name", user).json())
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    (tmp_path / "template.yaml").write_text(ROLE_ONLY_TEMPLATE)
    stack = f"caller-{short_id()}"
    args = ["cloudformation", "deploy", "--stack-name", stack, "--template-file", "template.yaml"]
    result = aws_as(aws, creds, *args, "--capabilities", "CAPABILITY_IAM", cwd=tmp_path, check=False)
    assert result.returncode != 0
    events = aws("cloudformation", "describe-stack-events", "--stack-name", stack).json()
    failed = [e for e in events["StackEvents"] if e["ResourceStatus"] == "CREATE_FAILED"]
    assert len(failed) == 1, events
    reason = failed[0]["ResourceStatusReason"]
    message = no_identity_policy(
        user_arn, "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/{stack}-Role-SUFFIX"
    )
    expected = (
        re.escape(f'Resource handler returned message: "{message} (Service: Iam, Status Code: 403, ')
        + r'Request ID: [-0-9a-f]{36}\)" \(RequestToken: [-0-9a-f]{36}, HandlerErrorCode: AccessDenied\)'
    ).replace("SUFFIX", "[A-Z0-9]{13}")
    assert re.fullmatch(expected, reason), reason
    status = aws("cloudformation", "describe-stacks", "--stack-name", stack).json()["Stacks"][0]
    assert status["StackStatus"] == "ROLLBACK_COMPLETE"

    aws(
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        "cfn",
        "--policy-document",
        policy(allow("cloudformation:DescribeStacks")),
    )
    other = f"refused-{short_id()}"
    result = aws_as(
        aws,
        creds,
        "cloudformation",
        "deploy",
        "--stack-name",
        other,
        "--template-file",
        "template.yaml",
        "--capabilities",
        "CAPABILITY_IAM",
        cwd=tmp_path,
        check=False,
    )
    assert_cli_error(
        aws,
        result,
        "AccessDenied",
        "CreateChangeSet",
        no_identity_policy(
            user_arn,
            "cloudformation:CreateChangeSet",
            f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/{other}/*",
        ),
    )


ACCESS_KEY_TEMPLATE = """Parameters:
  Password:
    Type: String
    NoEcho: true
Resources:
  User:
    Type: AWS::IAM::User
  Key:
    Type: AWS::IAM::AccessKey
    Properties:
      UserName: !Ref User
  Credentials:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: !Sub '{"password":"${Password}","id":"${Key}","secret":"${Key.SecretAccessKey}"}'
Outputs:
  KeyId:
    Value: !Ref Key
  Credentials:
    Value: !Ref Credentials
"""


def test_an_access_key_secret_and_a_noecho_value_reach_only_where_the_template_puts_them(aws, tmp_path):
    stack = f"access-key-{short_id()}"
    password = f"pw-{short_id()}-{short_id()}"
    (tmp_path / "template.yaml").write_text(ACCESS_KEY_TEMPLATE)
    deploy(aws, tmp_path, stack, "--capabilities", "CAPABILITY_IAM", "--parameter-overrides", f"Password={password}")
    described = aws("cloudformation", "describe-stacks", "--stack-name", stack)
    stack_json = described.json()["Stacks"][0]
    assert stack_json["Parameters"] == [{"ParameterKey": "Password", "ParameterValue": "****"}]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack_json["Outputs"]}
    assert outputs["KeyId"] == physical_id(aws, stack, "Key")

    value = json.loads(
        aws("secretsmanager", "get-secret-value", "--secret-id", outputs["Credentials"]).json()["SecretString"]
    )
    assert value["password"] == password
    assert value["id"] == outputs["KeyId"]
    # The key works, and no CloudFormation answer holds its secret or the NoEcho value.
    me = aws_as(aws, Creds(value["id"], value["secret"]), "sts", "get-caller-identity").json()
    assert me["Arn"].endswith(":user/" + physical_id(aws, stack, "User"))
    answers = [
        described.stdout,
        aws("cloudformation", "describe-stack-events", "--stack-name", stack).stdout,
        aws("cloudformation", "describe-stack-resources", "--stack-name", stack).stdout,
        aws("cloudformation", "get-template", "--stack-name", stack).stdout,
    ]
    for answer in answers:
        assert value["secret"] not in answer and password not in answer

    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    gone = aws_as(aws, Creds(value["id"], value["secret"]), "sts", "get-caller-identity", check=False)
    assert gone.returncode != 0
