// Statistics as JSON documents and Prometheus text, from the pools' own counters, libmongoc's
// command monitoring, and the server's dbStats/collStats/listDatabases.
#pragma once

#include <cstddef>
#include <string>

namespace pm::core {

class Wrapper;

std::string general_stats_json(Wrapper &wrapper);
// Connects as needed (a cold wrapper included), bounded by the pool's timeouts.
std::string db_stats_json(Wrapper &wrapper, const std::string &db);
std::string list_databases_json(Wrapper &wrapper);
std::string usage_json(Wrapper &wrapper, size_t top_n);
std::string prometheus_text(Wrapper &wrapper);

}  // namespace pm::core
