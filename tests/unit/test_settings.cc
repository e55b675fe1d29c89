// Settings: SPEC's defaults, options, the config file, and errors that name
// the option at fault.
#include <CppUTest/TestHarness.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "server/settings.h"

using pyexec::server::parseSettings;
using pyexec::server::Settings;

namespace {

std::string writeTemp(const std::string& text) {
    char path[] = "/tmp/pyexec-settings-XXXXXX";
    int fd = ::mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQUAL(static_cast<ssize_t>(text.size()), ::write(fd, text.data(), text.size()));
    ::close(fd);
    return path;
}

void expectError(const std::vector<std::string>& args, const std::string& needle) {
    auto s = parseSettings(args);
    CHECK_FALSE(s.ok());
    CHECK_TEXT(s.error().message.find(needle) != std::string::npos, s.error().message.c_str());
}

}  // namespace

TEST_GROUP(Settings){};

TEST(Settings, DefaultsAreSpecs) {
    auto s = parseSettings({});
    CHECK(s.ok());
    const Settings& v = s.value();
    CHECK_EQUAL(2000, v.timeoutMs);
    CHECK_EQUAL(10000, v.maxTimeoutMs);
    DOUBLES_EQUAL(0.5, v.cpus, 1e-9);
    CHECK_EQUAL(268435456u, v.memoryBytes);
    CHECK_EQUAL(50, v.pidsMax);
    CHECK_EQUAL(67108864u, v.tmpBytes);
    CHECK_EQUAL(60000u, v.uid);  // isolate's range, one per worker slot
    CHECK_EQUAL(60000u, v.gid);
    CHECK_FALSE(v.allowHostUids);
    CHECK_EQUAL(100u << 20, v.ioReadBps);
    CHECK_EQUAL(2000u, v.ioReadIops);
    CHECK_EQUAL(16u << 20, v.ioWriteBps);
    CHECK_EQUAL(500u, v.ioWriteIops);
    STRCMP_EQUAL("/usr/bin/python3", v.python.c_str());
    STRCMP_EQUAL("warm", v.mode.c_str());
    STRCMP_EQUAL("per-run", v.netns.c_str());
    CHECK_EQUAL(2 * static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)), v.workers);
    CHECK(v.seccompProfile.find("python.json") != std::string::npos);
}

TEST(Settings, WorkersAreClampedToTheSharedTable) {
    auto s = parseSettings({"--workers", "257"});
    CHECK_FALSE(s.ok());
    CHECK(s.error().message.find("--workers") != std::string::npos);
    CHECK(parseSettings({"--workers", "256"}).ok());
}

TEST(Settings, UidRangeMustFit) {
    auto s = parseSettings({"--uid", "4294967290", "--workers", "8"});
    CHECK_FALSE(s.ok());
    CHECK(s.error().message.find("--uid") != std::string::npos);
    CHECK(parseSettings({"--uid", "4294967280", "--workers", "8"}).ok());
}

TEST(Settings, AllowHostUidsIsYesOrNo) {
    CHECK(parseSettings({"--allow-host-uids", "yes"}).value().allowHostUids);
    CHECK_FALSE(parseSettings({"--allow-host-uids", "no"}).value().allowHostUids);
    auto s = parseSettings({"--allow-host-uids", "maybe"});
    CHECK_FALSE(s.ok());
    CHECK(s.error().message.find("--allow-host-uids") != std::string::npos);
}

TEST(Settings, OptionsInBothSpellings) {
    auto s = parseSettings({"--workers", "3", "--timeout-ms=1500", "--cpus", "0.25", "--mode", "cold"});
    CHECK(s.ok());
    CHECK_EQUAL(3, s.value().workers);
    CHECK_EQUAL(1500, s.value().timeoutMs);
    DOUBLES_EQUAL(0.25, s.value().cpus, 1e-9);
    STRCMP_EQUAL("cold", s.value().mode.c_str());
}

TEST(Settings, ConfigFileAndCommandLineWins) {
    std::string path = writeTemp("# pyexec\n pids-max = 20 \ntimeout-ms=3000  # longer\n\nuid = 2000\n");
    auto s = parseSettings({"--config", path, "--uid", "3000"});
    ::unlink(path.c_str());
    CHECK(s.ok());
    CHECK_EQUAL(20, s.value().pidsMax);
    CHECK_EQUAL(3000, s.value().timeoutMs);
    CHECK_EQUAL(3000u, s.value().uid);
}

TEST(Settings, ConfigFileErrorsNameTheLine) {
    std::string path = writeTemp("workers = 2\nthis is not an option\n");
    auto s = parseSettings({"--config", path});
    ::unlink(path.c_str());
    CHECK_FALSE(s.ok());
    CHECK_TEXT(s.error().message.find(path + ":2") != std::string::npos, s.error().message.c_str());
    expectError({"--config", "/nonexistent/pyexec.conf"}, "cannot read config file");
}

TEST(Settings, ErrorsNameTheOption) {
    expectError({"--uid", "0"}, "--uid");
    expectError({"--gid", "0"}, "--gid");
    expectError({"--workers", "0"}, "--workers");
    expectError({"--cpus", "lots"}, "--cpus");
    expectError({"--timeout-ms", "20000"}, "--timeout-ms must not exceed --max-timeout-ms");
    expectError({"--bogus", "1"}, "unknown option --bogus");
    expectError({"--workers"}, "needs a value");
    expectError({"serve"}, "unexpected argument");
    expectError({"--mode", "lukewarm"}, "--mode must be warm or cold");
    expectError({"--netns", "host"}, "--netns must be shared or per-run");
    expectError({"--cgroup", "v3"}, "--cgroup must be v1 or v2");
}
