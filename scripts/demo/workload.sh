#!/usr/bin/env bash
# The demo's sample workload, in four types. Arguments are passed to `secpolctl on`
# (for instance `--policy FILE` to run restricted). Needs BIN (the binaries), PRELOAD
# (libsecpol_preload.so) and DEMO (a scratch directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
on() { "$BIN/secpolctl" on "$@"; }

# 1. A service that attaches a channel (a Unix socket at a path)...
rm -f "$DEMO/svc/app.sock"
on "$@" -T svc_t -- python3 "$here/service.py" "$DEMO/svc/app.sock" &
svc=$!
for _ in $(seq 100); do [ -S "$DEMO/svc/app.sock" ] && break; sleep 0.05; done
# 2. ...and a client of another type that connects to it.
on "$@" -T client_t -- python3 "$here/client.py" "$DEMO/svc/app.sock"
wait $svc
# 3. A server on a privileged port.
on "$@" -T web_t -- python3 "$here/web.py" 80
# 4. A service that manages its own capabilities (like QNX's pps): keeps net_bind_service,
#    becomes nobody, drops the rest; the preload library reports what it asks.
on "$@" -T pps_t -- env LD_PRELOAD="$PRELOAD" "$DEMO/pps_like" net_bind_service
