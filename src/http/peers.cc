#include "http/peers.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <cstring>

namespace pyexec::http {
namespace {

bool prefixMatches(const unsigned char* a, const unsigned char* b, int bits) {
    int whole = bits / 8, rest = bits % 8;
    if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
    if (rest == 0) return true;
    unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

std::vector<std::string> entries(const std::string& spec) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : spec + ",") {
        if (c == ',' || c == ' ' || c == '\t') {
            if (!cur.empty()) out.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    return out;
}

}  // namespace

Result<PeerList> PeerList::parse(const std::string& spec) {
    PeerList list;
    std::vector<std::string> items = entries(spec);
    if (items.empty()) items = {"127.0.0.0/8", "::1"};
    for (const std::string& item : items) {
        Block b{};
        b.text = item;
        std::string addr = item.substr(0, item.find('/'));
        b.family = addr.find(':') != std::string::npos ? AF_INET6 : AF_INET;
        int maxBits = b.family == AF_INET ? 32 : 128;
        b.prefix = maxBits;
        if (item.find('/') != std::string::npos) {
            std::string bits = item.substr(item.find('/') + 1);
            char* end = nullptr;
            long n = std::strtol(bits.c_str(), &end, 10);
            if (bits.empty() || *end != '\0' || n < 0 || n > maxBits) {
                return makeError(ErrorKind::kConfig, "--allow-from: bad prefix length in '" + item + "'", "allow-from");
            }
            b.prefix = static_cast<int>(n);
        }
        if (::inet_pton(b.family, addr.c_str(), b.addr) != 1) {
            return makeError(ErrorKind::kConfig, "--allow-from: '" + item + "' is not an IP address or CIDR block",
                             "allow-from");
        }
        list.blocks_.push_back(b);
    }
    return list;
}

bool PeerList::allows(const sockaddr_storage& peer) const {
    if (peer.ss_family == AF_UNIX) return true;
    int family = peer.ss_family;
    const unsigned char* addr = nullptr;
    if (family == AF_INET) {
        addr = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in&>(peer).sin_addr);
    } else if (family == AF_INET6) {
        const in6_addr& a6 = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
        addr = reinterpret_cast<const unsigned char*>(&a6);
        if (IN6_IS_ADDR_V4MAPPED(&a6)) family = AF_INET, addr += 12;
    } else {
        return false;
    }
    for (const Block& b : blocks_) {
        if (b.family == family && prefixMatches(addr, b.addr, b.prefix)) return true;
    }
    return false;
}

std::string PeerList::describe() const {
    std::string out;
    for (const Block& b : blocks_) out += (out.empty() ? "" : ", ") + b.text;
    return out;
}

}  // namespace pyexec::http
