# kinko's bootstrap for python3.x functions: speaks the Lambda Runtime API at
# AWS_LAMBDA_RUNTIME_API, loads the handler named by _HANDLER from LAMBDA_TASK_ROOT and runs it once
# per invocation. Error documents have the shape of AWS's Python runtime.
import http.client
import importlib
import json
import os
import resource
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
PREFIX = "/2018-06-01/runtime"
# Written to stdout after each invocation's output, before its result: the runner cuts the log there.
MARKER = "\x00kinko-end:{}\x00\n"


def limit_memory():
    # RLIMIT_DATA (heap and private writable mappings), not RLIMIT_AS: reserved but unused address
    # space does not count, and a function fails with MemoryError rather than being killed.
    try:
        size = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0")) * 1024 * 1024
    except ValueError:
        size = 0
    if size > 0:
        resource.setrlimit(resource.RLIMIT_DATA, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Client:
    def __init__(self):
        host, _, port = API.rpartition(":")
        self.conn = http.client.HTTPConnection(host, int(port))

    def call(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            try:
                self.conn.request(method, PREFIX + path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                return response, data
            except (ConnectionError, http.client.HTTPException):
                # The runner went away (or closed an idle connection): try once on a new one.
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")


def error_doc(exc_type, message, stack=None):
    return {"errorMessage": message, "errorType": exc_type, "requestId": "", "stackTrace": stack or []}


def exception_doc(exc):
    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
    return error_doc(type(exc).__name__, str(exc), stack)


def log_error(doc):
    sys.stdout.write("[ERROR] {}: {}\n".format(doc["errorType"], doc["errorMessage"]))
    sys.stdout.write("Traceback (most recent call last):\n{}".format("".join(doc["stackTrace"])))


def end_marker(request_id):
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, MARKER.format(request_id).encode())


def load_handler(spec):
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        return error_doc("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(spec, e)), None
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            return error_doc(
                "Runtime.BuiltInModuleConflict",
                "Cannot use built-in module {} as a handler module".format(modname),
            ), None
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        return error_doc(
            "Runtime.ImportModuleError", "Unable to import module '{}': {}".format(modname, e)
        ), None
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        return error_doc(
            "Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(modname, e), trace
        ), None
    except Exception as e:  # an exception raised while the module initializes
        return exception_doc(e), None
    handler = getattr(module, fname, None)
    if handler is None:
        return error_doc(
            "Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(fname, modname)
        ), None
    return None, handler


class ClientContext:
    def __init__(self, data):
        self.custom = data.get("custom")
        self.env = data.get("env")
        client = data.get("client")
        if client is None:
            self.client = None
        else:
            self.client = MobileClient(client)


class MobileClient:
    def __init__(self, data):
        self.installation_id = data.get("installation_id")
        self.app_title = data.get("app_title")
        self.app_version_name = data.get("app_version_name")
        self.app_version_code = data.get("app_version_code")
        self.app_package_name = data.get("app_package_name")


class Context:
    def __init__(self, request_id, headers):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        self.identity = None
        client_context = headers.get("Lambda-Runtime-Client-Context")
        self.client_context = ClientContext(json.loads(client_context)) if client_context else None

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def main():
    limit_memory()
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    sys.path.insert(0, task_root)
    client = Client()
    failure, handler = load_handler(os.environ["_HANDLER"])
    if failure is not None:
        log_error(failure)
        end_marker("init")
        client.call("POST", "/init/error", json.dumps(failure).encode(),
                    {"Lambda-Runtime-Function-Error-Type": failure["errorType"]})
        sys.exit(1)
    while True:
        response, body = client.call("GET", "/invocation/next")
        if response.status != 200:
            sys.exit(1)
        request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
        trace_id = response.getheader("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = Context(request_id, response.headers)
        try:
            event = json.loads(body) if body else None
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except Exception as e:
                doc = error_doc("Runtime.MarshalError", "Unable to marshal response: {}".format(e))
                log_error(doc)
                end_marker(request_id)
                post_error(client, request_id, doc)
                continue
            end_marker(request_id)
            client.call("POST", "/invocation/{}/response".format(request_id), payload)
        except Exception as e:
            doc = exception_doc(e)
            doc["requestId"] = request_id
            log_error(doc)
            end_marker(request_id)
            post_error(client, request_id, doc)


def post_error(client, request_id, doc):
    client.call("POST", "/invocation/{}/error".format(request_id), json.dumps(doc).encode(),
                {"Lambda-Runtime-Function-Error-Type": doc["errorType"]})


if __name__ == "__main__":
    main()
