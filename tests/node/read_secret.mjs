// An unmodified AWS SDK for JavaScript v3 program: its clients take credentials from the default
// chain (here the container credentials or the instance metadata endpoint kinko serves). It prints
// its ARN, the value of the secret argv[2] names, and how reading argv[3] failed, as JSON.
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";

for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) {
  if (process.env[name] !== undefined) throw new Error(`${name} is set`);
}
const [allowed, other] = process.argv.slice(2);
const { Arn: arn } = await new STSClient({}).send(new GetCallerIdentityCommand({}));
const sm = new SecretsManagerClient({});
const { SecretString: value } = await sm.send(new GetSecretValueCommand({ SecretId: allowed }));
let denied = null;
try {
  await sm.send(new GetSecretValueCommand({ SecretId: other }));
} catch (e) {
  denied = [e.name, e.message];
}
console.log(JSON.stringify({ arn, value, denied }));
