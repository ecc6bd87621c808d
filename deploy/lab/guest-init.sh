#!/bin/sh
# /init of the lab guest (busybox sh, PID 1). Mounts the kernel filesystems, loads the
# virtio modules listed in /etc/lab-modules in order, then runs the command agent on
# the virtio-serial port named org.memcoord.lab.agent, restarting it if it ends.
# memcoord.no_balloon=1 on the kernel command line leaves out virtio_balloon: a guest
# that never reports balloon statistics (lab.sh up --no-balloon-driver).
# Everything it says goes to the console (ttyS0), which the host keeps in a file.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin

say() { echo "lab-init: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run

# init and the agent must never be what the OOM killer picks; the agent gives its
# commands a normal score again.
echo -1000 >/proc/self/oom_score_adj

name=lab-guest
no_balloon=0
# shellcheck disable=SC2013 # words, not lines
for arg in $(cat /proc/cmdline); do
  case $arg in
    memcoord.name=*) name=${arg#memcoord.name=} ;;
    memcoord.no_balloon=1) no_balloon=1 ;;
  esac
done
hostname "$name"
say "guest $name, kernel $(uname -r)"

# shellcheck disable=SC2013 # one module name per line, no spaces
for m in $(cat /etc/lab-modules); do
  if [ "$m" = virtio_balloon ] && [ $no_balloon = 1 ]; then
    say "virtio_balloon left out (memcoord.no_balloon=1)"
    continue
  fi
  insmod "/lib/modules/$m.ko" || say "insmod $m failed"
done
say "modules loaded: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"

port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
  for d in /sys/class/virtio-ports/vport*; do
    [ -r "$d/name" ] || continue
    if [ "$(cat "$d/name")" = org.memcoord.lab.agent ] && [ -c "/dev/${d##*/}" ]; then
      port=/dev/${d##*/}
    fi
  done
  [ -n "$port" ] || { sleep 0.1; i=$((i + 1)); }
done
if [ -z "$port" ]; then
  say "no virtio-serial port named org.memcoord.lab.agent; no agent"
  while :; do sleep 3600; done
fi

say "agent on $port"
echo "lab-init: ready"
while :; do
  /bin/lab-agent "$port"
  say "agent ended (rc $?), restarting"
  sleep 1
done
