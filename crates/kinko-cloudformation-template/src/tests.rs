//! Whole-template tests: the Secrets Manager guide's template, every intrinsic function in its
//! YAML short form and its JSON long form, and the errors.

use crate::*;

/// The template of the Secrets Manager guide that issue 16 deploys unchanged.
const GUIDE: &str = r#"AWSTemplateFormatVersion: 2010-09-09
Description: Secrets Manager guide - authorized and unauthorized Lambda functions
Resources:
  AuthorizedLambdaExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
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
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: arn:aws:secretsmanager:us-east-1:111122223333:secret:MySecret-a1b2c3
  UnauthorizedLambdaExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
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
      Runtime: nodejs12.x
      Role: !GetAtt AuthorizedLambdaExecutionRole.Arn
      Code:
        ZipFile: |
          var AWS = require('aws-sdk');
          exports.handler = async function(event) {
            var client = new AWS.SecretsManager();
            return client.getSecretValue({SecretId: 'MySecret'}).promise();
          };
  UnauthorizedFunction:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs12.x
      Role: !GetAtt UnauthorizedLambdaExecutionRole.Arn
      Code:
        ZipFile: |
          var AWS = require('aws-sdk');
          exports.handler = async function(event) {
            var client = new AWS.SecretsManager();
            return client.getSecretValue({SecretId: 'MySecret'}).promise();
          };
"#;

/// A resolver with made-up physical ids and attributes that records nothing.
struct Fake;

impl Resolver for Fake {
    fn resource_ref(&self, id: &str) -> Result<Value> {
        Ok(Value::string(format!("phys-{id}")))
    }

    fn get_att(&self, id: &str, attribute: &str) -> Result<Value> {
        Ok(Value::string(format!("{id}/{attribute}")))
    }

    fn get_azs(&self, region: &str) -> Result<Vec<String>> {
        Ok(vec![format!("{region}a"), format!("{region}b")])
    }

    fn import_value(&self, name: &str) -> Result<Value> {
        Ok(Value::string(format!("imported-{name}")))
    }

    fn dynamic_reference(&self, r: &DynamicReference) -> Result<String> {
        match r {
            DynamicReference::SecretsManager {
                secret_id, json_key, ..
            } => Ok(format!(
                "secret({secret_id},{})",
                json_key.as_deref().unwrap_or("")
            )),
            DynamicReference::Ssm { .. } | DynamicReference::SsmSecure { .. } => Err(
                TemplateError::Validation("SSM dynamic references are not supported".into()),
            ),
        }
    }
}

fn context() -> StackContext {
    StackContext::new(
        "SecretsManager",
        "arn:aws:cloudformation:us-east-1:111122223333:stack/SecretsManager/1",
        "us-east-1",
        "111122223333",
    )
}

fn parse_err(body: &str) -> String {
    match Template::parse(body).and_then(|t| t.validate().map(|_| ())) {
        Ok(()) => panic!("expected an error for {body}"),
        Err(e) => e.message().to_owned(),
    }
}

#[test]
fn guide_template_parses_and_orders_roles_before_functions() {
    let t = Template::parse(GUIDE).unwrap();
    assert_eq!(t.format, Format::Yaml);
    assert_eq!(t.format_version.as_deref(), Some("2010-09-09"));
    assert_eq!(t.resources.len(), 4);
    let function = t.resource("AuthorizedFunction").unwrap();
    assert_eq!(function.resource_type, "AWS::Lambda::Function");
    let code = function.properties.get("Code").unwrap().as_map().unwrap();
    let zip = code.get("ZipFile").unwrap().as_str().unwrap();
    assert!(zip.starts_with("var AWS = require('aws-sdk');\nexports.handler"));
    assert!(zip.ends_with("};\n"));

    let graph = t.validate().unwrap();
    assert_eq!(
        graph[2],
        Dependencies {
            logical_id: "AuthorizedFunction".into(),
            depends_on: vec!["AuthorizedLambdaExecutionRole".into()],
        }
    );
    let params = bind_parameters(&t, &[]).unwrap();
    let ev = Evaluator::new(&t, params, context()).unwrap();
    assert_eq!(
        ev.creation_order(&graph).unwrap(),
        [
            "AuthorizedLambdaExecutionRole",
            "UnauthorizedLambdaExecutionRole",
            "AuthorizedFunction",
            "UnauthorizedFunction"
        ]
    );
    assert_eq!(
        ev.deletion_order(&graph).unwrap(),
        [
            "UnauthorizedFunction",
            "AuthorizedFunction",
            "UnauthorizedLambdaExecutionRole",
            "AuthorizedLambdaExecutionRole"
        ]
    );
    let props = ev.resolve_properties(function, &Fake).unwrap();
    assert_eq!(
        props.get("Role"),
        Some(&Value::string("AuthorizedLambdaExecutionRole/Arn"))
    );
    assert_eq!(props.get("Runtime"), Some(&Value::string("nodejs12.x")));

    // Two unnamed IAM roles: CAPABILITY_IAM, which CAPABILITY_NAMED_IAM also covers.
    let required = t.required_capabilities();
    assert_eq!(required.capabilities, [Capability::Iam]);
    assert_eq!(
        required.reason.as_deref(),
        Some("The following resource(s) require capabilities: [AWS::IAM::Role]")
    );
    assert_eq!(
        t.check_capabilities(&[], true),
        Err(TemplateError::InsufficientCapabilities(
            "Requires capabilities : [CAPABILITY_IAM]".into()
        ))
    );
    assert_eq!(
        t.check_capabilities(&[], true).unwrap_err().code(),
        "InsufficientCapabilitiesException"
    );
    assert!(t.check_capabilities(&[Capability::Iam], true).is_ok());
    assert!(t.check_capabilities(&[Capability::NamedIam], true).is_ok());
}

