//! One function instance: an interpreter process running kinko's bootstrap, and the Lambda Runtime
//! API it talks to, served on its own 127.0.0.1 port.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kinko_core::Timestamp;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;

/// Lambda's limit on a synchronous invocation's response payload.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;
/// The log kept per invocation: what `LogType: Tail` returns.
pub const LOG_TAIL_BYTES: usize = 4096;

const PREFIX: &str = "/2018-06-01/runtime/";
const MARKER_START: &[u8] = b"\0kinko-end:";
const MARKER_END: &[u8] = b"\0\n";
/// Request ids are UUIDs; anything longer after a marker start is output, not a marker.
const MARKER_MAX_ID: usize = 64;

/// What a started process needs.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub invoked_function_arn: String,
}

/// One invocation handed to the runtime.
struct Delivery {
    request_id: String,
    payload: Bytes,
    deadline_ms: i64,
    client_context: Option<String>,
    trace_id: String,
}

/// What happens in an instance, in the order it happens.
#[derive(Debug)]
enum Event {
    /// The runtime asked for the next invocation (the first time: its init is done).
    Next,
    InitError(Bytes),
    Response {
        id: String,
        body: Bytes,
    },
    Oversize {
        id: String,
    },
    Error {
        id: String,
        body: Bytes,
        error_type: Option<String>,
    },
    /// The output the process wrote before the end marker of `id` (`init` for an init error).
    LogEnd {
        id: String,
        output: Vec<u8>,
    },
    /// The output pipe closed (the process and its children are gone): the rest of the output.
    LogEof {
        output: Vec<u8>,
    },
    Exited(String),
}

struct ApiState {
    deliveries: Mutex<mpsc::Receiver<Delivery>>,
    events: mpsc::UnboundedSender<Event>,
    /// The request id being run, for validating `/response` and `/error`.
    current: std::sync::Mutex<Option<String>>,
    invoked_function_arn: String,
}

/// How an invocation ended.
pub enum Outcome {
    Response(Bytes),
    /// A function error: the error document (payload), and whether the instance can be reused.
    Failed {
        document: Bytes,
        reusable: bool,
    },
}

/// The result of [`Instance::invoke`]: what to return, and the invocation's log.
pub struct Finished {
    pub outcome: Outcome,
    pub log: Vec<u8>,
}

pub struct Instance {
    pgid: Option<i32>,
    deliveries: mpsc::Sender<Delivery>,
    events: mpsc::UnboundedReceiver<Event>,
    tasks: Vec<JoinHandle<()>>,
    started: Instant,
    ready: bool,
    dead: bool,
    /// Output written before the first invocation, and what the first REPORT line says of init.
    init_duration: Option<Duration>,
    pending_output: Vec<u8>,
    exited: Arc<AtomicBool>,
    pub credentials_expire: Timestamp,
}

impl Instance {
    /// Starts the process and the Runtime API it talks to.
    pub async fn start(mut launch: Launch, credentials_expire: Timestamp) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        launch
            .env
            .insert("AWS_LAMBDA_RUNTIME_API".into(), format!("127.0.0.1:{port}"));
        let (deliveries_tx, deliveries_rx) = mpsc::channel(1);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let state = Arc::new(ApiState {
            deliveries: Mutex::new(deliveries_rx),
            events: events_tx.clone(),
            current: std::sync::Mutex::new(None),
            invoked_function_arn: launch.invoked_function_arn.clone(),
        });

