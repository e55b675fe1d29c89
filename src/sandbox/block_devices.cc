#include "sandbox/block_devices.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace pyexec::sandbox {
namespace {

std::string firstLine(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The whole disk of block device maj:min ("" when sysfs does not know it):
// /sys/dev/block/M:m is the disk's folder, or a partition's inside its disk's.
std::string wholeDisk(unsigned maj, unsigned min, const std::string& sysRoot) {
    std::string link = sysRoot + "/dev/block/" + std::to_string(maj) + ":" + std::to_string(min);
    char real[PATH_MAX];
    if (::realpath(link.c_str(), real) == nullptr) return {};
    std::string dir = real;
    if (exists(dir + "/partition")) dir = dir.substr(0, dir.rfind('/'));
    return firstLine(dir + "/dev");
}

// Disks with hardware behind them (virtio, SCSI, NVMe...), as "MAJ:MIN".
std::vector<std::string> hardwareDisks(const std::string& sysRoot) {
    std::vector<std::string> out;
    std::string dir = sysRoot + "/block";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return out;
    for (dirent* e; (e = ::readdir(d)) != nullptr;) {
        std::string name = e->d_name;
        if (name[0] == '.' || !exists(dir + "/" + name + "/device")) continue;
        std::string dev = firstLine(dir + "/" + name + "/dev");
        if (!dev.empty()) out.push_back(dev);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::vector<std::string> disksBacking(const std::vector<std::string>& paths, const std::string& sysRoot) {
    std::vector<std::string> out;
    auto add = [&out](const std::string& dev) {
        if (!dev.empty() && std::find(out.begin(), out.end(), dev) == out.end()) out.push_back(dev);
    };
    for (const std::string& path : paths) {
        struct stat st{};
        if (::stat(path.c_str(), &st) != 0) continue;
        std::string disk = wholeDisk(major(st.st_dev), minor(st.st_dev), sysRoot);
        if (!disk.empty()) {
            add(disk);
        } else {
            for (const std::string& d : hardwareDisks(sysRoot)) add(d);
        }
    }
    return out;
}

}  // namespace pyexec::sandbox