#[test]
fn named_iam_resources_need_named_iam() {
    let t = Template::parse(
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: fixed\n",
    )
    .unwrap();
    assert_eq!(
        t.check_capabilities(&[Capability::Iam], true)
            .unwrap_err()
            .message(),
        "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    );
    assert!(t.check_capabilities(&[Capability::NamedIam], true).is_ok());
    let t = Template::parse("Resources:\n  K:\n    Type: AWS::KMS::Key\n").unwrap();
    assert_eq!(t.required_capabilities(), RequiredCapabilities::default());
}

/// The same template written with YAML short forms and JSON long forms evaluates the same.
const SHORT: &str = r#"
Parameters:
  Env:
    Type: String
    AllowedValues: [prod, dev]
    Default: dev
  Names:
    Type: CommaDelimitedList
    Default: "a, b ,c"
  Ports:
    Type: List<Number>
    Default: 80,443
  Size:
    Type: Number
    Default: 5
Mappings:
  RegionMap:
    us-east-1:
      Ami: ami-1
      Zones: [x, y]
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals [!Ref Size, "5"]]
  Either: !Or [!Condition IsProd, !Equals [!Ref "AWS::Region", us-east-1]]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
  Thing:
    Type: Custom::Thing
    Properties:
      Ref: !Ref Bucket
      Param: !Ref Env
      List: !Ref Names
      Ports: !Ref Ports
      Att: !GetAtt Bucket.Arn
      AttList: !GetAtt [Bucket, DomainName]
      Sub: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/${Bucket.Arn}/${Env}/${AWS::Region}/${!Literal}"
      SubVars: !Sub
        - "${Name}-${AWS::AccountId}"
        - Name: !Ref Env
      Join: !Join [",", [!Ref Env, !GetAtt Bucket.Arn, plain]]
      JoinList: !Join ["|", !Ref Names]
      Select: !Select [1, !Ref Names]
      SelectSplit: !Select ["2", !Split ["/", "a/b/c"]]
      If: !If [IsProd, yes-prod, no-prod]
      Gone: !If [IsProd, x, !Ref "AWS::NoValue"]
      ListWithGone: [keep, !If [IsDev, !Ref "AWS::NoValue", drop]]
      Map: !FindInMap [RegionMap, !Ref "AWS::Region", Ami]
      MapList: !FindInMap [RegionMap, us-east-1, Zones]
      B64: !Base64 hello
      AZs: !GetAZs ""
      AZsNamed: !GetAZs eu-west-1
      # YAML allows one tag per node, so (as AWS documents) `!ImportValue !Sub` is written
      # with the long form inside.
      Import: !ImportValue
        Fn::Sub: "${AWS::StackName}-vpc"
      Pseudo: [!Ref "AWS::StackName", !Ref "AWS::StackId", !Ref "AWS::AccountId", !Ref "AWS::URLSuffix", !Ref "AWS::NotificationARNs"]
      Nested: !If [Both, !Join ["-", [!Select [0, !Split [",", !Sub "${Env},z"]]]], other]
      Secret: "pw={{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:Db-a1b2c3:SecretString:password}}"
  Optional:
    Type: Custom::Optional
    Condition: IsProd
    Properties:
      Value: !Ref Bucket
Outputs:
  BucketArn:
    Value: !GetAtt Bucket.Arn
    Export:
      Name: !Sub "${AWS::StackName}-BucketArn"
  NamesOut:
    Value: !Ref Names
  OnlyProd:
    Condition: IsProd
    Value: !Ref Optional
"#;

