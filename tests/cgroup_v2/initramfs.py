"""Builds the guest's initramfs: busybox-static, the modules that reach the
host's root over 9p and stack an overlay on it (with their dependencies, in
load order), and tests/cgroup_v2/init as /init.

    initramfs.py KERNEL_ROOT BUSYBOX INIT OUT.cpio.gz

KERNEL_ROOT is where the linux-image package was unpacked (its
lib/modules/<version>/). A module's dependencies are its .modinfo
"depends=" entry (what `modinfo -F depends` prints, read here directly so
that the host needs no kmod); they load first (virtio_ring before virtio)."""
import glob
import gzip
import os
import re
import sys

# What stage 1 needs: the PCI transport for virtio, 9p over virtio, overlay,
# and virtio-rng so that getrandom() does not wait for entropy in a guest.
WANTED = ["virtio_pci", "9pnet_virtio", "9p", "overlay", "virtio_rng"]


def module_files(kernel_root):
    found = {}
    for path in glob.glob(os.path.join(kernel_root, "lib/modules/*/kernel/**/*.ko"), recursive=True):
        found[os.path.basename(path)[:-3].replace("-", "_")] = path
    return found


def depends(path):
    with open(path, "rb") as f:
        m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", f.read())
    return [d.decode().replace("-", "_") for d in m.group(1).split(b",") if d] if m else []


def load_order(files, wanted):
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        if name not in files:
            sys.exit(f"initramfs: module {name} not found under the unpacked kernel")
        seen.add(name)
        for dep in depends(files[name]):
            visit(dep)
        order.append(name)

    for name in wanted:
        visit(name)
    return order


class Cpio:
    """A newc ("070701") archive, the format the kernel unpacks."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def add(self, name, mode, body=b""):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name_b), 0]
        self.ino += 1
        self.data += b"070701" + b"".join(b"%08X" % v for v in fields) + name_b
        self._pad()
        self.data += body
        self._pad()

    def _pad(self):
        self.data += b"\0" * (-len(self.data) % 4)

    def dir(self, name):
        self.add(name, 0o040755)

    def file(self, name, body, mode=0o644):
        self.add(name, 0o100000 | mode, body)

    def symlink(self, name, target):
        self.add(name, 0o120777, target.encode())

    def finish(self):
        self.add("TRAILER!!!", 0)
        return bytes(self.data)


def main():
    kernel_root, busybox, init, out = sys.argv[1:5]
    files = module_files(kernel_root)
    order = load_order(files, WANTED)
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "modules", "lower", "rw", "newroot"):
        c.dir(d)
    with open(busybox, "rb") as f:
        c.file("bin/busybox", f.read(), 0o755)
    c.symlink("bin/sh", "busybox")
    with open(init, "rb") as f:
        c.file("init", f.read(), 0o755)
    for name in order:
        with open(files[name], "rb") as f:
            c.file(f"modules/{name}.ko", f.read())
    c.file("modules/order", ("\n".join(order) + "\n").encode())
    with gzip.open(out + ".tmp", "wb", compresslevel=1) as f:
        f.write(c.finish())
    os.replace(out + ".tmp", out)
    print(f"initramfs: {out} with modules {' '.join(order)}")


if __name__ == "__main__":
    main()
