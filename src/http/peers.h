// Which FastCGI peers a worker talks to (SPEC §1: nginx is the only listener
// on the network). A unix socket is guarded by its file mode and group; over
// TCP, pyexecd itself refuses any peer that is not on its allow-list, before
// it reads a byte from it.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "common/result.h"

namespace pyexec::http {

class PeerList {
public:
    // "127.0.0.1, 10.0.0.0/8, ::1, fd00::/8": addresses or CIDR blocks, IPv4
    // or IPv6, separated by commas or spaces. Empty: loopback only
    // (127.0.0.0/8 and ::1). Errors (kConfig) name the entry at fault.
    static Result<PeerList> parse(const std::string& spec);
    // Whether a connection from `peer` may be served. AF_UNIX always may.
    // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as a.b.c.d.
    bool allows(const sockaddr_storage& peer) const;
    std::string describe() const;  // for the start-up log

private:
    struct Block {
        int family;             // AF_INET or AF_INET6
        unsigned char addr[16];
        int prefix;             // bits
        std::string text;
    };
    std::vector<Block> blocks_;
};

}  // namespace pyexec::http
