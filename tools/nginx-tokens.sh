#!/bin/sh
# Turns a file of bearer tokens (one a line; blank lines and lines starting
# with # ignored) into map entries for nginx/pyexec.conf's
# $pyexec_authorized, on stdout. Tokens are RFC 6750 token68 characters,
# at least 16 of them; the scheme `Bearer` is matched in any case.
# usage: nginx-tokens.sh TOKENS_FILE > /etc/nginx/pyexec-tokens.map
set -eu
file=$1
n=0
while IFS= read -r token || [ -n "$token" ]; do
  case $token in ''|'#'*) continue ;; esac
  if ! printf '%s' "$token" | grep -Eq '^[A-Za-z0-9._~+/-]{16,}=*$'; then
    echo "nginx-tokens.sh: $file: a token must be 16 or more of A-Z a-z 0-9 . _ ~ + / - (then = padding)" >&2
    exit 1
  fi
  # Regex metacharacters among those: . and +
  escaped=$(printf '%s' "$token" | sed -e 's/[.+]/\\&/g')
  printf '"~^(?i:bearer) +%s$" 1;\n' "$escaped"
  n=$((n + 1))
done < "$file"
if [ "$n" -eq 0 ]; then echo "nginx-tokens.sh: $file holds no token" >&2; exit 1; fi
