#!/usr/bin/env bash
# Throwaway single-node Ceph RADOS Gateway (S3) on 127.0.0.1 for tests, from Debian's
# ceph-mon/ceph-osd/radosgw packages: one mon, one in-RAM (memstore) OSD, no mgr, no auth.
# The gateway answers plain HTTP on RGW_PORT and HTTPS on RGW_TLS_PORT, with a
# certificate for 127.0.0.1 signed by a throwaway CA (made by openssl, under $RGW_DIR).
#   scripts/rgw.sh start    # prints `export TEST_S3_...` lines on stdout; progress on stderr
#   scripts/rgw.sh stop     # idempotent
#   scripts/rgw.sh status   # exit 0 if the gateway answers HTTP
set -Eeuo pipefail # -E: the ERR trap in start also covers its helpers

DIR=${RGW_DIR:-/tmp/replay-gate-rgw}
PORT=${RGW_PORT:-7480}
TLS_PORT=${RGW_TLS_PORT:-7443}
MON_PORT=${RGW_MON_PORT:-3300}
ACCESS_KEY=${RGW_ACCESS_KEY:-replaygate}
SECRET_KEY=${RGW_SECRET_KEY:-replaygate-secret}
TIMEOUT=${RGW_TIMEOUT:-60}
URL=http://127.0.0.1:$PORT
TLS_URL=https://127.0.0.1:$TLS_PORT
CONF=$DIR/ceph.conf
export CEPH_CONF=$CONF # keep every ceph tool away from /etc/ceph

log() { echo "rgw.sh: $*" >&2; }
# Without a mgr some `ceph` commands wait forever; bound each one.
cephc() { timeout 10 ceph -c "$CONF" "$@" </dev/null; }
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/" 2>/dev/null || true; }
answers() { local c; c=$(http_code); [[ -n $c && $c != 000 ]]; }
tls_answers() { local c; c=$(curl -s -o /dev/null -m 2 -w '%{http_code}' --cacert "$DIR/tls/ca.pem" "$TLS_URL/" 2>/dev/null || true); [[ -n $c && $c != 000 ]]; }

# A CA of this run's own and a certificate for 127.0.0.1 signed by it (Node
# checks the IP address against the certificate's subjectAltName).
make_certificate() {
  mkdir -p "$DIR/tls"
  (
    cd "$DIR/tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
      -subj /CN=rgw.sh-test-ca -keyout ca.key -out ca.pem
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
      -keyout rgw.key -out rgw.csr
    printf 'subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n' >rgw.ext
    openssl x509 -req -in rgw.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 -extfile rgw.ext -out rgw.pem
  ) >"$DIR/log/openssl.out" 2>&1
}

