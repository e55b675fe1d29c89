// Which disks a run can read from: the whole-disk block devices behind the
// folders its root binds (/usr, /etc, ...), for the per-run disk I/O limits
// (cgroup io.max on v2, blkio.throttle.* on v1; SPEC S10). Master, at start-up.
#pragma once

#include <string>
#include <vector>

namespace pyexec::sandbox {

// "MAJ:MIN" of each whole disk (a partition's parent; the kernel throttles
// whole disks only) holding one of `paths`, without duplicates. A path on a
// filesystem with no block device of its own (overlayfs, btrfs, 9p, NFS)
// stands for every disk of the host that has hardware behind it
// (/sys/block/<d>/device: no loop, ram or zram devices), since its data
// lives on one of them. sysRoot: "/sys" (tests point it at a fake tree).
std::vector<std::string> disksBacking(const std::vector<std::string>& paths, const std::string& sysRoot = "/sys");

}  // namespace pyexec::sandbox
