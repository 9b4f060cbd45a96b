//! The process runner driving real python3 and node processes through kinko's bootstraps. The host
//! (code and credentials) is the test's; the runner, its Runtime API and the interpreters are real.
//! Needs the functions' SDKs (`scripts/setup.sh`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use kinko_core::Timestamp;
use kinko_core::function::{
    FunctionHost, FunctionRunner, FunctionSpec, Invocation, InvocationResult, RoleCredentials, RunError,
};
use kinko_functions::{ProcessRunner, RunnerConfig};
use serde_json::{Value, json};

const ENDPOINT: &str = "http://127.0.0.1:59999";

struct Host {
    zips: std::sync::Mutex<BTreeMap<String, Arc<Vec<u8>>>>,
    credentials_calls: AtomicUsize,
    /// How long the credentials it gives are valid.
    lifetime: Duration,
}

#[async_trait]
impl FunctionHost for Host {
    async fn credentials(&self, spec: &FunctionSpec) -> Result<RoleCredentials, String> {
        let n = self.credentials_calls.fetch_add(1, Ordering::SeqCst);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock");
        Ok(RoleCredentials {
            access_key_id: format!("ASIATEST{n:012}"),
            secret_access_key: "secret/for/tests".to_owned(),
            session_token: format!("token-{}-{n}", spec.function_name),
            expiration: Timestamp::from_millis(i64::try_from((now + self.lifetime).as_millis()).expect("ms")),
        })
    }

    async fn code(&self, spec: &FunctionSpec) -> Result<Arc<Vec<u8>>, String> {
        self.zips
            .lock()
            .expect("lock")
            .get(&spec.code_sha256)
            .cloned()
            .ok_or_else(|| "no code".to_owned())
    }
}

struct Fixture {
    runner: ProcessRunner,
    host: Arc<Host>,
    _cache: tempfile::TempDir,
}

fn sdk_dir() -> std::path::PathBuf {
    let dir = kinko_functions::default_sdk_dir();
    assert!(
        dir.join("python").is_dir(),
        "the functions' SDKs are not installed in {} (run scripts/setup.sh)",
        dir.display()
    );
    dir
}

fn fixture_with(configure: impl FnOnce(&mut RunnerConfig), lifetime: Duration) -> Fixture {
    let cache = tempfile::tempdir().expect("tempdir");
    let mut config = RunnerConfig::new(cache.path().to_path_buf(), sdk_dir(), ENDPOINT.to_owned());
    configure(&mut config);
    let host = Arc::new(Host {
        zips: std::sync::Mutex::new(BTreeMap::new()),
        credentials_calls: AtomicUsize::new(0),
        lifetime,
    });
    let runner = ProcessRunner::new(config, host.clone()).expect("runner");
    Fixture {
        runner,
        host,
        _cache: cache,
    }
}

fn fixture() -> Fixture {
    fixture_with(|_| {}, Duration::from_secs(3600))
}

fn zip_of(files: &[(&str, &str)]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, content) in files {
            zip.start_file(*name, options).expect("start");
            zip.write_all(content.as_bytes()).expect("write");
        }
        zip.finish().expect("finish");
    }
    out.into_inner()
}

impl Fixture {
    fn spec(&self, name: &str, runtime: &str, handler: &str, files: &[(&str, &str)]) -> FunctionSpec {
        self.spec_zip(name, runtime, handler, zip_of(files))
    }

    fn spec_zip(&self, name: &str, runtime: &str, handler: &str, zip: Vec<u8>) -> FunctionSpec {
        let sha = base64::engine::general_purpose::STANDARD
            .encode(ring::digest::digest(&ring::digest::SHA256, &zip).as_ref());
        self.host
            .zips
            .lock()
            .expect("lock")
            .insert(sha.clone(), Arc::new(zip));
        FunctionSpec {
            function_arn: format!("arn:aws:lambda:ap-northeast-1:123456789012:function:{name}"),
            function_name: name.to_owned(),
            version: "$LATEST".to_owned(),
            account_id: "123456789012".to_owned(),
            region: "ap-northeast-1".to_owned(),
            runtime: runtime.to_owned(),
            handler: handler.to_owned(),
            code_sha256: sha,
            environment: BTreeMap::from([("STAGE".to_owned(), "test".to_owned())]),
            timeout: Duration::from_secs(3),
            memory_mb: 128,
            role_arn: "arn:aws:iam::123456789012:role/fn-role".to_owned(),
            revision_id: "r1".to_owned(),
        }
    }

