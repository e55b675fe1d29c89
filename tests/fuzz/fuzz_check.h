// Shared by the libFuzzer harnesses of tests/fuzz: an invariant check that
// stops the run with a message (libFuzzer then saves the input as a crash),
// and a heap meter that tells how many bytes a call had allocated at its peak.
#pragma once

#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "protocol/rapidjson_config.h"

// A broken invariant is a finding like a crash: print it and abort.
#define FUZZ_CHECK(cond, what)                                                          \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "\nINVARIANT BROKEN at %s:%d: %s\n  (%s)\n", __FILE__, \
                         __LINE__, what, #cond);                                        \
            std::abort();                                                               \
        }                                                                               \
    } while (0)

namespace fuzz {

inline std::string_view asText(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// No input may reach a RapidJSON assertion (rapidjson_config.h counts them).
inline void checkNoRapidjsonAssert() {
    FUZZ_CHECK(pyexec::protocol::detail::gRapidjsonAssertFailures == 0,
               "a RAPIDJSON_ASSERT fired on fuzzer input");
}

// Peak of the bytes allocated (and not yet freed) since start(), through the
// sanitizer allocator's hooks. One thread: the harnesses are single-threaded.
class HeapMeter {
public:
    static void install() {
        static bool done = false;
        if (!done) __sanitizer_install_malloc_and_free_hooks(onMalloc, onFree);
        done = true;
    }
    static void start() {
        live_ = 0;
        peak_ = 0;
        on_ = true;
    }
    static size_t stop() {
        on_ = false;
        return peak_;
    }

private:
    static void onMalloc(const volatile void*, size_t size) {
        if (!on_) return;
        live_ += static_cast<long long>(size);
        if (live_ > static_cast<long long>(peak_)) peak_ = static_cast<size_t>(live_);
    }
    static void onFree(const volatile void* p) {
        // Blocks allocated before start() and freed during the call make
        // live_ dip below zero; the peak is still an upper bound of growth.
        if (on_ && p != nullptr) live_ -= static_cast<long long>(__sanitizer_get_allocated_size(const_cast<const void*>(p)));
    }
    static inline bool on_ = false;
    static inline long long live_ = 0;
    static inline size_t peak_ = 0;
};

}  // namespace fuzz
