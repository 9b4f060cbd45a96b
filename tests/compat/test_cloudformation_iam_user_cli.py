"""The AWS CLI, unmodified, against kinko's CloudFormation: an `AWS::IAM::User`'s permissions
boundary, tags and console password, set at creation and changed in place by stack updates."""

from __future__ import annotations

from kinko_compat import Creds, assert_cli_error, aws_as, short_id
from test_cloudformation_updates_cli import deploy, physical_id


BOUNDED_USER = """Parameters:
  Password:
    Type: String
    NoEcho: true
Resources:
  Boundary:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: ["secretsmanager:GetSecretValue", "iam:ChangePassword"]
            Resource: "*"
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties:
      SecretString: bounded-user-value
  User:
    Type: AWS::IAM::User
    Properties:
USER_PROPERTIES      Policies:
        - PolicyName: everything
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: ["secretsmanager:*", "iam:ChangePassword"]
                Resource: "*"
"""

BOUNDED = """      PermissionsBoundary: !Ref Boundary
      Tags:
        - Key: team
          Value: payments
      LoginProfile:
        Password: !Ref Password
        PasswordResetRequired: true
"""

UNBOUNDED = """      Tags:
        - Key: team
          Value: ledger
      LoginProfile:
        Password: !Ref Password
        PasswordResetRequired: false
"""


def test_a_users_boundary_tags_and_console_password_are_applied_and_updated_in_place(aws, tmp_path):
    """`AWS::IAM::User`'s PermissionsBoundary, Tags and LoginProfile take effect at creation (the
    boundary bounds what the user's policy allows, the password signs in), change in place, and
    the user is deleted with its password."""
    stack = f"bounded-user-{short_id()}"
    caps = ("--capabilities", "CAPABILITY_IAM")
    first_password = "Initial-Pass-12345!"
    template = BOUNDED_USER.replace("USER_PROPERTIES", BOUNDED)
    deploy(aws, tmp_path, stack, template, *caps, "--parameter-overrides", f"Password={first_password}")
    user = physical_id(aws, stack, "User")
    secret = physical_id(aws, stack, "Secret")
    boundary = physical_id(aws, stack, "Boundary")
    creds = Creds.from_access_key(aws("iam", "create-access-key", "--user-name", user).json())

    got = aws("iam", "get-user", "--user-name", user).json()["User"]
    assert got["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": boundary,
    }
    assert got["Tags"] == [{"Key": "team", "Value": "payments"}]
    profile = aws("iam", "get-login-profile", "--user-name", user).json()["LoginProfile"]
    assert profile["PasswordResetRequired"] is True

    # The boundary bounds the user: its policy allows every Secrets Manager action, the boundary
    # GetSecretValue only.
    value = aws_as(aws, creds, "secretsmanager", "get-secret-value", "--secret-id", secret).json()
    assert value["SecretString"] == "bounded-user-value"
    denied_call = aws_as(aws, creds, "secretsmanager", "describe-secret", "--secret-id", secret, check=False)
    assert denied_call.returncode != 0
    assert "AccessDeniedException" in denied_call.stderr
    assert "because no permissions boundary allows the secretsmanager:DescribeSecret action" in denied_call.stderr

    # The template's password is the user's: a wrong one is refused, the right one changes it.
    wrong = aws_as(
        aws, creds, "iam", "change-password", "--old-password", "Not-The-Pass-1!",
        "--new-password", "Changed-Pass-2345!", check=False,
    )
    assert_cli_error(aws, wrong, "AccessDenied", "ChangePassword", "The old password you specified is incorrect.")
    aws_as(
        aws, creds, "iam", "change-password", "--old-password", first_password,
        "--new-password", "Changed-Pass-2345!",
    )

    # In place: the boundary removed, the tags and the password changed; the same user.
    second_password = "Second-Pass-67890!"
    unbounded = BOUNDED_USER.replace("USER_PROPERTIES", UNBOUNDED)
    deploy(aws, tmp_path, stack, unbounded, *caps, "--parameter-overrides", f"Password={second_password}")
    assert physical_id(aws, stack, "User") == user
    got = aws("iam", "get-user", "--user-name", user).json()["User"]
    assert "PermissionsBoundary" not in got
    assert got["Tags"] == [{"Key": "team", "Value": "ledger"}]
    profile = aws("iam", "get-login-profile", "--user-name", user).json()["LoginProfile"]
    assert profile["PasswordResetRequired"] is False
    aws_as(aws, creds, "secretsmanager", "describe-secret", "--secret-id", secret)
    aws_as(
        aws, creds, "iam", "change-password", "--old-password", second_password,
        "--new-password", "Third-Pass-13579!",
    )

    # The password removed from the template is removed from the user.
    no_password = BOUNDED_USER.replace("USER_PROPERTIES", UNBOUNDED.split("      LoginProfile:")[0])
    deploy(aws, tmp_path, stack, no_password, *caps, "--parameter-overrides", f"Password={second_password}")
    gone = aws("iam", "get-login-profile", "--user-name", user, check=False)
    assert_cli_error(aws, gone, "NoSuchEntity", "GetLoginProfile", f"Login Profile for User {user} cannot be found.")

    # Put back, then the stack deleted: the user goes with its password.
    deploy(aws, tmp_path, stack, template, *caps, "--parameter-overrides", f"Password={first_password}")
    aws("iam", "get-login-profile", "--user-name", user)
    aws("iam", "delete-access-key", "--user-name", user, "--access-key-id", creds.access_key)
    aws("cloudformation", "delete-stack", "--stack-name", stack)
    aws("cloudformation", "wait", "stack-delete-complete", "--stack-name", stack)
    gone = aws("iam", "get-user", "--user-name", user, check=False)
    assert_cli_error(aws, gone, "NoSuchEntity", "GetUser", f"The user with name {user} cannot be found.")