# Pids recorded at spawn time (ceph's own `pid file` disappears when a daemon exits cleanly).
alive_pids() {
  local f pid st comm
  for f in "$DIR"/pids/*.pid; do
    [[ -f $f ]] || continue
    pid=$(<"$f")
    read -r st comm < <(ps -o stat=,comm= -p "$pid" 2>/dev/null || true) || continue
    # Only live daemons of ours: skip zombies, and never kill a recycled pid.
    if [[ $st != Z* && $comm =~ ^(ceph-mon|ceph-osd|radosgw)$ ]]; then echo "$pid"; fi
  done
}

stop() {
  local pids i
  pids=$(alive_pids)
  if [[ -n $pids ]]; then
    # SIGKILL: all state is in RAM or in $DIR, about to be wiped; a polite SIGTERM
    # only costs 2-7 s (the OSD waits for the mon to ack its shutdown).
    log "stopping $(echo $pids)"
    kill -KILL $pids 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do # wait up to 10 s for them to be gone
      [[ -z $(alive_pids) ]] && break
      sleep 0.1
    done
    [[ -z $(alive_pids) ]] || { log "daemons still alive: $(echo $(alive_pids))"; return 1; }
  fi
  # Guard against RGW_DIR pointing somewhere that is not ours.
  if [[ -d $DIR ]]; then
    if [[ -f $DIR/ceph.conf || -z $(ls -A "$DIR") ]]; then rm -rf "$DIR"
    else log "not removing $DIR: it does not look like an rgw.sh state folder"; return 1; fi
  fi
}

fail() {
  [[ $BASHPID == "$$" ]] || exit 1 # in a $(...) subshell: let the main shell report
  trap - ERR INT TERM
  log "FAILED: $*"
  local f
  for f in "$DIR"/log/*; do [[ -s $f ]] && { echo "----- tail $f" >&2; tail -n 15 "$f" >&2; }; done
  stop || true
  exit 1
}

# wait_for WHAT CMD...: poll until CMD succeeds or the overall deadline passes.
wait_for() {
  local what=$1; shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < DEADLINE)) || fail "timed out waiting for $what"
    (($(alive_pids | wc -l) == $(ls "$DIR/pids" | wc -l))) || fail "a daemon died while waiting for $what"
    sleep 0.5
  done
  log "$what: ok (${SECONDS}s)"
}

# Daemons run in the foreground (-f) in their own session so they survive this shell.
spawn() {
  local name=$1; shift
  # 3>&-: a daemon holding the export-lines fd would make `$(rgw.sh start)` wait forever.
  setsid "$@" -f -c "$CONF" >"$DIR/log/$name.out" 2>&1 </dev/null 3>&- &
  local pid=$! i
  echo $pid >"$DIR/pids/$name.pid"
  disown $pid # no "Killed" job notices when fail() stops them
  # Until setsid has exec'd the daemon, the pid's name is not the daemon's, and alive_pids
  # would count it as dead (seen on a loaded machine): wait for the exec, up to 10 s.
  for ((i = 0; i < 200; i++)); do
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$1" ]] && break
    sleep 0.05
  done
}

osd_up() { cephc osd stat | grep -q ' 1 up'; }

start() {
  exec 3>&1 1>&2 # stdout is only for the export lines
  [[ -z $(alive_pids 2>/dev/null) ]] || { log "already running under $DIR; run '$0 stop' first"; exit 1; }
  answers && { log "something already answers on $URL"; exit 1; }
  stop # wipe leftovers of a previous run
  SECONDS=0 DEADLINE=$TIMEOUT
  trap 'fail "unexpected error (line $LINENO)"' ERR
  trap 'fail "interrupted"' INT TERM
  mkdir -p "$DIR"/{run,log,pids,mon.a,osd.0,rgw,crash}
  local fsid osd_uuid
  fsid=$(</proc/sys/kernel/random/uuid)
  osd_uuid=$(</proc/sys/kernel/random/uuid)
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
# Tests only: no cephx (ceph-mon --mkfs still wants a mon. keyring, made below).
auth cluster required = none
auth service required = none
auth client required = none
# Everything under \$DIR, nothing in /etc/ceph, /var/lib/ceph or /var/log/ceph.
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
keyring = $DIR/keyring
mon data = $DIR/mon.\$id
osd data = $DIR/osd.\$id
rgw data = $DIR/rgw
# One OSD keeping objects in RAM (lazily: device bytes is a cap, not a reservation).
osd objectstore = memstore
memstore device bytes = 2147483648
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
# Commit mon map changes every 0.1 s instead of 1 s: rgw makes ~10 of them at first start.
paxos propose interval = 0.1

[client.rgw.gw]
# radosgw defaults to a "secure" mon connection, which needs cephx; allow crc.
ms mon client mode = crc secure
# Loopback only (a bare port= binds every interface). No rgw dns name: path-style.
# tcp_nodelay: beast writes a small object's headers and body apart, and with
# Nagle on, the body then waits for the client's delayed ACK (40 ms on Linux):
# a 1 KiB GET took 22 ms, through the service 44 ms, against 1.5 and 2 ms with it.
# ssl_endpoint: the same gateway over TLS (beast's own, OpenSSL), for the https: runs.
rgw frontends = beast endpoint=127.0.0.1:$PORT ssl_endpoint=127.0.0.1:$TLS_PORT ssl_certificate=$DIR/tls/rgw.pem ssl_private_key=$DIR/tls/rgw.key tcp_nodelay=1
rgw enable usage log = false
# A deleted object's data (past its first 4 MiB) waits for rgw's garbage
# collector, by default for two hours: in a 2 GiB in-RAM store, a few bench
# runs of 250 MiB each then fill the OSD and every write hangs. Reclaim it
# within seconds instead.
rgw gc obj min wait = 0
rgw gc processor period = 5
rgw gc processor max time = 5
EOF

  make_certificate

  log "mon"
  ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring"
  spawn mon.a ceph-mon -i a
  wait_for "mon" timeout 5 ceph -c "$CONF" mon stat

  log "osd"
  local id
  id=$(cephc osd new "$osd_uuid")
  timeout 20 ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$osd_uuid" >"$DIR/log/osd-mkfs.out" 2>&1
  spawn "osd.$id" ceph-osd -i "$id"
  wait_for "osd up" osd_up

  log "radosgw"
  spawn rgw.gw radosgw -n client.rgw.gw
  wait_for "S3 on $URL" answers
  wait_for "S3 on $TLS_URL" tls_answers

  timeout 20 radosgw-admin -c "$CONF" user create --uid=replaygate --display-name=replay-gate \
    --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >"$DIR/log/user-create.out" 2>&1
  trap - ERR INT TERM
  log "ready in ${SECONDS}s"
  printf 'export TEST_S3_ENDPOINT=%q\n' "$URL" >&3
  printf 'export TEST_S3_REGION=%q\n' us-east-1 >&3
  printf 'export TEST_S3_ACCESS_KEY_ID=%q\n' "$ACCESS_KEY" >&3
  printf 'export TEST_S3_SECRET_ACCESS_KEY=%q\n' "$SECRET_KEY" >&3
  # The same gateway over TLS and the CA that signed its certificate: the
  # suite runs over TLS with TEST_S3_ENDPOINT=$TEST_S3_TLS_ENDPOINT and
  # NODE_EXTRA_CA_CERTS=$TEST_S3_CA_FILE (.ci/run); the stream bench reads both.
  printf 'export TEST_S3_TLS_ENDPOINT=%q\n' "$TLS_URL" >&3
  printf 'export TEST_S3_CA_FILE=%q\n' "$DIR/tls/ca.pem" >&3
  # What the service itself (npm start, bucket:setup) needs to use this gateway, for a
  # shell or a .env; not exported, so that they never reach the tests' processes.
  {
    echo "# replay-gate's settings for this gateway (a bucket of your choice, made by npm run bucket:setup):"
    echo "#   S3_ENDPOINT=$URL S3_REGION=us-east-1 S3_FORCE_PATH_STYLE=true S3_BUCKET=replays"
    echo "#   AWS_ACCESS_KEY_ID=$ACCESS_KEY AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
  } >&3
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status  (env: RGW_DIR RGW_PORT RGW_TLS_PORT RGW_MON_PORT RGW_ACCESS_KEY RGW_SECRET_KEY RGW_TIMEOUT)" >&2; exit 2 ;;
esac
