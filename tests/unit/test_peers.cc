// Unit tests of src/http/peers.cc: the TCP peer allow-list of the FastCGI
// listener (issue 9: an idle stranger must not pin a worker).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "http/peers.h"

#include <CppUTest/TestHarness.h>

using namespace pyexec;
using pyexec::http::PeerList;

namespace {

sockaddr_storage peer(const char* text) {
    sockaddr_storage ss{};
    if (std::strchr(text, ':') != nullptr) {
        auto& a = reinterpret_cast<sockaddr_in6&>(ss);
        a.sin6_family = AF_INET6;
        CHECK_EQUAL(1, ::inet_pton(AF_INET6, text, &a.sin6_addr));
    } else {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        CHECK_EQUAL(1, ::inet_pton(AF_INET, text, &a.sin_addr));
    }
    return ss;
}

PeerList mustParse(const std::string& spec) {
    auto r = PeerList::parse(spec);
    if (!r.ok()) FAIL(r.error().message.c_str());
    return r.value();
}

}  // namespace

TEST_GROUP(Peers){};

TEST(Peers, DefaultIsLoopbackOnly) {
    PeerList p = mustParse("");
    CHECK_TRUE(p.allows(peer("127.0.0.1")));
    CHECK_TRUE(p.allows(peer("127.8.9.10")));
    CHECK_TRUE(p.allows(peer("::1")));
    CHECK_TRUE(p.allows(peer("::ffff:127.0.0.1")));  // v4-mapped
    CHECK_FALSE(p.allows(peer("10.0.0.1")));
    CHECK_FALSE(p.allows(peer("::2")));
    CHECK_FALSE(p.allows(peer("::ffff:10.0.0.1")));
}

TEST(Peers, UnixSocketsAreAlwaysServed) {
    sockaddr_storage ss{};
    ss.ss_family = AF_UNIX;
    CHECK_TRUE(mustParse("10.0.0.5").allows(ss));
}

TEST(Peers, AddressesAndBlocks) {
    PeerList p = mustParse("10.0.0.5, 192.168.0.0/16 fd00::/8\t172.16.0.0/12");
    CHECK_TRUE(p.allows(peer("10.0.0.5")));
    CHECK_FALSE(p.allows(peer("10.0.0.6")));
    CHECK_FALSE(p.allows(peer("127.0.0.1")));  // an explicit list replaces loopback
    CHECK_TRUE(p.allows(peer("192.168.200.1")));
    CHECK_FALSE(p.allows(peer("192.169.0.1")));
    CHECK_TRUE(p.allows(peer("172.31.255.255")));
    CHECK_FALSE(p.allows(peer("172.32.0.0")));
    CHECK_TRUE(p.allows(peer("fd12::1")));
    CHECK_FALSE(p.allows(peer("fe80::1")));
    STRCMP_EQUAL("10.0.0.5, 192.168.0.0/16, fd00::/8, 172.16.0.0/12", p.describe().c_str());
}

TEST(Peers, ZeroPrefixAllowsAllOfAFamily) {
    PeerList p = mustParse("0.0.0.0/0");
    CHECK_TRUE(p.allows(peer("8.8.8.8")));
    CHECK_FALSE(p.allows(peer("2001:db8::1")));
}

TEST(Peers, ErrorsNameTheEntry) {
    for (const char* bad : {"10.0.0.300", "10.0.0.0/33", "::1/129", "nginx.local", "10.0.0.0/", "10.0.0.0/x"}) {
        auto r = PeerList::parse(std::string("127.0.0.1, ") + bad);
        CHECK_FALSE(r.ok());
        CHECK_TEXT(r.error().message.find(bad) != std::string::npos, r.error().message.c_str());
        STRCMP_EQUAL("allow-from", r.error().field.c_str());
    }
}
