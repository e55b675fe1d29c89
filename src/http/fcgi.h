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
    double queuedMs = 0;       // time since nginx received it (REQUEST_START), 0 when unknown
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    bool omitBody = false;     // HEAD
};

class Server {
public:
    explicit Server(int listenFd);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    // Blocks for the next request; false when accept fails (e.g. interrupted
    // for shutdown). Reads at most maxBody bytes of body.
    bool accept(Request* request, size_t maxBody);
    // Sends the answer and finishes the request.
    void respond(const Response& response);

private:
    struct Impl;
    Impl* impl_;
};

// A fresh random request id (32 hex digits).
std::string newRequestId();

}  // namespace pyexec::http
