#!/bin/sh
# Turns a text file into a C++ header holding it as a string constant, so the
# harness travels inside the pyexecd binary (the sandbox cannot see our files).
# The constant views a string literal, so its data() is NUL-terminated.
# usage: embed.sh FILE NAME
set -eu
printf '#pragma once\n// generated from %s by tools/embed.sh; do not edit\n' "$1"
printf '#include <string_view>\nnamespace pyexec::gen {\ninline constexpr std::string_view %s = R"PYEXEC_EMBED(' "$2"
cat "$1"
printf ')PYEXEC_EMBED";\n}\n'
