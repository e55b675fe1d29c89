// The /run request: parsing and validation (SPEC §2–3) and what is sent into
// the sandbox. Runs in a worker; never lets client input reach an assert.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pyexec::protocol {

struct RequestLimits {
    size_t codeBytes = 100 * 1024;
    size_t stdinBytes = 1024 * 1024;
    size_t maxTests = 100;
    int defaultTimeoutMs = 2000;
    int maxTimeoutMs = 10000;
    size_t maxFiles = 20;               // `files` (SPEC §3.1)
    size_t filesBytes = 1024 * 1024;    // their contents in all
    size_t pytestModuleBytes = 100 * 1024;
};

enum class TestType {
    kOutput,
    kVariableExists,
    kVariableType,
    kVariableValue,
    kFunctionCallOutput,  // function_call with a string `expected` and no `function`
    kFunctionCall,        // function_call with `function`
    kListContains,
    kListLength,
    kPytest,              // a pytest test module, judged in the sandbox (SPEC §3.1)
};

struct TestSpec {
    TestType type = TestType::kOutput;
    std::string typeName;                    // as the client wrote it, echoed back
    std::optional<std::string> description;  // echoed back; null when absent
    std::string name;                        // variable name (name or variable)
    std::string function;                    // function_call: the global to call
    std::string expectedJson;                // `expected`, re-serialised JSON; never enters the sandbox
    std::string argsJson = "[]";             // function_call: positional args (JSON array)
    std::string kwargsJson = "{}";           // function_call: keyword args (JSON object)
    std::optional<double> tolerance;
    std::string module;                      // pytest: the test module's source
};

// One of the request's `files`: a workspace path (workspace.h) and its text.
struct WorkspaceFile {
    std::string path;
    std::string content;
};

struct RunRequest {
    std::string code;
    std::string stdinData;
    int timeoutMs = 2000;
    std::vector<TestSpec> tests;
    std::vector<WorkspaceFile> files;  // sorted by path
};

// Parses and validates a /run body. Errors: kInvalidJson (where parsing
// stopped), kInvalidRequest (missing/mistyped field, unknown test type listing
// the known ones, too many tests, bad timeoutMs, a bad path in `files`;
// `field` set, e.g. files["../x"]), kTooLarge (code, stdin or a pytest module
// over its limit, more files or file bytes than allowed).
Result<RunRequest> parseRunRequest(std::string_view body, const RequestLimits& limits);

// The request of `pyexecd run`: the program and its stdin as given, and the
// contents of its --tests file (nullopt without one), which holds either a
// JSON array of tests or an object {"tests": [...]}. Validated exactly as
// /run validates a body; errors as parseRunRequest's, plus kInvalidRequest
// (field "tests") for a file of any other shape.
Result<RunRequest> parseCliRequest(std::string_view code, std::string_view stdinData,
                                   std::optional<std::string_view> testsFile, const RequestLimits& limits);

// The JSON document the harness reads inside the sandbox: the code, the
// files, the observations the tests need (never their expected values) and
// the pytest test modules (see src/harness/PROTOCOL.md).
std::string buildHarnessInput(const RunRequest& request);

}  // namespace pyexec::protocol