const LONG: &str = r#"{
  "Parameters": {
    "Env": {"Type": "String", "AllowedValues": ["prod", "dev"], "Default": "dev"},
    "Names": {"Type": "CommaDelimitedList", "Default": "a, b ,c"},
    "Ports": {"Type": "List<Number>", "Default": "80,443"},
    "Size": {"Type": "Number", "Default": 5}
  },
  "Mappings": {"RegionMap": {"us-east-1": {"Ami": "ami-1", "Zones": ["x", "y"]}}},
  "Conditions": {
    "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
    "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
    "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "Size"}, "5"]}]},
    "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]}
  },
  "Resources": {
    "Bucket": {"Type": "AWS::S3::Bucket"},
    "Thing": {
      "Type": "Custom::Thing",
      "Properties": {
        "Ref": {"Ref": "Bucket"},
        "Param": {"Ref": "Env"},
        "List": {"Ref": "Names"},
        "Ports": {"Ref": "Ports"},
        "Att": {"Fn::GetAtt": ["Bucket", "Arn"]},
        "AttList": {"Fn::GetAtt": "Bucket.DomainName"},
        "Sub": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/${Bucket.Arn}/${Env}/${AWS::Region}/${!Literal}"},
        "SubVars": {"Fn::Sub": ["${Name}-${AWS::AccountId}", {"Name": {"Ref": "Env"}}]},
        "Join": {"Fn::Join": [",", [{"Ref": "Env"}, {"Fn::GetAtt": ["Bucket", "Arn"]}, "plain"]]},
        "JoinList": {"Fn::Join": ["|", {"Ref": "Names"}]},
        "Select": {"Fn::Select": [1, {"Ref": "Names"}]},
        "SelectSplit": {"Fn::Select": ["2", {"Fn::Split": ["/", "a/b/c"]}]},
        "If": {"Fn::If": ["IsProd", "yes-prod", "no-prod"]},
        "Gone": {"Fn::If": ["IsProd", "x", {"Ref": "AWS::NoValue"}]},
        "ListWithGone": ["keep", {"Fn::If": ["IsDev", {"Ref": "AWS::NoValue"}, "drop"]}],
        "Map": {"Fn::FindInMap": ["RegionMap", {"Ref": "AWS::Region"}, "Ami"]},
        "MapList": {"Fn::FindInMap": ["RegionMap", "us-east-1", "Zones"]},
        "B64": {"Fn::Base64": "hello"},
        "AZs": {"Fn::GetAZs": ""},
        "AZsNamed": {"Fn::GetAZs": "eu-west-1"},
        "Import": {"Fn::ImportValue": {"Fn::Sub": "${AWS::StackName}-vpc"}},
        "Pseudo": [{"Ref": "AWS::StackName"}, {"Ref": "AWS::StackId"}, {"Ref": "AWS::AccountId"}, {"Ref": "AWS::URLSuffix"}, {"Ref": "AWS::NotificationARNs"}],
        "Nested": {"Fn::If": ["Both", {"Fn::Join": ["-", [{"Fn::Select": [0, {"Fn::Split": [",", {"Fn::Sub": "${Env},z"}]}]}]]}, "other"]},
        "Secret": "pw={{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:111122223333:secret:Db-a1b2c3:SecretString:password}}"
      }
    },
    "Optional": {"Type": "Custom::Optional", "Condition": "IsProd", "Properties": {"Value": {"Ref": "Bucket"}}}
  },
  "Outputs": {
    "BucketArn": {"Value": {"Fn::GetAtt": ["Bucket", "Arn"]}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-BucketArn"}}},
    "NamesOut": {"Value": {"Ref": "Names"}},
    "OnlyProd": {"Condition": "IsProd", "Value": {"Ref": "Optional"}}
  }
}"#;

fn evaluate_all(body: &str) -> (Map, Vec<ResolvedOutput>, Vec<String>) {
    let t = Template::parse(body).unwrap();
    let graph = t.validate().unwrap();
    let params = bind_parameters(&t, &[]).unwrap();
    let ev = Evaluator::new(&t, params, context()).unwrap();
    assert_eq!(ev.condition("IsProd"), Some(false));
    assert_eq!(ev.condition("IsDev"), Some(true));
    assert_eq!(ev.condition("Both"), Some(true));
    assert_eq!(ev.condition("Either"), Some(true));
    let order = ev.creation_order(&graph).unwrap();
    let thing = t.resource("Thing").unwrap();
    let props = ev.resolve_properties(thing, &Fake).unwrap();
    let outputs = ev.outputs(&Fake).unwrap();
    (props, outputs, order)
}

