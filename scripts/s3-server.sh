#!/usr/bin/env bash
# A one-node Ceph cluster serving S3 (radosgw), in the foreground, all of its state in one folder.
#
#   scripts/s3-server.sh DIR            # S3 on S3_PORT (7480); Ctrl-C / SIGTERM stops every daemon
#
# One monitor, one OSD and radosgw, without cephx (nothing but 127.0.0.1 reaches the monitor and the OSD).
# Environment (all optional):
#   S3_PORT        radosgw's port (7480); S3_BIND its address (127.0.0.1; 0.0.0.0 in a container)
#   S3_MON_PORT    the monitor's port (3300); tests pick free ones so several clusters can run at once
#   S3_OBJECTSTORE memstore (default: in memory, fastest start, gone when stopped; what the tests use) or
#                  bluestore (a sparse file DIR/osd/block of S3_BLOCK_GB, 20; kept across restarts: Compose)
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY  the S3 user's keys (generated when unset)
# When S3 answers, DIR/s3.env holds the endpoint and the keys, and DIR/ready exists. Started again on the same
# DIR (bluestore), it reuses the cluster and its data. Needs the Debian packages ceph-mon, ceph-osd, radosgw.
set -euo pipefail
DIR=$(realpath -m "${1:?usage: s3-server.sh DIR}")
PORT=${S3_PORT:-7480}; BIND=${S3_BIND:-127.0.0.1}; MON_PORT=${S3_MON_PORT:-3300}
STORE=${S3_OBJECTSTORE:-memstore}
export CEPH_CONF=$DIR/ceph.conf
mkdir -p "$DIR"/{mon,osd,run,log}
rm -f "$DIR/ready"

new_cluster=0
if [[ $STORE == memstore || ! -f $DIR/mon/done ]]; then
  new_cluster=1
  rm -rf "${DIR:?}"/{mon,osd}/* "$DIR/ceph.conf"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat > "$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
ms bind msgr1 = false
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
run dir = $DIR/run
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
# one OSD: no replicas, few placement groups, no manager daemon to autoscale them
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
# a test cluster: propose map changes and create placement groups at once, not on the next 1-5 s tick
mon tick interval = 1
paxos propose interval = 0.05

[mon.a]
mon data = $DIR/mon
public addrv = [v2:127.0.0.1:$MON_PORT]

[osd.0]
osd data = $DIR/osd
osd objectstore = $STORE
memstore device bytes = 4294967296
bluestore block create = true
bluestore block size = $(( ${S3_BLOCK_GB:-20} * 1024 * 1024 * 1024 ))
osd memory target = 939524096
bluestore cache autotune = false
bluestore cache size = 134217728

[client.rgw.s3]
# tcp_nodelay: without it every small response waits ~40 ms for a delayed ACK
rgw frontends = beast endpoint=$BIND:$PORT tcp_nodelay=1
rgw dns name = localhost
ms mon client mode = crc
EOF
  monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon --id a --mkfs --monmap "$DIR/monmap"
fi

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT
trap 'exit 0' TERM INT

ceph-mon -f --id a & pids+=($!)
if (( new_cluster )); then
  timeout 30 ceph osd create >/dev/null
  ceph osd crush add osd.0 1 root=default >/dev/null
  ceph-osd --id 0 --mkfs 2>>"$DIR/log/mkfs.log"
  touch "$DIR/mon/done"
fi
ceph-osd -f --id 0 & pids+=($!)
radosgw -f -n client.rgw.s3 & pids+=($!)

# radosgw opens its port once it can serve (bash's /dev/tcp: the image has no curl)
host=${BIND/#0.0.0.0/127.0.0.1}
until (exec 3<>"/dev/tcp/$host/$PORT") 2>/dev/null; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "s3-server: a daemon exited; see $DIR/log" >&2; exit 1; }
  done
  (( SECONDS < 300 )) || { echo "s3-server: radosgw did not answer in 300 s; see $DIR/log" >&2; exit 1; }
  sleep 0.1
done

access=${AWS_ACCESS_KEY_ID:-$(head -c 15 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)}
secret=${AWS_SECRET_ACCESS_KEY:-$(head -c 30 /dev/urandom | base64 | tr -d '/+=\n')}
if ! radosgw-admin user info --uid s3 >/dev/null 2>&1; then
  radosgw-admin user create --uid s3 --display-name "S3 user" --access-key "$access" --secret-key "$secret" >/dev/null
elif [[ -n ${AWS_ACCESS_KEY_ID:-} ]]; then  # a restart given keys: make sure they work (idempotent)
  radosgw-admin key create --uid s3 --key-type s3 --access-key "$access" --secret-key "$secret" >/dev/null
else  # a restart without keys: those generated the first time
  access=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$DIR/s3.env")
  secret=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$DIR/s3.env")
fi
umask 077
printf 'S3_ENDPOINT_URL=http://%s:%s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\n' \
  "$host" "$PORT" "$access" "$secret" > "$DIR/s3.env"
touch "$DIR/ready"
echo "s3-server: S3 on http://$BIND:$PORT (keys in $DIR/s3.env)" >&2
wait -n
echo "s3-server: a daemon exited; see $DIR/log" >&2
exit 1