        let (sender, receiver) = tokio::net::unix::pipe::pipe()?;
        let out = sender.into_blocking_fd()?;
        let err = out.try_clone()?;
        let mut command = tokio::process::Command::new(&launch.program);
        command
            .args(&launch.args)
            .env_clear()
            .envs(&launch.env)
            .current_dir(&launch.cwd)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::from(out))
            .stderr(std::process::Stdio::from(err))
            // A process group of its own: a timeout kills the function and whatever it started.
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn()?;
        drop(command);
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());

        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(serve(listener, state)));
        tasks.push(tokio::spawn(read_output(receiver, events_tx.clone())));
        let exited = Arc::new(AtomicBool::new(false));
        let exited_flag = exited.clone();
        tasks.push(tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => describe_exit(status),
                Err(e) => format!("wait failed: {e}"),
            };
            exited_flag.store(true, Ordering::SeqCst);
            let _ = events_tx.send(Event::Exited(status));
        }));

        Ok(Instance {
            pgid,
            deliveries: deliveries_tx,
            events: events_rx,
            tasks,
            started,
            ready: false,
            dead: false,
            init_duration: None,
            pending_output: Vec::new(),
            exited,
            credentials_expire,
        })
    }

    /// Whether the instance can take another invocation.
    pub fn alive(&self) -> bool {
        !self.dead && !self.exited.load(Ordering::SeqCst)
    }

    /// Runs one invocation. `timeout` bounds the handler; a new instance's start is bounded by
    /// `init_limit` too.
    pub async fn invoke(
        &mut self,
        request_id: &str,
        payload: Bytes,
        client_context: Option<String>,
        timeout: Duration,
        init_limit: Duration,
    ) -> Finished {
        let mut output = std::mem::take(&mut self.pending_output);
        if !self.ready {
            let limit = tokio::time::sleep(init_limit);
            tokio::pin!(limit);
            loop {
                tokio::select! {
                    event = self.events.recv() => match event {
                        Some(Event::Next) => {
                            self.ready = true;
                            self.init_duration = Some(self.started.elapsed());
                            break;
                        }
                        Some(Event::LogEnd { output: o, .. }) => append(&mut output, &o),
                        Some(Event::LogEof { output: o }) => append(&mut output, &o),
                        Some(Event::InitError(document)) => {
                            self.dead = true;
                            self.kill();
                            self.drain_log(&mut output, None).await;
                            return Finished {
                                outcome: Outcome::Failed { document, reusable: false },
                                log: output,
                            };
                        }
                        Some(Event::Exited(status)) => return self.exited(request_id, &status, output).await,
                        Some(_) => {}
                        None => break,
                    },
                    () = &mut limit => {
                        self.dead = true;
                        self.kill();
                        self.drain_log(&mut output, None).await;
                        return timed_out(request_id, init_limit, output);
                    }
                }
            }
        }

        let deadline = Instant::now() + timeout;
        let deadline_ms = now_millis() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let delivery = Delivery {
            request_id: request_id.to_owned(),
            payload,
            deadline_ms,
            client_context,
            trace_id: trace_id(),
        };
        if self.deliveries.send(delivery).await.is_err() {
            self.dead = true;
            return Finished {
                outcome: Outcome::Failed {
                    document: exit_error(request_id, "runtime API closed"),
                    reusable: false,
                },
                log: output,
            };
        }
        let mut log_done = false;
        let outcome = loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(Event::Response { id, body }) if id == request_id => break Outcome::Response(body),
                    Some(Event::Error { id, body, error_type }) if id == request_id => {
                        break Outcome::Failed { document: error_document(body, error_type), reusable: true };
                    }
                    Some(Event::Oversize { id }) if id == request_id => {
                        break Outcome::Failed { document: oversize_error(), reusable: true };
                    }
                    Some(Event::LogEnd { id, output: o }) => {
                        append(&mut output, &o);
                        log_done |= id == request_id;
                    }
                    Some(Event::LogEof { output: o }) => {
                        append(&mut output, &o);
                        log_done = true;
                    }
                    Some(Event::Exited(status)) => return self.exited(request_id, &status, output).await,
                    Some(Event::InitError(_)) => {
                        // A runtime may only report init errors before its first `/next`.
                        self.dead = true;
                        self.kill();
                    }
                    Some(_) => {}
                    None => {
                        self.dead = true;
                        break Outcome::Failed {
                            document: exit_error(request_id, "runtime API closed"),
                            reusable: false,
                        };
                    }
                },
                () = tokio::time::sleep_until(deadline.into()) => {
                    self.dead = true;
                    self.kill();
                    self.drain_log(&mut output, None).await;
                    return timed_out(request_id, timeout, output);
                }
            }
        };
        if !log_done {
            self.drain_log(&mut output, Some(request_id)).await;
        }
        let reusable = matches!(
            outcome,
            Outcome::Response(_) | Outcome::Failed { reusable: true, .. }
        );
        if !reusable {
            self.dead = true;
        }
        Finished { outcome, log: output }
    }

    /// The process exited during an invocation (`Runtime.ExitError`).
    async fn exited(&mut self, request_id: &str, status: &str, mut output: Vec<u8>) -> Finished {
        self.dead = true;
        self.drain_log(&mut output, None).await;
        Finished {
            outcome: Outcome::Failed {
                document: exit_error(request_id, status),
                reusable: false,
            },
            log: output,
        }
    }

    /// Takes the time its first invocation spent starting the instance (once).
    pub fn take_init_duration(&mut self) -> Option<Duration> {
        self.init_duration.take()
    }

    /// Waits briefly for the output written before the end of `request_id` (or until the pipe
    /// closes, when `None`): the bootstrap writes the marker before posting its result, so it is
    /// normally there already.
    async fn drain_log(&mut self, output: &mut Vec<u8>, request_id: Option<&str>) {
        let limit = tokio::time::sleep(Duration::from_millis(250));
        tokio::pin!(limit);
        loop {
            tokio::select! {
                event = self.events.recv() => match event {
                    Some(Event::LogEnd { id, output: o }) => {
                        append(output, &o);
                        if request_id == Some(id.as_str()) {
                            return;
                        }
                    }
                    Some(Event::LogEof { output: o }) => {
                        append(output, &o);
                        return;
                    }
                    Some(Event::Exited(_)) => self.dead = true,
                    Some(_) => {}
                    None => return,
                },
                () = &mut limit => return,
            }
        }
    }

    /// Kills the process group (the interpreter and anything it started).
    fn kill(&self) {
        #[cfg(unix)]
        if let Some(pgid) = self.pgid {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// The peak resident memory of the interpreter, in MB (0 where the platform does not say).
    pub fn max_memory_mb(&self) -> u64 {
        let Some(pid) = self.pgid else { return 0 };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status.lines().find_map(|line| {
                    let rest = line.strip_prefix("VmHWM:")?;
                    rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok()
                })
            })
            .map_or(0, |kb| kb.div_ceil(1024))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if !self.exited.load(Ordering::SeqCst) {
            self.kill();
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn append(output: &mut Vec<u8>, more: &[u8]) {
    output.extend_from_slice(more);
    trim_front(output);
}

fn trim_front(output: &mut Vec<u8>) {
    if output.len() > LOG_TAIL_BYTES {
        output.drain(..output.len() - LOG_TAIL_BYTES);
    }
}

fn now_millis() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

fn trace_id() -> String {
    let secs = now_millis() / 1000;
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("Root=1-{secs:08x}-{};Sampled=0", &random[..24])
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            let name = match signal {
                9 => "killed".to_owned(),
                6 => "aborted".to_owned(),
                11 => "segmentation fault".to_owned(),
                15 => "terminated".to_owned(),
                n => format!("{n}"),
            };
            return format!("signal: {name}");
        }
    }
    format!("exit status {}", status.code().unwrap_or(-1))
}