#[test]
fn every_intrinsic_in_short_and_long_form() {
    let (props, outputs, order) = evaluate_all(SHORT);
    let (long_props, long_outputs, long_order) = evaluate_all(LONG);
    let s = |v: &str| Value::string(v);
    let list = |l: &[&str]| Value::List(l.iter().map(|x| Value::string(*x)).collect());
    let expect = [
        ("Ref", s("phys-Bucket")),
        ("Param", s("dev")),
        ("List", list(&["a", "b", "c"])),
        ("Ports", list(&["80", "443"])),
        ("Att", s("Bucket/Arn")),
        ("AttList", s("Bucket/DomainName")),
        (
            "Sub",
            s("arn:aws:s3:::phys-Bucket/Bucket/Arn/dev/us-east-1/${Literal}"),
        ),
        ("SubVars", s("dev-111122223333")),
        ("Join", s("dev,Bucket/Arn,plain")),
        ("JoinList", s("a|b|c")),
        ("Select", s("b")),
        ("SelectSplit", s("c")),
        ("If", s("no-prod")),
        ("ListWithGone", list(&["keep"])),
        ("Map", s("ami-1")),
        ("MapList", list(&["x", "y"])),
        ("B64", s("aGVsbG8=")),
        ("AZs", list(&["us-east-1a", "us-east-1b"])),
        ("AZsNamed", list(&["eu-west-1a", "eu-west-1b"])),
        ("Import", s("imported-SecretsManager-vpc")),
        (
            "Pseudo",
            Value::List(vec![
                s("SecretsManager"),
                s("arn:aws:cloudformation:us-east-1:111122223333:stack/SecretsManager/1"),
                s("111122223333"),
                s("amazonaws.com"),
                Value::List(vec![]),
            ]),
        ),
        ("Nested", s("dev")),
        (
            "Secret",
            s("pw=secret(arn:aws:secretsmanager:us-east-1:111122223333:secret:Db-a1b2c3,password)"),
        ),
    ];
    for (key, value) in &expect {
        assert_eq!(props.get(key), Some(value), "short form of {key}");
        assert_eq!(long_props.get(key), Some(value), "long form of {key}");
    }
    // AWS::NoValue removes the property.
    assert!(!props.contains_key("Gone"));
    assert!(!long_props.contains_key("Gone"));
    assert_eq!(props.len(), expect.len());
    // The resource whose condition is false is skipped, and so is its output.
    assert_eq!(order, ["Bucket", "Thing"]);
    assert_eq!(long_order, order);
    assert_eq!(outputs, long_outputs);
    assert_eq!(
        outputs,
        [
            ResolvedOutput {
                logical_id: "BucketArn".into(),
                value: "Bucket/Arn".into(),
                description: None,
                export_name: Some("SecretsManager-BucketArn".into()),
            },
            ResolvedOutput {
                logical_id: "NamesOut".into(),
                value: "a,b,c".into(),
                description: None,
                export_name: None,
            },
        ]
    );
}

#[test]
fn conditions_follow_parameters() {
    let t = Template::parse(SHORT).unwrap();
    let graph = t.validate().unwrap();
    let params = bind_parameters(&t, &[("Env".into(), "prod".into())]).unwrap();
    let ev = Evaluator::new(&t, params, context()).unwrap();
    assert_eq!(ev.condition("IsProd"), Some(true));
    assert_eq!(ev.condition("Both"), Some(false));
    assert_eq!(
        ev.creation_order(&graph).unwrap(),
        ["Bucket", "Thing", "Optional"]
    );
    let props = ev
        .resolve_properties(t.resource("Thing").unwrap(), &Fake)
        .unwrap();
    assert_eq!(props.get("Gone"), Some(&Value::string("x")));
    assert_eq!(
        props.get("ListWithGone").map(|l| l.to_string()),
        Some(r#"["keep","drop"]"#.into())
    );
    assert_eq!(props.get("Nested"), Some(&Value::string("other")));
    assert_eq!(ev.outputs(&Fake).unwrap().len(), 3);
}

#[test]
fn ref_to_a_resource_whose_condition_is_false_is_unresolved() {
    let t = Template::parse(
        "Parameters:\n  Env: {Type: String, Default: dev}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\n\
         Resources:\n  A:\n    Type: T::A\n    Condition: IsProd\n  B:\n    Type: T::B\n    Properties:\n      X: !Ref A\n",
    )
    .unwrap();
    t.validate().unwrap();
    let ev = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), context()).unwrap();
    assert_eq!(
        ev.resolve_properties(t.resource("B").unwrap(), &Fake)
            .unwrap_err()
            .message(),
        "Template format error: Unresolved resource dependencies [A] in the Resources block of the template"
    );
}

