// FastCGI transport (the only place that includes fcgiapp.h): a listening
// socket whose mode lets only nginx's group connect, and a request/response
// pair for one worker handling one request at a time.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "http/peers.h"

namespace pyexec::http {

// Opens "PATH" (unix socket: mode 0660, group `group` when given, else 0600)
// or "HOST:PORT" (TCP). Master process, before workers fork.
Result<UniqueFd> listen(const std::string& spec, const std::string& group);

struct Request {
    std::string method;
    std::string path;          // without the query string
    std::string requestId;     // from nginx (REQUEST_ID), validated; generated when absent
    std::string body;
    bool bodyTooLarge = false;
    bool bodyIncomplete = false;  // the client stopped sending, or too slowly
    double queuedMs = 0;       // time since nginx received it (REQUEST_START), 0 when unknown
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool omitBody = false;     // HEAD
};

// What a worker accepts on its FastCGI socket.
struct ServerPolicy {
    PeerList peers;              // TCP peers served (AF_UNIX: the socket's mode decides)
    int readTimeoutMs = 10000;   // a request's head and body must arrive within this
};

class Server {
public:
    Server(int listenFd, ServerPolicy policy);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    // Accepts a connection waiting on the (non-blocking) listening socket and
    // reads its request; false when there is none (another worker took it),
    // on an interrupted or failed accept. Connections from peers the policy refuses are closed
    // unread; one whose head does not arrive in time is dropped. Reads at
    // most maxBody bytes of body: past it, bodyTooLarge and the rest is never
    // read (the connection closes with the answer); a body that stops
    // arriving before the deadline gives bodyIncomplete.
    bool accept(Request* request, size_t maxBody);
    // Sends the answer and finishes the request.
    void respond(const Response& response);

private:
    bool acceptConnection();
    struct Impl;
    Impl* impl_;
};

// A fresh random request id (32 hex digits).
std::string newRequestId();

}  // namespace pyexec::http
