#!/bin/sh
# Turns text files into a C++ header holding them, joined in the order given,
# as one string constant, so the harness travels inside the pyexecd binary
# (the sandbox cannot see our files). The constant views a string literal, so
# its data() is NUL-terminated.
# usage: embed.sh NAME FILE...
set -eu
name=$1
shift
printf '#pragma once\n// generated from %s by tools/embed.sh; do not edit\n' "$*"
printf '#include <string_view>\nnamespace pyexec::gen {\ninline constexpr std::string_view %s = R"PYEXEC_EMBED(' "$name"
cat "$@"
printf ')PYEXEC_EMBED";\n}\n'