    async fn invoke(&self, spec: &FunctionSpec, payload: Value) -> InvocationResult {
        self.try_invoke(spec, payload).await.expect("invoke")
    }

    async fn try_invoke(&self, spec: &FunctionSpec, payload: Value) -> Result<InvocationResult, RunError> {
        let invocation = Invocation {
            request_id: uuid::Uuid::new_v4().to_string(),
            payload: payload.to_string().into_bytes(),
            client_context: None,
            tail_logs: true,
        };
        self.runner.invoke(spec, invocation).await
    }
}

fn body(result: &InvocationResult) -> Value {
    serde_json::from_slice(&result.payload).unwrap_or_else(|e| {
        panic!(
            "payload is not JSON ({e}): {}",
            String::from_utf8_lossy(&result.payload)
        )
    })
}

fn tail(result: &InvocationResult) -> String {
    String::from_utf8_lossy(result.log_tail.as_deref().expect("log tail")).into_owned()
}

fn assert_ok(result: &InvocationResult) {
    assert_eq!(
        result.function_error,
        None,
        "{} / {}",
        String::from_utf8_lossy(&result.payload),
        tail(result)
    );
}

const PY_ENV: &str = r#"
import os, json
def handler(event, context):
    try:
        open("probe", "w")
        writable = True
    except OSError:
        writable = False
    return {
        "event": event,
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "task_root_writable": writable,
        "modes": [oct(os.stat(".").st_mode & 0o777), oct(os.stat("app.py").st_mode & 0o777)],
        "uid": os.getuid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "arn": context.invoked_function_arn,
        "remaining": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
    }
"#;

