#include "runner/sandbox_env.h"

#include <cstdlib>

namespace pyexec::runner {

const char* const kSandboxEnv[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8",
    "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1", "OPENBLAS_NUM_THREADS=1",
    "OMP_NUM_THREADS=1", "MPLBACKEND=Agg", nullptr,
};

void setSandboxEnvironment() {
    ::clearenv();
    for (const char* const* e = kSandboxEnv; *e != nullptr; ++e) ::putenv(const_cast<char*>(*e));
}

}  // namespace pyexec::runner