#[test]
fn depends_on_orders_and_reverses() {
    let t = Template::parse(
        r#"{"Resources": {
            "C": {"Type": "T::C", "DependsOn": ["B", "A"]},
            "B": {"Type": "T::B", "DependsOn": "A"},
            "A": {"Type": "T::A"},
            "D": {"Type": "T::D", "Properties": {"X": {"Fn::Sub": "${C.Arn}"}}},
            "E": {"Type": "T::E"}
        }}"#,
    )
    .unwrap();
    assert_eq!(t.format, Format::Json);
    let graph = t.validate().unwrap();
    assert_eq!(graph[3].depends_on, ["C"]);
    let order = creation_order(&graph, &|_| true).unwrap();
    assert_eq!(order, ["A", "B", "C", "D", "E"]);
    let order = deletion_order(&graph, &|_| true).unwrap();
    assert_eq!(order, ["E", "D", "C", "B", "A"]);
}

#[test]
fn circular_dependencies() {
    assert_eq!(
        parse_err(
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Ref B\n  B:\n    Type: T::B\n    Properties:\n      Y: !GetAtt A.Arn\n  C:\n    Type: T::C\n    DependsOn: A\n"
        ),
        "Circular dependency between resources: [A, B]"
    );
    assert_eq!(
        parse_err("Resources:\n  A:\n    Type: T::A\n    DependsOn: A\n"),
        "Circular dependency between resources: [A]"
    );
}

#[test]
fn template_format_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Ref Missing\n",
            "Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    DependsOn: [Nope]\n",
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Sub '${Nope}-${AWS::Region}'\n",
            "Template format error: Unresolved resource dependencies [Nope] in the Resources block of the template",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Value: !Ref Gone\n",
            "Template format error: Unresolved resource dependencies [Gone] in the Outputs block of the template",
        ),
        (
            "Resources:\n  A:\n    Properties: {}\n",
            "Template format error: Every Resources object must contain a Type member.",
        ),
        (
            "Description: none\n",
            "Template format error: At least one Resources member must be defined.",
        ),
        (
            "Resources: {}\n",
            "Template format error: At least one Resources member must be defined.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !GetAtt Nope.Arn\n",
            "Template error: instance of Fn::GetAtt references undefined resource Nope",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Cidr [a, b, c]\n",
            "Template format error: Encountered unsupported function: Fn::Cidr Supported functions are: [Fn::Base64, Fn::GetAtt, Fn::GetAZs, Fn::ImportValue, Fn::Join, Fn::Split, Fn::FindInMap, Fn::Select, Ref, Fn::Equals, Fn::If, Fn::Not, Condition, Fn::And, Fn::Or, Fn::Sub]",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Join [',']\n",
            "Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: {Ref: [a]}\n",
            "Template format error: Every Ref object must have a single String value.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !GetAtt JustOne\n",
            "Template error: every Fn::GetAtt object requires two non-empty parameters",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !FindInMap [M, k]\n",
            "Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Sub '${Bad Name}'\n",
            "Template error: variable names in Fn::Sub syntax must contain only alphanumeric characters, underscores, periods, and colons",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Sub [1, 2]\n",
            "Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !If [Nope, a, b]\n",
            "Template error: unresolved condition dependency Nope in Fn::If",
        ),
        (
            "Conditions:\n  C: !Equals [!Ref A, x]\nResources:\n  A:\n    Type: T::A\n",
            "Template format error: Unresolved dependencies [A]. Cannot reference resources in the Conditions block of the template",
        ),
        (
            "Resources:\n  my-bucket:\n    Type: T::A\n",
            "Template format error: Resource name my-bucket is non alphanumeric.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Propertes: {}\n",
            "Invalid template resource property 'Propertes'",
        ),
        (
            "Foo: 1\nResources:\n  A:\n    Type: T::A\n",
            "Template format error: Invalid template property or properties [Foo]",
        ),
        (
            "Parameters:\n  P:\n    Type: Strin\nResources:\n  A:\n    Type: T::A\n",
            "Template format error: Unrecognized parameter type: Strin",
        ),
        (
            "Parameters:\n  P:\n    Default: x\nResources:\n  A:\n    Type: T::A\n",
            "Template format error: Every Parameters object must contain a Type member.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Description: x\n",
            "Template format error: Every Outputs member must contain a Value object",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Value: x\n    Count: 2\n",
            "Template format error: Invalid outputs property : [Count].",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !If [!Ref P, a, b]\n",
            "Template error: Fn::If requires a list argument with the first element being a condition",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: !Equals [a]\n",
            "Template error: every Fn::Equals object requires a list of 2 string parameters.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    DependsOn: {Ref: B}\n  B:\n    Type: T::B\n",
            "Template format error: DependsOn must be a string or list of strings.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Condition: [C]\n",
            "Template format error: Every Condition member must be a string.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\n    Condition: ListenForHttps\n",
            "Template format error: Condition ListenForHttps is not defined.",
        ),
        (
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Condition: Nope\n    Value: x\n",
            "Template format error: Condition Nope is not defined.",
        ),
        (
            "- just\n- a list\n",
            "Template format error: unsupported structure.",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(&parse_err(body), message, "for {body}");
    }
}

