// kinko's bootstrap for nodejs* functions: speaks the Lambda Runtime API at AWS_LAMBDA_RUNTIME_API,
// loads the handler named by _HANDLER from LAMBDA_TASK_ROOT and runs it once per invocation (async,
// promise, callback and context.done/succeed/fail styles). Error documents have the shape of AWS's
// Node.js runtime.
"use strict";

const http = require("http");
const path = require("path");
const fs = require("fs");
const util = require("util");
const Module = require("module");

const [HOST, PORT] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const PREFIX = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// The AWS SDK for JavaScript v2 does not read AWS_ENDPOINT_URL: when a function loads it (from the
// runtime's copy or its own bundle), point its global configuration at kinko's endpoint.
const endpoint = process.env.AWS_ENDPOINT_URL;
if (endpoint) {
  const load = Module._load;
  let configured = false;
  Module._load = function (request, parent, isMain) {
    const loaded = load.apply(this, arguments);
    if (!configured && (request === "aws-sdk" || request.startsWith("aws-sdk/"))) {
      configured = true;
      try {
        const core = load.call(this, "aws-sdk/lib/core", parent, false);
        core.config.update({ endpoint });
      } catch (e) {
        configured = false;
      }
    }
    return loaded;
  };
}

let requestId = "";
function logLine(level, args) {
  const message = util.format.apply(util, args).replace(/\n/g, "\r");
  process.stdout.write(`${new Date().toISOString()}\t${requestId || "undefined"}\t${level}\t${message}\n`);
}
console.log = (...a) => logLine("INFO", a);
console.info = (...a) => logLine("INFO", a);
console.warn = (...a) => logLine("WARN", a);
console.error = (...a) => logLine("ERROR", a);
console.debug = (...a) => logLine("DEBUG", a);
console.trace = (...a) => logLine("TRACE", a);

function call(method, p, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: PREFIX + p, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ res, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

function errorDoc(err) {
  if (err instanceof Error) {
    const trace = typeof err.stack === "string" ? err.stack.split("\n") : [];
    return { errorType: err.name, errorMessage: err.message, trace };
  }
  let message;
  try {
    message = typeof err === "string" ? err : JSON.stringify(err);
  } catch (e) {
    message = String(err);
  }
  return { errorType: typeof err === "string" ? "string" : typeof err, errorMessage: message, trace: [] };
}

function namedError(type, message) {
  const e = new Error(message);
  e.name = type;
  return e;
}

function endMarker(id) {
  process.stdout.write(`\0kinko-end:${id}\0\n`);
}

async function loadHandler(handlerString) {
  const taskRoot = process.env.LAMBDA_TASK_ROOT;
  const match = /^([^.]*)\.(.*)$/.exec(path.basename(handlerString));
  if (!match) throw namedError("Runtime.MalformedHandlerName", "Bad handler");
  const modulePath = path.join(taskRoot, path.dirname(handlerString), match[1]);
  let module;
  const candidates = [".js", ".mjs", ".cjs"].map((ext) => modulePath + ext);
  const found = candidates.find((file) => fs.existsSync(file));
  try {
    if (found && found.endsWith(".mjs")) {
      module = await import(found);
    } else {
      try {
        module = require(found || modulePath);
      } catch (e) {
        if (e && e.code === "ERR_REQUIRE_ESM") module = await import(found);
        else throw e;
      }
    }
  } catch (e) {
    if (e && e.code === "MODULE_NOT_FOUND") {
      throw namedError("Runtime.ImportModuleError", `Error: ${e.message}`);
    }
    if (e instanceof SyntaxError) {
      throw namedError("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`);
    }
    throw e;
  }
  let handler = module;
  for (const part of match[2].split(".")) {
    handler = handler == null ? undefined : handler[part];
  }
  if (handler === undefined) {
    throw namedError("Runtime.HandlerNotFound", `${path.basename(handlerString)} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw namedError("Runtime.HandlerNotFound", `${path.basename(handlerString)} is not a function`);
  }
  return handler;
}

function runHandler(handler, event, context) {
  return new Promise((resolve) => {
    let settled = false;
    const done = (err, result) => {
      if (settled) return;
      settled = true;
      resolve({ err, result });
    };
    context.done = (err, result) => done(err == null ? null : err, result);
    context.succeed = (result) => done(null, result);
    context.fail = (err) => done(err == null ? "handled" : err, undefined);
    try {
      const ret = handler(event, context, (err, result) => done(err == null ? null : err, result));
      if (ret && typeof ret.then === "function") {
        ret.then((result) => done(null, result), (err) => done(err == null ? "null" : err));
      }
    } catch (err) {
      done(err);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER);
  } catch (err) {
    const doc = errorDoc(err);
    console.error(`${doc.errorType}: ${doc.errorMessage}`);
    endMarker("init");
    await call("POST", "/init/error", JSON.stringify(doc), {
      "Lambda-Runtime-Function-Error-Type": doc.errorType,
    });
    process.exit(1);
  }
  for (;;) {
    const { res, body } = await call("GET", "/invocation/next");
    if (res.statusCode !== 200) process.exit(1);
    const h = res.headers;
    requestId = h["lambda-runtime-aws-request-id"];
    if (h["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    const deadline = Number(h["lambda-runtime-deadline-ms"]);
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: requestId,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      identity: undefined,
      clientContext: h["lambda-runtime-client-context"]
        ? JSON.parse(h["lambda-runtime-client-context"])
        : undefined,
      getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    };
    let outcome;
    try {
      outcome = await runHandler(handler, JSON.parse(body.toString("utf8") || "null"), context);
    } catch (err) {
      outcome = { err };
    }
    const id = requestId;
    if (outcome.err != null) {
      const doc = errorDoc(outcome.err);
      console.error(`Invoke Error \t${JSON.stringify(doc)}`);
      endMarker(id);
      await call("POST", `/invocation/${id}/error`, JSON.stringify(doc), {
        "Lambda-Runtime-Function-Error-Type": doc.errorType,
      });
      continue;
    }
    let payload;
    try {
      payload = JSON.stringify(outcome.result === undefined ? null : outcome.result);
    } catch (err) {
      const doc = { errorType: "Runtime.MarshalError", errorMessage: `Unable to stringify response body`, trace: [] };
      endMarker(id);
      await call("POST", `/invocation/${id}/error`, JSON.stringify(doc), {
        "Lambda-Runtime-Function-Error-Type": doc.errorType,
      });
      continue;
    }
    endMarker(id);
    await call("POST", `/invocation/${id}/response`, payload);
  }
}

process.on("unhandledRejection", (reason) => {
  const doc = errorDoc(reason);
  console.error(`Unhandled Promise Rejection \t${JSON.stringify(doc)}`);
  process.exit(128);
});

main().catch((err) => {
  process.stdout.write(`kinko bootstrap: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
