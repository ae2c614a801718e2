// What the benchmark programs share: failing with a message, reading "--key value" arguments,
// and what they ask of the OS about themselves (sockets to the server, memory).
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace bench {

// Prints "<program>: what" and exits with status 2.
[[noreturn]] inline void die(const std::string &what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(2);
}

// Walks the arguments one key at a time:
//   for (Args args(argc, argv); args.next();)
//     if (args.is("--uri")) uri = args.value(); else if (args.is("--seed")) seed = true; else args.unknown();
class Args {
 public:
  Args(int argc, char **argv) : argc_(argc), argv_(argv) {}
  bool next() { return ++i_ < argc_; }
  bool is(const char *key) const { return key_() == key; }
  std::string value() {  // the value after the current key
    if (i_ + 1 >= argc_) die("missing value for " + key_());
    return argv_[++i_];
  }
  int int_value() { return std::stoi(value()); }
  long long_value() { return std::stol(value()); }
  double double_value() { return std::stod(value()); }
  [[noreturn]] void unknown() const { die("unknown argument " + key_()); }

 private:
  std::string key_() const { return argv_[i_]; }
  int argc_;
  char **argv_;
  int i_ = 0;
};

// The port of a mongodb://host:port/ URI's (last) host; 27017 when it names none.
inline int port_of(const std::string &uri) {
  size_t hosts = uri.find("://");
  hosts = hosts == std::string::npos ? 0 : hosts + 3;
  size_t end = uri.find_first_of("/?", hosts);
  std::string list = uri.substr(hosts, end == std::string::npos ? std::string::npos : end - hosts);
  size_t colon = list.rfind(':');
  return colon == std::string::npos || list.back() == ']' ? 27017 : std::atoi(list.c_str() + colon + 1);
}

// This process's connected sockets whose peer port is `port`, asked of the OS: every open
// descriptor (from /proc/self/fd) that has a TCP peer, not any driver's bookkeeping.
inline int sockets_to_port(int port) {
  int n = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  while (dirent *e = readdir(dir)) {
    int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(dir)) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr *>(&peer), &len) != 0) continue;
    int p = -1;
    if (peer.ss_family == AF_INET) p = ntohs(reinterpret_cast<sockaddr_in *>(&peer)->sin_port);
    if (peer.ss_family == AF_INET6) p = ntohs(reinterpret_cast<sockaddr_in6 *>(&peer)->sin6_port);
    if (p == port) ++n;
  }
  closedir(dir);
  return n;
}

// Peak resident memory (VmHWM; not ru_maxrss, which counts a forked parent's memory from
// before exec), in MB; -1 when /proc does not say.
inline double peak_rss_mb() {
  FILE *f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  double mb = -1;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    long kb = 0;
    if (std::sscanf(line, "VmHWM: %ld kB", &kb) == 1) mb = static_cast<double>(kb) / 1024.0;
  }
  std::fclose(f);
  return mb;
}

}  // namespace bench