#[test]
fn evaluation_errors() {
    let t = Template::parse(
        "Mappings:\n  M:\n    k: {a: b}\nResources:\n  A:\n    Type: T::A\n    Properties:\n      \
         Sel: !Select [5, [a, b]]\n  B:\n    Type: T::B\n    Properties:\n      Map: !FindInMap [M, k, z]\n",
    )
    .unwrap();
    t.validate().unwrap();
    let ev = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), context()).unwrap();
    assert_eq!(
        ev.resolve_properties(t.resource("A").unwrap(), &Fake)
            .unwrap_err()
            .message(),
        "Template error: Fn::Select cannot select nonexistent value at index 5"
    );
    assert_eq!(
        ev.resolve_properties(t.resource("B").unwrap(), &Fake)
            .unwrap_err()
            .message(),
        "Template error: Unable to get mapping for M::k::z"
    );
}

#[test]
fn ssm_dynamic_references_are_refused_by_the_resolver() {
    let t = Template::parse(
        "Resources:\n  A:\n    Type: T::A\n    Properties:\n      X: '{{resolve:ssm:/app/key:1}}'\n",
    )
    .unwrap();
    let ev = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), context()).unwrap();
    let e = ev
        .resolve_properties(t.resource("A").unwrap(), &Fake)
        .unwrap_err();
    assert_eq!(e.message(), "SSM dynamic references are not supported");
    // The template itself keeps the reference, never the value.
    assert_eq!(
        find_dynamic_references("{{resolve:ssm:/app/key:1}}").unwrap()[0].1,
        DynamicReference::Ssm {
            name: "/app/key".into(),
            version: Some("1".into())
        }
    );
}

const PARAMS: &str = r#"
Parameters:
  Env:
    Type: String
    AllowedValues: [prod, dev]
  Name:
    Type: String
    AllowedPattern: "[a-z]+"
    MinLength: 2
    MaxLength: 5
  Described:
    Type: String
    Default: abc
    AllowedPattern: "[a-z]+"
    ConstraintDescription: must be lower-case letters
  Size:
    Type: Number
    Default: 5
    MinValue: 1
    MaxValue: 10
  Secret:
    Type: String
    NoEcho: true
    Default: hidden
  Vpc:
    Type: AWS::EC2::VPC::Id
    Default: vpc-1
Resources:
  A:
    Type: T::A
"#;

fn bind(given: &[(&str, &str)]) -> Result<BoundParameters> {
    let t = Template::parse(PARAMS).unwrap();
    let given: Vec<(String, String)> = given
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    bind_parameters(&t, &given)
}

#[test]
fn parameter_binding_and_constraints() {
    let t = Template::parse(PARAMS).unwrap();
    assert!(t.parameter("Secret").unwrap().no_echo);
    assert_eq!(
        t.parameter("Vpc").unwrap().parameter_type,
        ParameterType::Aws("AWS::EC2::VPC::Id".into())
    );
    let bound = bind(&[("Env", "prod"), ("Name", "abc")]).unwrap();
    assert_eq!(bound.get("Size"), Some("5"));
    assert_eq!(bound.get("Env"), Some("prod"));
    let err = |given: &[(&str, &str)]| bind(given).unwrap_err().message().to_owned();
    assert_eq!(err(&[]), "Parameters: [Env, Name] must have values");
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abc"), ("Nope", "x")]),
        "Parameters: [Nope] do not exist in the template"
    );
    assert_eq!(
        err(&[("Env", "test"), ("Name", "abc")]),
        "Parameter 'Env' must be one of AllowedValues"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "ABC")]),
        "Parameter 'Name' must match pattern [a-z]+"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "a")]),
        "Parameter 'Name' must contain at least 2 characters"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abcdef")]),
        "Parameter 'Name' must contain at most 5 characters"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abc"), ("Described", "X")]),
        "Parameter 'Described' failed to satisfy constraint: must be lower-case letters"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abc"), ("Size", "0")]),
        "Parameter 'Size' must be a number not less than 1"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abc"), ("Size", "11")]),
        "Parameter 'Size' must be a number not greater than 10"
    );
    assert_eq!(
        err(&[("Env", "prod"), ("Name", "abc"), ("Size", "ten")]),
        "Parameter 'Size' must be a number"
    );
    assert_eq!(err(&[]).split(':').next(), Some("Parameters"));
    assert_eq!(bind(&[]).unwrap_err().code(), "ValidationError");
}

