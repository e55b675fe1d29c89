// Counters shared by the master and its workers through one anonymous
// MAP_SHARED page: how many workers exist and how many are busy (/health).
#pragma once

#include <atomic>

namespace pyexec::server {

inline constexpr int kMaxWorkers = 256;

struct SharedState {
    std::atomic<int> total{0};
    std::atomic<int> busy[kMaxWorkers];  // per slot, 0 or 1
    int busyCount() const {
        int n = 0;
        for (const auto& b : busy) n += b.load(std::memory_order_relaxed);
        return n;
    }
};

// Maps a zeroed SharedState visible to every process forked afterwards.
SharedState* mapSharedState();

}  // namespace pyexec::server
