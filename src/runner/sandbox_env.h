// The fixed environment of every run (SPEC §5): nothing of pyexecd's passes.
#pragma once

namespace pyexec::runner {

extern const char* const kSandboxEnv[];  // NULL-terminated

// Replaces this process's environment with kSandboxEnv (the warm zygote,
// before its interpreter reads os.environ).
void setSandboxEnvironment();

}  // namespace pyexec::runner
