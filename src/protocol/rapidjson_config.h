// The only way RapidJSON enters pyexec: every file of src/protocol includes
// this header instead of <rapidjson/...> so that RAPIDJSON_ASSERT is defined
// before RapidJSON sees it. By default RapidJSON asserts with assert(), which
// would abort a worker on a programming slip reachable from client input; here
// a failed assertion only increments a counter (tests check it stays at zero).
// Our code never relies on the assertions: it checks IsX()-style predicates
// before every access, and parses iteratively with a nesting cap.
#pragma once

#ifdef RAPIDJSON_RAPIDJSON_H_
#error "include protocol/rapidjson_config.h before any RapidJSON header"
#endif

namespace pyexec::protocol::detail {
// Failed RapidJSON assertions in this process; a worker serves one request at
// a time, so a plain counter is enough.
inline unsigned long gRapidjsonAssertFailures = 0;
}  // namespace pyexec::protocol::detail

#define RAPIDJSON_ASSERT(x)                                                               \
    (static_cast<bool>(x) ? static_cast<void>(0)                                          \
                          : static_cast<void>(++::pyexec::protocol::detail::gRapidjsonAssertFailures))

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
