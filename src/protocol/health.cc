// /health (SPEC §6): reading the probe run's versions, and the body. Runs in
// a worker.
#include <string>

#include "protocol/json_value.h"
#include "protocol/response.h"
#include "protocol/text.h"

namespace pyexec::protocol {
namespace {

// The trimmed, non-empty string member `key` of `probe`.
bool readVersion(const JsonValue& probe, std::string_view key, std::string* out) {
    const JsonValue* v = probe.find(key);
    if (v == nullptr || !v->isString()) return false;
    std::string_view trimmed = trimAscii(v->text);
    if (trimmed.empty()) return false;
    *out = std::string(trimmed);
    return true;
}

// The last non-blank line of `text` (a package may print a notice first).
std::string_view lastLine(std::string_view text) {
    text = trimAscii(text);
    size_t nl = text.rfind('\n');
    return nl == std::string_view::npos ? text : trimAscii(text.substr(nl + 1));
}

bool readProbe(std::string_view text, ProbeVersions* out) {
    Result<JsonValue> probe = parseJson(trimAscii(text), 4);
    if (!probe || !probe.value().isObject()) return false;
    ProbeVersions v;
    const JsonValue& p = probe.value();
    if (!readVersion(p, "python", &v.python) || !readVersion(p, "numpy", &v.numpy) ||
        !readVersion(p, "pandas", &v.pandas) || !readVersion(p, "matplotlib", &v.matplotlib) ||
        !readVersion(p, "pytest", &v.pytest)) {
        return false;
    }
    *out = std::move(v);
    return true;
}

void writeVersion(JsonWriter& w, std::string_view key, const std::string& version) {
    w.key(key);
    if (version.empty()) {
        w.null();
    } else {
        w.string(version);
    }
}

void writeSandboxAndLimits(JsonWriter& w, const HealthInfo& info) {
    w.key("sandbox").beginObject();
    w.key("mode").string(info.sandboxMode).key("cgroup").string(info.cgroup);
    w.key("seccompProfile").string(info.seccompProfile).key("uid").unsignedInteger(info.uid);
    w.key("gid").unsignedInteger(info.gid);
    // One uid and gid per worker slot, first and last.
    unsigned last = info.idCount > 0 ? info.idCount - 1 : 0;
    w.key("uidRange").beginArray().unsignedInteger(info.uid).unsignedInteger(info.uid + last).endArray();
    w.key("gidRange").beginArray().unsignedInteger(info.gid).unsignedInteger(info.gid + last).endArray();
    w.key("network").string(info.network);
    w.endObject();
    w.key("limits").beginObject();
    w.key("timeoutMs").integer(info.timeoutMs).key("maxTimeoutMs").integer(info.maxTimeoutMs);
    w.key("cpus").number(info.cpus).key("memoryBytes").unsignedInteger(info.memoryBytes);
    w.key("pidsMax").integer(info.pidsMax).key("outputBytes").unsignedInteger(info.outputBytes);
    w.key("codeBytes").unsignedInteger(info.codeBytes).key("stdinBytes").unsignedInteger(info.stdinBytes);
    w.key("tmpBytes").unsignedInteger(info.tmpBytes);
    // Disk I/O per run; null where it is not limited (no limit set, or no
    // io/blkio controller on this host).
    const std::pair<const char*, uint64_t> io[] = {{"ioReadBps", info.ioReadBps}, {"ioReadIops", info.ioReadIops},
                                                   {"ioWriteBps", info.ioWriteBps}, {"ioWriteIops", info.ioWriteIops}};
    for (const auto& [key, value] : io) {
        w.key(key);
        if (info.ioLimited && value != 0) {
            w.unsignedInteger(value);
        } else {
            w.null();
        }
    }
    w.endObject();
}

}  // namespace

bool parseHealthProbe(std::string_view probeStdout, ProbeVersions* out) {
    return readProbe(probeStdout, out) || readProbe(lastLine(probeStdout), out);
}

std::string buildHealthBody(const HealthInfo& info, std::string_view requestId) {
    JsonWriter w;
    w.beginObject().key("status").string(info.healthy ? "healthy" : "unhealthy");
    w.key("service").string("pyexecd").key("version").string(info.version);
    w.key("schemaVersion").string(info.schemaVersion);
    writeVersion(w, "python", info.versions.python);
    w.key("pythonExecutable").string(info.pythonExecutable);
    w.key("packages").beginObject();
    writeVersion(w, "numpy", info.versions.numpy);
    writeVersion(w, "pandas", info.versions.pandas);
    writeVersion(w, "matplotlib", info.versions.matplotlib);
    writeVersion(w, "pytest", info.versions.pytest);
    w.endObject();
    w.key("healthCheckMs").fixed1(info.healthCheckMs);
    writeSandboxAndLimits(w, info);
    w.key("workers").beginObject();
    w.key("total").integer(info.workersTotal).key("busy").integer(info.workersBusy).endObject();
    if (!info.healthy) {
        w.key("checks").beginObject();
        for (const auto& [name, problem] : info.checks) w.key(name).string(problem);
        w.endObject();
    }
    w.key("requestId").string(requestId).endObject();
    return w.str();
}

}  // namespace pyexec::protocol