fn json(value: serde_json::Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// `Runtime.ExitError`, as Lambda reports a runtime that exited during an invocation.
fn exit_error(request_id: &str, status: &str) -> Bytes {
    json(serde_json::json!({
        "errorType": "Runtime.ExitError",
        "errorMessage": format!("RequestId: {request_id} Error: Runtime exited with error: {status}"),
    }))
}

fn oversize_error() -> Bytes {
    json(serde_json::json!({
        "errorMessage": format!(
            "Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        ),
        "errorType": "Function.ResponseSizeTooLarge",
    }))
}

/// The timeout error: the process was killed.
fn timed_out(request_id: &str, timeout: Duration, mut output: Vec<u8>) -> Finished {
    let (document, line) = timeout_document(request_id, timeout);
    append(&mut output, &line);
    Finished {
        outcome: Outcome::Failed {
            document,
            reusable: false,
        },
        log: output,
    }
}

/// Lambda's `Sandbox.Timedout` document of an invocation that ran out of `timeout`, and the line
/// its log ends with.
pub(crate) fn timeout_document(request_id: &str, timeout: Duration) -> (Bytes, Vec<u8>) {
    let seconds = format!("{:.2}", timeout.as_secs_f64());
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let document = json(serde_json::json!({
        "errorType": "Sandbox.Timedout",
        "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {seconds} seconds"),
    }));
    let line = format!("{stamp} {request_id} Task timed out after {seconds} seconds\n").into_bytes();
    (document, line)
}

/// The error document a runtime posted, kept as it is when it is a JSON object (runtimes differ:
/// Python's has `stackTrace`, Node's `trace`); otherwise wrapped as Lambda wraps it.
fn error_document(body: Bytes, error_type: Option<String>) -> Bytes {
    if serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&body).is_ok() {
        return body;
    }
    json(serde_json::json!({
        "errorMessage": String::from_utf8_lossy(&body),
        "errorType": error_type.unwrap_or_else(|| "Runtime.Unknown".to_owned()),
    }))
}