#[tokio::test]
async fn python_gets_only_lambdas_environment_in_its_read_only_code_dir() {
    // The test process's environment (HOME, CARGO_*, PATH...) is the server's: none of it may show.
    let f = fixture();
    let spec = f.spec("env-py", "python3.12", "app.handler", &[("app.py", PY_ENV)]);
    let result = f.invoke(&spec, json!({"k": [1, 2]})).await;
    assert_ok(&result);
    let out = body(&result);
    assert_eq!(out["event"], json!({"k": [1, 2]}));
    let mut env = out["env"].clone();
    let env = env.as_object_mut().expect("env");
    // Python sets it itself (PEP 538) where the C locale would otherwise be in effect.
    if env.get("LC_CTYPE").is_some_and(|v| v == "C.UTF-8") {
        env.remove("LC_CTYPE");
    }
    let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "AWS_ACCESS_KEY_ID",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_FUNCTION_NAME",
            "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE",
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_LAMBDA_RUNTIME_API",
            "AWS_REGION",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "LAMBDA_RUNTIME_DIR",
            "LAMBDA_TASK_ROOT",
            "LANG",
            "PATH",
            "PYTHONPATH",
            "STAGE",
            "TZ",
            "_HANDLER",
            "_X_AMZN_TRACE_ID",
        ],
        "{env:#?}"
    );
    assert_eq!(env["AWS_REGION"], "ap-northeast-1");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "env-py");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    assert_eq!(env["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
    assert_eq!(env["_HANDLER"], "app.handler");
    assert_eq!(env["AWS_ENDPOINT_URL"], ENDPOINT);
    assert_eq!(env["AWS_SESSION_TOKEN"], "token-env-py-0");
    assert_eq!(env["STAGE"], "test");
    assert!(
        env["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .expect("api")
            .starts_with("127.0.0.1:")
    );
    assert_eq!(out["cwd"], env["LAMBDA_TASK_ROOT"]);
    // Read-only and private by its modes; root (uid 0) writes through them, any other user
    // cannot.
    assert_eq!(out["modes"], json!(["0o500", "0o400"]));
    if out["uid"] != 0 {
        assert_eq!(out["task_root_writable"], false);
    }
    assert_eq!(out["function_name"], "env-py");
    assert_eq!(
        out["arn"],
        "arn:aws:lambda:ap-northeast-1:123456789012:function:env-py"
    );
    let remaining = out["remaining"].as_i64().expect("remaining");
    assert!(remaining > 2000 && remaining <= 3000, "{remaining}");
    let log = tail(&result);
    assert!(log.starts_with("START RequestId: "), "{log}");
    assert!(log.contains("\nEND RequestId: "), "{log}");
    assert!(
        log.contains("\nREPORT RequestId: ") && log.contains("\tInit Duration: "),
        "{log}"
    );
}

#[tokio::test]
async fn warm_instances_are_reused_and_retire_stops_them() {
    let f = fixture();
    let code = "import os\ncount = 0\ndef handler(e, c):\n    global count\n    count += 1\n    return [os.getpid(), count]\n";
    let spec = f.spec(
        "warm",
        "python3.11",
        "lambda_function.handler",
        &[("lambda_function.py", code)],
    );
    let first = body(&f.invoke(&spec, json!({})).await);
    let second = f.invoke(&spec, json!({})).await;
    assert!(!tail(&second).contains("Init Duration"), "{}", tail(&second));
    let second = body(&second);
    assert_eq!(first[0], second[0], "same process");
    assert_eq!(second[1], 2);
    assert_eq!(f.runner.live_instances(), 1);
    f.runner.retire(&spec.function_arn);
    assert_eq!(f.runner.live_instances(), 0);
    let third = body(&f.invoke(&spec, json!({})).await);
    assert_ne!(third[0], first[0], "a new process after retire");
    assert_eq!(third[1], 1);
}

#[tokio::test]
async fn node_handler_styles_and_context() {
    let f = fixture();
    let code = r#"
exports.asyncHandler = async (event, context) => ({ got: event, id: context.awsRequestId, fn: context.functionName,
  remaining: context.getRemainingTimeInMillis(), cwd: process.cwd(), root: process.env.LAMBDA_TASK_ROOT });
exports.callbackHandler = (event, context, callback) => { setTimeout(() => callback(null, { style: "callback" }), 5); };
exports.succeedHandler = (event, context) => { context.succeed({ style: "succeed" }); };
exports.undefinedHandler = async () => undefined;
exports.nested = { deeper: async () => "nested" };
"#;
    // Each handler is another configuration: another revision.
    let spec = |h: &str| {
        let mut spec = f.spec("node-styles", "nodejs20.x", h, &[("index.js", code)]);
        spec.revision_id = h.to_owned();
        spec
    };
    let r = f.invoke(&spec("index.asyncHandler"), json!({"a": 1})).await;
    assert_ok(&r);
    let out = body(&r);
    assert_eq!(out["got"], json!({"a": 1}));
    assert_eq!(out["fn"], "node-styles");
    assert_eq!(out["cwd"], out["root"]);
    assert!(out["id"].as_str().is_some_and(|id| id.len() == 36));
    assert_eq!(
        body(&f.invoke(&spec("index.callbackHandler"), json!({})).await),
        json!({"style": "callback"})
    );
    assert_eq!(
        body(&f.invoke(&spec("index.succeedHandler"), json!({})).await),
        json!({"style": "succeed"})
    );
    assert_eq!(
        body(&f.invoke(&spec("index.undefinedHandler"), json!({})).await),
        Value::Null
    );
    assert_eq!(
        body(&f.invoke(&spec("index.nested.deeper"), json!({})).await),
        json!("nested")
    );
}

#[tokio::test]
async fn handler_errors_have_each_runtimes_shape() {
    let f = fixture();
    let py = f.spec(
        "err-py",
        "python3.12",
        "f.h",
        &[("f.py", "def h(e, c):\n    raise ValueError('bad value')\n")],
    );
    let r = f.invoke(&py, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = body(&r);
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad value");
    assert!(
        doc["stackTrace"][0].as_str().expect("trace").contains("f.py"),
        "{doc}"
    );
    assert!(tail(&r).contains("[ERROR] ValueError: bad value"), "{}", tail(&r));
    // The instance survives a handled error.
    assert_eq!(f.runner.live_instances(), 1);

    let node = f.spec(
        "err-node",
        "nodejs18.x",
        "index.handler",
        &[(
            "index.js",
            "exports.handler = async () => { throw new TypeError('nope'); };",
        )],
    );
    let r = f.invoke(&node, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = body(&r);
    assert_eq!(doc["errorType"], "TypeError");
    assert_eq!(doc["errorMessage"], "nope");
    assert_eq!(doc["trace"][0], "TypeError: nope");
}

#[tokio::test]
async fn timeout_kills_the_process_group() {
    let f = fixture();
    let code = "import subprocess, time\ndef h(e, c):\n    p = subprocess.Popen(['sleep', '60'])\n    print('child', p.pid, flush=True)\n    time.sleep(30)\n";
    let mut spec = f.spec("slow", "python3.12", "slow.h", &[("slow.py", code)]);
    spec.timeout = Duration::from_secs(1);
    let started = std::time::Instant::now();
    let r = f.invoke(&spec, json!({})).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = body(&r);
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    let message = doc["errorMessage"].as_str().expect("message");
    assert!(
        message.starts_with("RequestId: ") && message.ends_with(" Error: Task timed out after 1.00 seconds"),
        "{message}"
    );
    let log = tail(&r);
    assert!(log.contains("Task timed out after 1.00 seconds"), "{log}");
    let child: i32 = log
        .lines()
        .find_map(|l| l.strip_prefix("child "))
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no child pid in {log}"));
    // The function's own child was killed with it.
    let mut gone = false;
    for _ in 0..50 {
        let state = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        if state.is_empty() || state.split(' ').nth(2) == Some("Z") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "process {child} still runs");
    assert_eq!(f.runner.live_instances(), 0);
}

#[tokio::test]
async fn crashes_are_runtime_exit_errors() {
    let f = fixture();
    let py = f.spec(
        "crash-py",
        "python3.12",
        "c.h",
        &[("c.py", "import os\ndef h(e, c):\n    os._exit(3)\n")],
    );
    let r = f.invoke(&py, json!({})).await;
    let doc = body(&r);
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    assert!(
        doc["errorMessage"]
            .as_str()
            .expect("m")
            .ends_with("Error: Runtime exited with error: exit status 3"),
        "{doc}"
    );
    let node = f.spec("crash-node", "nodejs20.x", "index.handler", &[("index.js", "exports.handler = async () => { process.kill(process.pid, 'SIGKILL'); await new Promise(() => {}); };")]);
    let doc = body(&f.invoke(&node, json!({})).await);
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    assert!(
        doc["errorMessage"]
            .as_str()
            .expect("m")
            .ends_with("Runtime exited with error: signal: killed"),
        "{doc}"
    );
    assert_eq!(f.runner.live_instances(), 0);
}

#[tokio::test]
async fn init_errors_have_each_runtimes_shape() {
    let f = fixture();
    let py = f.spec(
        "init-py",
        "python3.12",
        "app.handler",
        &[("app.py", "import not_a_module\n")],
    );
    let r = f.invoke(&py, json!({})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&r),
        json!({"errorMessage": "Unable to import module 'app': No module named 'not_a_module'",
               "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []})
    );
    let missing = f.spec("init-py2", "python3.12", "app.nothing", &[("app.py", "x = 1\n")]);
    assert_eq!(
        body(&f.invoke(&missing, json!({})).await)["errorType"],
        "Runtime.HandlerNotFound"
    );
    let node = f.spec(
        "init-node",
        "nodejs20.x",
        "index.handler",
        &[("index.js", "exports.other = 1;")],
    );
    let doc = body(&f.invoke(&node, json!({})).await);
    assert_eq!(doc["errorType"], "Runtime.HandlerNotFound");
    assert_eq!(doc["errorMessage"], "index.handler is undefined or not exported");
    let node = f.spec(
        "init-node2",
        "nodejs20.x",
        "index.handler",
        &[("index.js", "require('left-pad');")],
    );
    let doc = body(&f.invoke(&node, json!({})).await);
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError");
    assert!(
        doc["errorMessage"]
            .as_str()
            .expect("m")
            .starts_with("Error: Cannot find module 'left-pad'"),
        "{doc}"
    );
    assert_eq!(f.runner.live_instances(), 0);
}

#[tokio::test]
async fn oversize_responses_fail_and_the_instance_lives_on() {
    let f = fixture();
    let code = "def h(e, c):\n    return 'x' * e['n']\n";
    let spec = f.spec("big", "python3.12", "b.h", &[("b.py", code)]);
    let r = f.invoke(&spec, json!({"n": 6_291_556 - 2})).await;
    assert_ok(&r);
    assert_eq!(r.payload.len(), 6_291_556);
    let r = f.invoke(&spec, json!({"n": 6_291_556 - 1})).await;
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        body(&r),
        json!({"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
               "errorType": "Function.ResponseSizeTooLarge"})
    );
    assert_ok(&f.invoke(&spec, json!({"n": 1})).await);
    assert_eq!(f.runner.live_instances(), 1);
}

#[tokio::test]
async fn log_tail_is_the_last_4_kb_with_lambdas_lines() {
    let f = fixture();
    let code = "exports.handler = async () => { for (let i = 0; i < 500; i++) console.log('line', i); process.stderr.write('to stderr\\n'); return 1; };";
    let spec = f.spec("logs", "nodejs20.x", "index.handler", &[("index.js", code)]);
    let r = f.invoke(&spec, json!({})).await;
    let log = tail(&r);
    assert_eq!(r.log_tail.as_ref().map(Vec::len), Some(4096));
    assert!(log.contains("\tINFO\tline 499\n"), "{log}");
    assert!(log.contains("to stderr\nEND RequestId: "), "{log}");
    assert!(
        log.trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("REPORT RequestId: ")),
        "{log}"
    );
    assert!(!log.contains("kinko-end"), "{log}");
    // No tail unless asked for.
    let invocation = Invocation {
        request_id: "r-2".into(),
        payload: b"{}".to_vec(),
        client_context: None,
        tail_logs: false,
    };
    assert_eq!(
        f.runner.invoke(&spec, invocation).await.expect("invoke").log_tail,
        None
    );
}

#[tokio::test]
async fn concurrency_limit_and_idle_stop() {
    let f = fixture_with(
        |c| {
            c.max_instances = 1;
            c.idle_timeout = Duration::from_millis(300);
        },
        Duration::from_secs(3600),
    );
    let spec = f.spec(
        "busy",
        "python3.12",
        "s.h",
        &[(
            "s.py",
            "import time\ndef h(e, c):\n    time.sleep(e['s'])\n    return 'done'\n",
        )],
    );
    let (a, b) = tokio::join!(f.try_invoke(&spec, json!({"s": 0.5})), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        f.try_invoke(&spec, json!({"s": 0})).await
    });
    assert_eq!(body(&a.expect("first")), json!("done"));
    assert_eq!(b.expect_err("second").to_string(), "Rate Exceeded.");
    assert_eq!(body(&f.invoke(&spec, json!({"s": 0})).await), json!("done"));
    // Another function evicts the idle one rather than being refused.
    let other = f.spec(
        "other",
        "python3.12",
        "s.h",
        &[("s.py", "def h(e, c):\n    return 'other'\n")],
    );
    assert_eq!(body(&f.invoke(&other, json!({})).await), json!("other"));
    assert_eq!(f.runner.live_instances(), 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(f.runner.live_instances(), 0, "idle instances stopped");
}

#[tokio::test]
async fn instances_are_replaced_before_their_credentials_expire() {
    // Credentials valid for 30 s cannot outlive a 3 s invocation plus the one-minute margin: every
    // invocation gets a fresh instance with fresh credentials.
    let f = fixture_with(|_| {}, Duration::from_secs(30));
    let spec = f.spec(
        "creds",
        "python3.12",
        "k.h",
        &[(
            "k.py",
            "import os\ndef h(e, c):\n    return [os.getpid(), os.environ['AWS_ACCESS_KEY_ID']]\n",
        )],
    );
    let first = body(&f.invoke(&spec, json!({})).await);
    let second = body(&f.invoke(&spec, json!({})).await);
    assert_ne!(first[0], second[0]);
    assert_ne!(first[1], second[1]);
    assert_eq!(f.host.credentials_calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn python_memory_is_limited() {
    let f = fixture();
    let code = "def h(e, c):\n    try:\n        b = bytearray(200 * 1024 * 1024)\n        return 'allocated'\n    except MemoryError:\n        return 'MemoryError'\n";
    let spec = f.spec("mem", "python3.12", "m.h", &[("m.py", code)]);
    assert_eq!(body(&f.invoke(&spec, json!({})).await), json!("MemoryError"));
    let mut bigger = spec.clone();
    bigger.memory_mb = 512;
    bigger.revision_id = "r2".into();
    assert_eq!(body(&f.invoke(&bigger, json!({})).await), json!("allocated"));
}

#[tokio::test]
async fn unsafe_packages_are_refused() {
    let f = fixture();
    let spec = f.spec(
        "slip",
        "python3.12",
        "a.h",
        &[("a.py", "def h(e, c): return 1\n"), ("../escaped.py", "x")],
    );
    let err = f.try_invoke(&spec, json!({})).await.expect_err("refused");
    assert!(
        matches!(err, RunError::Service(ref m) if m.contains("unsafe entry path")),
        "{err:?}"
    );
    let spec = f.spec_zip("notzip", "python3.12", "a.h", b"not a zip".to_vec());
    assert!(matches!(
        f.try_invoke(&spec, json!({})).await,
        Err(RunError::Service(_))
    ));
    assert_eq!(f.runner.live_instances(), 0);
    let spec = f.spec("java", "java17", "a.h", &[("a.py", "")]);
    assert!(matches!(
        f.try_invoke(&spec, json!({})).await,
        Err(RunError::Service(_))
    ));
}

#[tokio::test]
async fn the_runtimes_sdks_are_there_and_point_at_kinko() {
    let f = fixture();
    let py = "import boto3\ndef h(e, c):\n    sm = boto3.client('secretsmanager')\n    creds = boto3.Session().get_credentials()\n    return [sm.meta.endpoint_url, sm.meta.region_name, creds.access_key, creds.token]\n";
    let spec = f.spec("sdk-py", "python3.12", "p.h", &[("p.py", py)]);
    let out = body(&f.invoke(&spec, json!({})).await);
    assert_eq!(
        out,
        json!([
            ENDPOINT,
            "ap-northeast-1",
            "ASIATEST000000000000",
            "token-sdk-py-0"
        ])
    );

    // The guide's style: aws-sdk v2 with an explicit region and no endpoint.
    let v2 = "const AWS = require('aws-sdk');\nexports.handler = async () => { const sm = new AWS.SecretsManager({ region: 'ap-northeast-1' }); const creds = await new Promise((ok, ko) => AWS.config.getCredentials((e) => e ? ko(e) : ok(AWS.config.credentials))); return [sm.endpoint.href, AWS.VERSION, creds.accessKeyId]; };";
    let spec = f.spec("sdk-v2", "nodejs12.x", "index.handler", &[("index.js", v2)]);
    let r = f.invoke(&spec, json!({})).await;
    assert_ok(&r);
    assert_eq!(
        body(&r),
        json!([format!("{ENDPOINT}/"), "2.1693.0", "ASIATEST000000000001"])
    );

    // Where a v3 client sends its request, caught before it leaves.
    let v3 = "const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');\nexports.handler = async () => { const c = new SecretsManagerClient({}); c.middlewareStack.add(() => async (args) => { const r = args.request; const e = new Error('caught'); e.url = r.protocol + '//' + r.hostname + ':' + r.port; throw e; }, { step: 'finalizeRequest' }); try { await c.send(new GetSecretValueCommand({ SecretId: 's' })); } catch (e) { return [e.url, await c.config.region()]; } };";
    let spec = f.spec("sdk-v3", "nodejs20.x", "index.handler", &[("index.js", v3)]);
    let r = f.invoke(&spec, json!({})).await;
    assert_ok(&r);
    assert_eq!(body(&r), json!(["http://127.0.0.1:59999", "ap-northeast-1"]));
    // v2 is not on a v3 runtime's path, as in Lambda.
    let spec = f.spec("sdk-v2-on-v3", "nodejs20.x", "index.handler", &[("index.js", v2)]);
    assert_eq!(
        body(&f.invoke(&spec, json!({})).await)["errorType"],
        "Runtime.ImportModuleError"
    );
}

#[tokio::test]
async fn client_context_reaches_the_function_decoded() {
    let f = fixture();
    let spec = f.spec("ctx", "python3.12", "x.h", &[("x.py", "def h(e, c):\n    return [c.client_context.custom, c.client_context.env, c.client_context.client]\n")]);
    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let invocation = Invocation {
        request_id: "11111111-2222-3333-4444-555555555555".into(),
        payload: b"null".to_vec(),
        client_context: Some(context),
        tail_logs: false,
    };
    let r = f.runner.invoke(&spec, invocation).await.expect("invoke");
    assert_eq!(body(&r), json!([{"k": "v"}, null, null]));
}
