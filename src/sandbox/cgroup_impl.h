// Private to src/sandbox/cgroup*.cc and tests/unit/test_cgroup.cc: the helpers
// both backends share (small-file I/O, parsing, kill-until-empty, removal)
// and the backends' entry points behind CgroupManager::create.
//
// Fake trees: the unit tests run the backends against plain folders. A folder
// that is on neither cgroupfs is "fake"; there, missing control files are
// created on write and rmdir first deletes the regular files (on cgroupfs
// they are virtual and rmdir removes them). On a real cgroupfs a missing
// control file means the kernel lacks that feature, so it is never created.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sandbox/cgroup.h"

namespace pyexec::sandbox::cg {

// ---- small files -----------------------------------------------------------

Error sysError(std::string_view what, const std::string& path, int err);
// Whole file (cgroup files are small; capped at 4 MiB). Errors keep errno.
Result<std::string> readFile(const std::string& path);
// One write(2) of data, truncating. create: create the file when missing
// (fake trees only, see above).
Status writeFile(const std::string& path, std::string_view data, bool create);
std::string join(const std::string& dir, std::string_view name);
bool exists(const std::string& path);

// ---- parsing ---------------------------------------------------------------

std::optional<uint64_t> parseU64(std::string_view s);
// Value of `key` in "key value" lines (cpu.stat, memory.events, oom_control).
std::optional<uint64_t> keyedValue(std::string_view content, std::string_view key);
std::vector<pid_t> parsePids(std::string_view content);
std::vector<std::string> split(std::string_view s, char sep);

// One line "id:controllers:path" of /proc/self/cgroup.
struct OwnCgroup {
    std::string list;                      // "cpu,cpuacct"; empty for v2 ("0::/x")
    std::vector<std::string> controllers;  // list split by ','
    std::string path;                      // "/x"
};
Result<std::vector<OwnCgroup>> parseProcSelfCgroup(std::string_view content,
                                                   const std::string& source);

struct MountEntry {
    std::string root;        // the mounted cgroup, e.g. "/docker/abc" without a cgroupns
    std::string mountPoint;  // octal escapes decoded
    std::string fsType;      // "cgroup", "cgroup2", ...
    std::vector<std::string> superOptions;
};
std::vector<MountEntry> parseMountinfo(std::string_view content);

// ---- filesystems and directories ---------------------------------------------

enum class FsKind { kCgroup1, kCgroup2, kOther, kMissing };
FsKind fsKind(const std::string& path);
inline bool isFake(const std::string& path) {
    return fsKind(path) == FsKind::kOther;
}
// Names of the sub-directories of dir starting with prefix (sorted).
std::vector<std::string> childDirs(const std::string& dir, std::string_view prefix);
// rmdir, retried on EBUSY for about a second; ENOENT counts as done.
Status removeDir(const std::string& path, bool fake);
// SIGKILLs every pid listed in the procs files until all are empty; bounded
// to about 2 s. freezeFile (v2 without cgroup.kill): frozen while listing and
// signalling, so nothing forks in between; "" for none.
Status killUntilEmpty(const std::vector<std::string>& procsFiles, const std::string& freezeFile);
void sleepMs(int ms);
// When a run's swap limit file is missing (no swap accounting): fine where
// the host has no swap (/proc/meminfo SwapTotal is 0), else an error that
// says so: a run could then swap past its memory limit (fail closed).
// `meminfo`: the text of /proc/meminfo (tests); empty reads the real one.
Status requireNoSwap(const std::string& missingFile, const std::string& meminfo = {});

// "run-<name>" after checking name is one path component.
Result<std::string> runDirName(std::string_view name);

// ---- detection and backends ------------------------------------------------

struct DetectContext {
    CgroupOptions options;
    pid_t self = 0;
    std::vector<OwnCgroup> own;
    std::vector<MountEntry> mounts;  // empty when no mountinfo could be read
};
// Directory of ownPath in the hierarchy mounted at mountPoint, stripping the
// mount's root (a container without a cgroup namespace has its own cgroup
// mounted as the root of the hierarchy). Fails when that folder is missing.
Result<std::string> pathUnderMount(const DetectContext& ctx, const std::string& mountPoint,
                                   const std::string& ownPath);
const MountEntry* findMount(const DetectContext& ctx, const std::string& mountPoint);

struct V2Plan {
    std::string dir;  // P, pyexecd's cgroup
    bool fake = false;
};
struct V1Hierarchy {
    std::string controller;  // "memory", "pids", "cpu", "cpuacct"
    std::string ownDir;      // pyexecd's cgroup in that hierarchy
};
struct V1Plan {
    std::vector<V1Hierarchy> hierarchies;  // memory, pids, cpu, then cpuacct if separate
    bool fake = false;
};
// detect*: no side effect; the error says what is missing. setup*: prepares
// pyexecd's subtree (master).
Result<V2Plan> detectV2(const DetectContext& ctx);
Result<std::unique_ptr<CgroupManager>> setupV2(const V2Plan& plan);
Result<V1Plan> detectV1(const DetectContext& ctx);
Result<std::unique_ptr<CgroupManager>> setupV1(const V1Plan& plan, pid_t self);

// What the backends create, for tests that check it is all gone afterwards.
class RunCgroupBase : public RunCgroup {
public:
    virtual std::vector<std::string> dirs() const = 0;
};
class CgroupManagerBase : public CgroupManager {
public:
    virtual std::vector<std::string> subtreeDirs() const = 0;
};

}  // namespace pyexec::sandbox::cg