/// Reads the process's output (stdout and stderr share one pipe, so their order is kept), cutting
/// it at the bootstrap's end markers.
async fn read_output(mut pipe: tokio::net::unix::pipe::Receiver, events: mpsc::UnboundedSender<Event>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut output: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        loop {
            match find(&pending, MARKER_START) {
                Some(start) => {
                    let after = start + MARKER_START.len();
                    match find(&pending[after..], MARKER_END) {
                        Some(len) if len <= MARKER_MAX_ID => {
                            append(&mut output, &pending[..start]);
                            let id = String::from_utf8_lossy(&pending[after..after + len]).into_owned();
                            pending.drain(..after + len + MARKER_END.len());
                            let _ = events.send(Event::LogEnd {
                                id,
                                output: std::mem::take(&mut output),
                            });
                        }
                        None if pending.len() - after <= MARKER_MAX_ID + MARKER_END.len() => {
                            // The rest of the marker has not arrived yet.
                            append(&mut output, &pending[..start]);
                            pending.drain(..start);
                            break;
                        }
                        _ => {
                            // Not a marker: output.
                            append(&mut output, &pending[..after]);
                            pending.drain(..after);
                        }
                    }
                }
                None => {
                    // Keep what could be the beginning of a marker.
                    let keep = (MARKER_START.len() - 1).min(pending.len());
                    let split = pending.len() - keep;
                    let tail_start = pending[split..]
                        .iter()
                        .position(|&b| b == 0)
                        .map_or(pending.len(), |p| split + p);
                    append(&mut output, &pending[..tail_start]);
                    pending.drain(..tail_start);
                    break;
                }
            }
        }
    }
    append(&mut output, &pending);
    let _ = events.send(Event::LogEof { output });
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Serves the Runtime API to the instance's process.
async fn serve(listener: TcpListener, state: Arc<ApiState>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, most likely: let the process finish what it has.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections.
        while connections.try_join_next().is_some() {}
    }
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn accepted() -> Response<Body> {
    reply(StatusCode::ACCEPTED, serde_json::json!({"status": "OK"}))
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> Response<Body> {
    reply(
        status,
        serde_json::json!({"errorMessage": message, "errorType": error_type}),
    )
}

async fn handle(state: &ApiState, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return runtime_error(StatusCode::NOT_FOUND, "InvalidRequest", "Not Found");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    match (request.method().clone(), segments.as_slice()) {
        (Method::GET, ["invocation", "next"]) => next(state).await,
        (Method::POST, ["invocation", id, kind @ ("response" | "error")]) => {
            let id = (*id).to_owned();
            let is_current =
                state.current.lock().unwrap_or_else(|e| e.into_inner()).as_deref() == Some(id.as_str());
            if !is_current {
                return runtime_error(StatusCode::BAD_REQUEST, "InvalidRequestID", "Invalid request ID");
            }
            let error_type = request
                .headers()
                .get("Lambda-Runtime-Function-Error-Type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = match Limited::new(request.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    *state.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    let _ = state.events.send(Event::Oversize { id });
                    return runtime_error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "RequestEntityTooLarge",
                        &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
                    );
                }
            };
            *state.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
            let event = if *kind == "response" {
                Event::Response { id, body }
            } else {
                Event::Error { id, body, error_type }
            };
            let _ = state.events.send(event);
            accepted()
        }
        (Method::POST, ["init", "error"]) => {
            let body = Limited::new(request.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let _ = state.events.send(Event::InitError(body));
            accepted()
        }
        _ => runtime_error(StatusCode::NOT_FOUND, "InvalidRequest", "Not Found"),
    }
}