#[test]
fn defaults_are_checked_like_values() {
    let t = Template::parse(
        "Parameters:\n  Naming:\n    Type: String\n    Default: aws-ab-\n    MinLength: 12\nResources:\n  A:\n    Type: T::A\n",
    )
    .unwrap();
    assert_eq!(
        check_defaults(&t).unwrap_err().message(),
        "Parameter 'Naming' must contain at least 12 characters"
    );
    assert_eq!(
        t.validate().unwrap_err().message(),
        "Parameter 'Naming' must contain at least 12 characters"
    );
}

#[test]
fn resource_attributes_are_read() {
    let t = Template::parse(
        "Conditions:\n  C: !Equals [a, a]\nResources:\n  A:\n    Type: AWS::SecretsManager::Secret\n    Condition: C\n    \
         DeletionPolicy: Retain\n    UpdateReplacePolicy: Delete\n    DependsOn: B\n    Metadata: {k: v}\n    Properties:\n      Name: n\n  B:\n    Type: T::B\n",
    )
    .unwrap();
    let a = t.resource("A").unwrap();
    assert_eq!(a.condition.as_deref(), Some("C"));
    assert_eq!(a.deletion_policy, Some(DeletionPolicy::Retain));
    assert_eq!(a.update_replace_policy, Some(DeletionPolicy::Delete));
    assert_eq!(a.depends_on, ["B"]);
    assert!(a.metadata.is_some());
    assert_eq!(
        parse_err("Resources:\n  A:\n    Type: T::A\n    DeletionPolicy: Keep\n"),
        "Template format error: Unrecognized DeletionPolicy Keep for resource A"
    );
}

#[test]
fn transform_needs_auto_expand() {
    let t = Template::parse("Transform: AWS::SecretsManager-2020-07-23\nResources:\n  A:\n    Type: T::A\n")
        .unwrap();
    assert_eq!(t.transform, ["AWS::SecretsManager-2020-07-23"]);
    assert_eq!(
        t.check_capabilities(&[], false).unwrap_err().message(),
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    );
    assert!(t.check_capabilities(&[Capability::AutoExpand], false).is_ok());
    // Through a change set, as `aws cloudformation deploy` goes, the transform needs nothing.
    assert!(t.check_capabilities(&[], true).is_ok());
}

#[test]
fn equals_on_a_list_parameter_is_refused() {
    let t = Template::parse(
        "Parameters:\n  Envs: {Type: CommaDelimitedList, Default: 'dev,test'}\nConditions:\n  C: !Not [!Equals [!Ref Envs, '']]\nResources:\n  A:\n    Type: T::A\n",
    )
    .unwrap();
    t.validate().unwrap();
    let e = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), context()).unwrap_err();
    assert_eq!(
        e.message(),
        "Template error: every Fn::Equals object requires a list of 2 string parameters."
    );
}

#[test]
fn unsupported_resource_types() {
    let t = Template::parse(
        "Resources:\n  A:\n    Type: AWS::S3::Bucket\n  B:\n    Type: AWS::IAM::Role\n  C:\n    Type: AWS::S3::Bucket\n  D:\n    Type: AWS::SNS::Topic\n",
    )
    .unwrap();
    assert_eq!(
        t.check_resource_types(&|t| t.starts_with("AWS::IAM::"))
            .unwrap_err()
            .message(),
        "Template format error: Unrecognized resource types: [AWS::S3::Bucket, AWS::SNS::Topic]"
    );
    assert!(t.check_resource_types(&|_| true).is_ok());
}

#[test]
fn get_att_references_for_the_caller_to_check() {
    let t = Template::parse(GUIDE).unwrap();
    assert_eq!(
        t.get_att_references(),
        [
            ("AuthorizedLambdaExecutionRole".to_owned(), "Arn".to_owned()),
            ("UnauthorizedLambdaExecutionRole".to_owned(), "Arn".to_owned()),
        ]
    );
    let t = Template::parse(SHORT).unwrap();
    assert_eq!(
        t.get_att_references(),
        [
            ("Bucket".to_owned(), "Arn".to_owned()),
            ("Bucket".to_owned(), "DomainName".to_owned()),
        ]
    );
    assert_eq!(
        unsupported_attribute("Role", "Nope").message(),
        "Template error: resource Role does not support attribute type Nope in Fn::GetAtt"
    );
}

#[test]
fn export_names_may_not_depend_on_resources() {
    assert_eq!(
        parse_err(
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Value: !Ref A\n    Export:\n      Name: !Sub '${AWS::StackName}-${A}'\n"
        ),
        "Template format error: Output O is malformed.  The Name field of Export must not depend on any resources, imported values, or Fn::GetAZs."
    );
    assert_eq!(
        parse_err(
            "Resources:\n  A:\n    Type: T::A\nOutputs:\n  O:\n    Value: x\n    Export:\n      Name: !ImportValue other\n"
        ),
        "Template format error: Output O is malformed.  The Name field of Export must not depend on any resources, imported values, or Fn::GetAZs."
    );
}

