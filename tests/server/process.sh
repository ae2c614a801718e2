# Sourced by the server scripts. free_port: a loopback port nothing listens on now.
# stop_pid_dir: stops the process whose pid is in DIR/pid (SIGTERM, then
# SIGKILL after 15 s) and waits until it is gone, so a restart on the same data can follow.
stop_pid_dir() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$dir/pid"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