async fn next(state: &ApiState) -> Response<Body> {
    let _ = state.events.send(Event::Next);
    let delivery = state.deliveries.lock().await.recv().await;
    let Some(delivery) = delivery else {
        return runtime_error(StatusCode::GONE, "InstanceStopped", "The instance is stopping");
    };
    *state.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(delivery.request_id.clone());
    let mut response = Response::new(Full::new(delivery.payload));
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set("Content-Type", "application/json");
    set("Lambda-Runtime-Aws-Request-Id", &delivery.request_id);
    set("Lambda-Runtime-Deadline-Ms", &delivery.deadline_ms.to_string());
    set("Lambda-Runtime-Invoked-Function-Arn", &state.invoked_function_arn);
    set("Lambda-Runtime-Trace-Id", &delivery.trace_id);
    // The Invoke API carries it base64-encoded; the runtime receives the JSON itself.
    if let Some(text) = delivery.client_context.as_deref().and_then(|context| {
        let decoded = base64::engine::general_purpose::STANDARD.decode(context).ok()?;
        String::from_utf8(decoded).ok()
    }) {
        set("Lambda-Runtime-Client-Context", &text);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_are_kept_or_wrapped() {
        let kept = error_document(
            Bytes::from_static(br#"{"errorMessage":"x","errorType":"Y"}"#),
            None,
        );
        assert_eq!(&kept[..], br#"{"errorMessage":"x","errorType":"Y"}"#);
        let wrapped = error_document(Bytes::from_static(b"boom"), Some("Custom".into()));
        let value: serde_json::Value = serde_json::from_slice(&wrapped).expect("json");
        assert_eq!(value["errorMessage"], "boom");
        assert_eq!(value["errorType"], "Custom");
    }

    #[tokio::test]
    async fn output_is_cut_at_markers_split_across_reads() {
        let (sender, receiver) = tokio::net::unix::pipe::pipe().expect("pipe");
        let (tx, mut rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_output(receiver, tx));
        sender.writable().await.expect("writable");
        sender.try_write(b"hello\n\0kinko-en").expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
        sender.try_write(b"d:abc\0\nafter\0x").expect("write");
        drop(sender);
        reader.await.expect("reader");
        match rx.recv().await {
            Some(Event::LogEnd { id, output }) => {
                assert_eq!(id, "abc");
                assert_eq!(output, b"hello\n");
            }
            other => panic!("unexpected {other:?}"),
        }
        match rx.recv().await {
            Some(Event::LogEof { output }) => assert_eq!(output, b"after\0x"),
            other => panic!("unexpected {other:?}"),
        }
    }
}