#[test]
fn dynamic_references_are_listed_before_anything_is_created() {
    let t = Template::parse(
        "Resources:\n  A:\n    Type: T::A\n    Properties:\n      P: '{{resolve:secretsmanager:Db:SecretString:password}}'\n  \
         B:\n    Type: T::B\n    Properties:\n      L: [x, 'k={{resolve:ssm-secure:/k}}']\n",
    )
    .unwrap();
    let found = t.dynamic_references().unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].0, "A");
    assert_eq!(
        found[1],
        (
            "B".to_owned(),
            DynamicReference::SsmSecure {
                name: "/k".into(),
                version: None
            }
        )
    );
    // The stored template keeps the reference text, never a value.
    assert!(
        t.body
            .to_string()
            .contains("{{resolve:secretsmanager:Db:SecretString:password}}")
    );
}

#[test]
fn computed_attribute_names_and_region_pseudo_parameters() {
    let t = Template::parse(
        "Parameters:\n  Attr: {Type: String, Default: Arn}\n  L: {Type: CommaDelimitedList, Default: 'a,b'}\n\
         Resources:\n  R:\n    Type: T::R\n  S:\n    Type: T::S\n    Properties:\n      \
         A: !GetAtt [R, !Ref Attr]\n      Z: !GetAZs\n        Ref: AWS::Region\n      \
         Bad: !Sub '${L}'\n",
    )
    .unwrap();
    t.validate().unwrap();
    let ctx = StackContext::new("s", "id", "cn-north-1", "111122223333");
    assert_eq!(ctx.partition, "aws-cn");
    assert_eq!(ctx.url_suffix, "amazonaws.com.cn");
    assert_eq!(
        StackContext::new("s", "id", "us-gov-west-1", "1").partition,
        "aws-us-gov"
    );
    let ev = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), ctx).unwrap();
    let s = t.resource("S").unwrap();
    let resolve = |key: &str| ev.resolve(s.properties.get(key).unwrap(), &Fake);
    assert_eq!(resolve("A").unwrap(), Some(Value::string("R/Arn")));
    assert_eq!(
        resolve("Z").unwrap().unwrap().to_string(),
        r#"["cn-north-1a","cn-north-1b"]"#
    );
    assert_eq!(
        resolve("Bad").unwrap_err().message(),
        "Template error: variable L in Fn::Sub expression does not resolve to a string"
    );
}

#[test]
fn values_convert_to_json_for_resource_handlers() {
    let t = Template::parse(
        "Resources:\n  A:\n    Type: T::A\n    Properties:\n      Port: 5432\n      Account: 012345678901\n      On: true\n      Nothing: null\n",
    )
    .unwrap();
    let json = Value::Map(t.resource("A").unwrap().properties.clone()).to_json();
    assert_eq!(
        json,
        serde_json::json!({"Port": 5432, "Account": "012345678901", "On": true, "Nothing": null})
    );
    assert_eq!(Value::from_json(&json).to_json(), json);
}

#[test]
fn an_output_naming_a_skipped_resource_is_unresolved_in_the_outputs_block() {
    // As AWS answers for an output without the Condition of the resource it names.
    let t = Template::parse(
        "Conditions:\n  No: !Equals [a, b]\nResources:\n  A:\n    Type: T::A\n    Condition: No\n  B:\n    Type: T::B\n\
         Outputs:\n  O:\n    Value: !GetAtt A.Arn\n",
    )
    .unwrap();
    t.validate().unwrap();
    let ev = Evaluator::new(&t, bind_parameters(&t, &[]).unwrap(), context()).unwrap();
    assert_eq!(
        ev.outputs(&Fake).unwrap_err().message(),
        "Template format error: Unresolved resource dependencies [A] in the Outputs block of the template"
    );
}

#[test]
fn import_names_are_those_of_active_resources_and_taken_branches() {
    let body = r#"
Parameters:
  Env: {Type: String, Default: prod}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Never: !Equals [a, b]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      RoleName: !ImportValue {"Fn::Sub": "${Env}-role-name"}
      Path: !If [IsProd, !ImportValue prod-path, !ImportValue dev-path]
  Skipped:
    Type: AWS::IAM::Role
    Condition: Never
    Properties:
      RoleName: !ImportValue skipped
Outputs:
  Shared:
    Value: !Join [",", [!ImportValue prod-path, !ImportValue out-only]]
"#;
    let t = Template::parse(body).unwrap();
    let bound = bind_parameters(&t, &[]).unwrap();
    let ev = Evaluator::new(&t, bound, context()).unwrap();
    assert_eq!(
        ev.import_names(&Fake).unwrap(),
        ["prod-role-name", "prod-path", "out-only"]
    );
}
